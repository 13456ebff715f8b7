// The resources of one VM on one host, moved through the contract's steps together: a step either
// succeeds for every resource or is undone for the ones it reached, and its error names the
// resource, the driver, the host and the step.
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/resources/resource_driver.h"
#include "engine/resources/resource_registry.h"

namespace ferry {

class ResourceSet {
 public:
  ResourceSet() = default;  // no resources (a registry is only needed when there are some)
  ResourceSet(std::shared_ptr<const ResourceRegistry> registry, ResourceContext context);

  // The "resources" array of a VM description (absent = none); ids must be unique and every
  // driver registered here.
  Result<std::vector<ResourceSpec>> parse(const nlohmann::json& vm_spec) const;

  // Source: {"<id>": facts} for every binding.
  Result<nlohmann::json> inspect() const;
  // Destination (facts from the OFFER) or a host starting a VM itself (facts null). All or
  // nothing: a failure rolls back what was prepared.
  Result<void> prepare(const std::vector<ResourceSpec>& specs, const nlohmann::json& facts);
  // All or nothing: a failure deactivates what was activated.
  Result<void> activate();
  // Every resource is attempted; the first error is returned.
  Result<void> deactivate();
  // Best effort, every resource, errors logged: when the guest stops here, or instead of rollback.
  void release();
  // The same after a committed migration: the resources live on the destination now
  // (ResourceContext::moved_away).
  void release_moved_away();
  // Undoes prepare (deactivating first what is active), in reverse order.
  void rollback();

  bool empty() const { return bindings_.empty(); }
  const std::vector<ResourceBinding>& bindings() const { return bindings_; }
  // {"<id>": attach} for the guest's launcher.
  nlohmann::json attachments() const;
  // The resources' descriptions (ResourceSpec::params), as a VM description lists them.
  nlohmann::json specs() const;
  // Bindings as JSON, for `describe` and for handing a set over to another owner.
  nlohmann::json to_json() const;

 private:
  Error step_error(const ResourceSpec& spec, std::string_view step, const Error& error) const;
  void release_with(const ResourceContext& context);
  Result<std::shared_ptr<ResourceDriver>> driver_for(const ResourceSpec& spec) const;

  std::shared_ptr<const ResourceRegistry> registry_;
  ResourceContext context_;
  std::vector<ResourceBinding> bindings_;
};

}  // namespace ferry
