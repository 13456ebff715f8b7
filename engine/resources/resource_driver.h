// The contract between the migration engine and the drivers that move what is not memory (disks,
// NICs). A VM's description lists its resources; each names the driver that handles it.
//
//   source       inspect(spec)                  before OFFER: the facts the destination must match
//   destination  prepare(spec, facts) -> Binding before pre-copy; must be undoable by rollback
//   source       deactivate(binding)            at switchover, guest paused: give up ownership
//   destination  activate(binding)              at switchover: take ownership, go live
//   source       release(binding)               after commit: drop what is left on the old host
//   destination  rollback(binding)              any failure before the guest resumes here
//                                               (ResourceSet deactivates an active binding first)
//   source       activate(binding)              a switchover that failed after deactivate
//
// Every step is idempotent (a retry after a timeout must be harmless), blocks for at most
// `ResourceContext::timeout`, and fails with an error that names the resource, host and step
// (ResourceSet adds that prefix; a driver says what went wrong).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

// One entry of a VM description's "resources" array:
//   {"id": "disk0", "driver": "nfs", ...driver parameters...}
// `params` is the whole entry (id and driver included), so drivers read their own keys from it.
struct ResourceSpec {
  std::string id;
  std::string driver;
  nlohmann::json params;

  static Result<ResourceSpec> from_json(const nlohmann::json& json);
};

// What a driver knows about the host it runs on.
struct ResourceContext {
  std::string host;  // this host's name, for messages and ownership records
  // This host's mappings from pool-level names to local access: the "resources" section of the
  // agent's host configuration, keyed by driver name ("iscsi", "nfs", "ovs"); a driver reads
  // host_config[its name] and ignores the rest.
  nlohmann::json host_config = nlohmann::json::object();
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  // release() only: the resource moved to another host with a committed migration (as opposed to
  // a guest stopped here). A disk copied to the destination is then a stale copy to remove.
  bool moved_away = false;
};

// A resource attached on one host. Created by prepare() on a destination (or by the agent when it
// starts a VM from its description); the driver keeps whatever it needs to undo or finish the
// attachment in `state`.
struct ResourceBinding {
  ResourceSpec spec;
  // Driver-private: sessions, paths, port names; must survive being copied (plain JSON).
  nlohmann::json state = nlohmann::json::object();
  // What the guest's launcher needs to use the resource on this host, e.g.
  //   {"qemu-drive": "file=nfs://...,format=raw,if=ide"} for a disk, or
  //   {"qemu-netdev": "tap,id=n0,ifname=...,script=no,downscript=no", "qemu-device": "e1000,..."}
  // Empty when the guest kind needs nothing (the simulated guest).
  nlohmann::json attach = nlohmann::json::object();
  bool active = false;  // this host owns the resource (maintained by ResourceSet)
};

class ResourceDriver {
 public:
  virtual ~ResourceDriver() = default;

  virtual std::string_view name() const = 0;

  // Source, before the OFFER: identity facts the destination must verify it reaches the very
  // same resource (a LUN's VPD 0x83 designator and capacity, a file's id and size...). Plain JSON,
  // carried in the OFFER.
  virtual Result<nlohmann::json> inspect(const ResourceBinding& binding,
                                         const ResourceContext& context) = 0;
  // Destination, before pre-copy: reach the resource through this host's own path, check it is the
  // one `source_facts` describes, and get ready without taking ownership. A wrong mapping must be
  // refused here, before the guest is touched. `source_facts` is null when an agent attaches the
  // resources of a VM it starts itself (there is no source to compare with).
  virtual Result<ResourceBinding> prepare(const ResourceSpec& spec,
                                          const nlohmann::json& source_facts,
                                          const ResourceContext& context) = 0;
  virtual Result<void> activate(ResourceBinding& binding, const ResourceContext& context) = 0;
  virtual Result<void> deactivate(ResourceBinding& binding, const ResourceContext& context) = 0;
  virtual Result<void> release(ResourceBinding& binding, const ResourceContext& context) = 0;
  virtual Result<void> rollback(ResourceBinding& binding, const ResourceContext& context) = 0;
};

}  // namespace ferry
