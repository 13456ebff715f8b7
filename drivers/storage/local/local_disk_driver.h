// The "local" resource driver: a VM disk that is a raw image in this host's disk directory, seen by
// no other host. A migration copies it live (engine/vm/disk_copy.h: the destination's QEMU exports
// a new disk over NBD, the source's QEMU mirrors into it, the copy completes at switchover).
//
//   VM description entry  {"id": "disk0", "driver": "local", "image": "vm1/disk0.img"}
//   host configuration    resources.local = {"directory": "/var/lib/ferry/disks"}
//   inspect (source)      facts {"size"}
//   prepare               starting a VM here: the image must exist. Destination: the image must NOT
//                         exist (a disk is never overwritten); it is created with the source's
//                         size, its space allocated (a full disk refuses the migration now, not
//                         halfway); attach {"qemu-drive": "file=PATH,format=raw", "copy": "mirror"}
//   activate/deactivate   nothing: nobody else can reach the file
//   rollback              removes the image prepare created
//   release               after a committed migration (moved_away): removes the source's copy, now
//                         stale (the guest writes to the destination's); a guest stopped here keeps
//                         its disk
#pragma once

#include <memory>
#include <string_view>

#include "engine/resources/resource_driver.h"

namespace ferry {
namespace local {

class LocalDiskDriver final : public ResourceDriver {
 public:
  std::string_view name() const override { return "local"; }

  Result<nlohmann::json> inspect(const ResourceBinding& binding,
                                 const ResourceContext& context) override;
  Result<ResourceBinding> prepare(const ResourceSpec& spec, const nlohmann::json& source_facts,
                                  const ResourceContext& context) override;
  Result<void> activate(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> deactivate(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> release(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> rollback(ResourceBinding& binding, const ResourceContext& context) override;
};

}  // namespace local

std::shared_ptr<ResourceDriver> make_local_disk_driver();

}  // namespace ferry
