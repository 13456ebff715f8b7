#include "engine/resources/resource_set.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <set>

namespace ferry {

ResourceSet::ResourceSet(std::shared_ptr<const ResourceRegistry> registry, ResourceContext context)
    : registry_(std::move(registry)), context_(std::move(context)) {}

Error ResourceSet::step_error(const ResourceSpec& spec, std::string_view step,
                              const Error& error) const {
  return Error(error.code(), fmt::format("resource {} ({}) on host {}: {}: {}", spec.id,
                                         spec.driver, context_.host, step, error.message()));
}

Result<std::shared_ptr<ResourceDriver>> ResourceSet::driver_for(const ResourceSpec& spec) const {
  if (!registry_)
    return Error(Errc::not_found, fmt::format("resource {}: no resource drivers on host {}",
                                              spec.id, context_.host));
  auto driver = registry_->find(spec.driver);
  if (!driver) return step_error(spec, "driver", driver.error());
  return driver.value();
}

Result<std::vector<ResourceSpec>> ResourceSet::parse(const nlohmann::json& vm_spec) const {
  std::vector<ResourceSpec> specs;
  if (!vm_spec.is_object() || !vm_spec.contains("resources")) return specs;
  const auto& list = vm_spec.at("resources");
  if (!list.is_array())
    return Error(Errc::invalid_argument, "VM description: \"resources\" must be an array");
  std::set<std::string> ids;
  for (const auto& entry : list) {
    auto spec = ResourceSpec::from_json(entry);
    if (!spec) return std::move(spec).error();
    if (!ids.insert(spec.value().id).second)
      return Error(Errc::invalid_argument,
                   fmt::format("VM description: resource id \"{}\" used twice", spec.value().id));
    auto driver = driver_for(spec.value());
    if (!driver) return std::move(driver).error();
    specs.push_back(std::move(spec).value());
  }
  return specs;
}

Result<nlohmann::json> ResourceSet::inspect() const {
  nlohmann::json facts = nlohmann::json::object();
  for (const auto& binding : bindings_) {
    auto driver = driver_for(binding.spec);
    if (!driver) return std::move(driver).error();
    auto result = driver.value()->inspect(binding, context_);
    if (!result) return step_error(binding.spec, "inspect", result.error());
    facts[binding.spec.id] = std::move(result).value();
  }
  return facts;
}

Result<void> ResourceSet::prepare(const std::vector<ResourceSpec>& specs,
                                  const nlohmann::json& facts) {
  for (const auto& spec : specs) {
    auto driver = driver_for(spec);
    if (!driver) {
      rollback();
      return std::move(driver).error();
    }
    nlohmann::json source_facts;
    if (facts.is_object() && facts.contains(spec.id)) source_facts = facts.at(spec.id);
    if (!facts.is_null() && source_facts.is_null()) {
      rollback();
      return step_error(spec, "prepare",
                        Error(Errc::protocol, "the source sent no facts for this resource"));
    }
    auto binding = driver.value()->prepare(spec, source_facts, context_);
    if (!binding) {
      Error error = step_error(spec, "prepare", binding.error());
      rollback();
      return error;
    }
    binding.value().spec = spec;
    binding.value().active = false;
    bindings_.push_back(std::move(binding).value());
  }
  return {};
}

Result<void> ResourceSet::activate() {
  for (size_t i = 0; i < bindings_.size(); ++i) {
    auto& binding = bindings_[i];
    if (binding.active) continue;
    auto driver = driver_for(binding.spec);
    Result<void> result = driver ? driver.value()->activate(binding, context_)
                                 : Result<void>(std::move(driver).error());
    if (!result) {
      Error error = step_error(binding.spec, "activate", result.error());
      // Never leave a half-owned VM: give back what this call took.
      for (size_t j = 0; j < i; ++j) {
        auto& taken = bindings_[j];
        auto taken_driver = driver_for(taken.spec);
        if (!taken_driver) continue;
        if (auto undo = taken_driver.value()->deactivate(taken, context_); !undo)
          spdlog::error("{}", step_error(taken.spec, "deactivate", undo.error()).message());
        else
          taken.active = false;
      }
      return error;
    }
    binding.active = true;
  }
  return {};
}

Result<void> ResourceSet::deactivate() {
  std::optional<Error> first;
  for (auto& binding : bindings_) {
    auto driver = driver_for(binding.spec);
    Result<void> result = driver ? driver.value()->deactivate(binding, context_)
                                 : Result<void>(std::move(driver).error());
    if (!result) {
      Error error = step_error(binding.spec, "deactivate", result.error());
      spdlog::error("{}", error.message());
      if (!first) first = std::move(error);
      continue;
    }
    binding.active = false;
  }
  if (first) return std::move(*first);
  return {};
}

void ResourceSet::release() {
  release_with(context_);
}

void ResourceSet::release_moved_away() {
  ResourceContext moved = context_;
  moved.moved_away = true;
  release_with(moved);
}

void ResourceSet::release_with(const ResourceContext& context) {
  for (auto& binding : bindings_) {
    auto driver = driver_for(binding.spec);
    if (!driver) continue;
    if (auto result = driver.value()->release(binding, context); !result)
      spdlog::error("{}", step_error(binding.spec, "release", result.error()).message());
  }
  bindings_.clear();
}

void ResourceSet::rollback() {
  // Undo in reverse order of prepare; an active binding gives up ownership first, so drivers'
  // rollback only ever undoes a prepare.
  for (auto it = bindings_.rbegin(); it != bindings_.rend(); ++it) {
    auto driver = driver_for(it->spec);
    if (!driver) continue;
    if (it->active) {
      if (auto result = driver.value()->deactivate(*it, context_); !result)
        spdlog::error("{}", step_error(it->spec, "deactivate", result.error()).message());
      it->active = false;
    }
    if (auto result = driver.value()->rollback(*it, context_); !result)
      spdlog::error("{}", step_error(it->spec, "rollback", result.error()).message());
  }
  bindings_.clear();
}

nlohmann::json ResourceSet::attachments() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& binding : bindings_) out[binding.spec.id] = binding.attach;
  return out;
}

nlohmann::json ResourceSet::specs() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& binding : bindings_) out.push_back(binding.spec.params);
  return out;
}

nlohmann::json ResourceSet::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& binding : bindings_)
    out.push_back({{"id", binding.spec.id},
                   {"driver", binding.spec.driver},
                   {"active", binding.active},
                   {"attach", binding.attach}});
  return out;
}

}  // namespace ferry
