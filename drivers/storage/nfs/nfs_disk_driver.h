// The "nfs" resource driver: a VM disk that is a raw image file in an NFSv3 storage repository,
// reached by every host through its own mapping of the repository (host configuration
// resources.nfs.repositories.<sr> = {"server", "export"[, "nfs-port", "mount-port"]}).
//
//   VM description entry  {"id": "disk0", "driver": "nfs", "sr": "sr1", "image": "vm1/disk0.img"}
//   inspect (source)      facts {"fileid", "size", "fsid", "owner"} of the image as this host sees
//   it prepare               mount, stat, same file as the facts, writable; attach
//                         {"qemu-drive": "file=nfs://SERVER/EXPORT/IMAGE,format=raw"}; no ownership
//   activate / deactivate take / release the ownership record "<image>.owner" (ownership_rules.h)
//   rollback              the record back to what prepare saw, if this host changed it since
//   release               nothing is held between steps: each step mounts, works and unmounts
//
// Every step mounts afresh and finishes (or fails with Errc::timeout) within
// ResourceContext::timeout.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/error/error.h"
#include "engine/resources/resource_driver.h"

namespace ferry {

namespace nfs {

class NfsDiskDriver final : public ResourceDriver {
 public:
  std::string_view name() const override { return "nfs"; }

  Result<nlohmann::json> inspect(const ResourceBinding& binding,
                                 const ResourceContext& context) override;
  Result<ResourceBinding> prepare(const ResourceSpec& spec, const nlohmann::json& source_facts,
                                  const ResourceContext& context) override;
  Result<void> activate(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> deactivate(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> release(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> rollback(ResourceBinding& binding, const ResourceContext& context) override;

  // The host the disk's ownership record names (nullopt: released or never owned), read through
  // this host's mapping. A source whose switchover failed resumes its VM only if this names itself
  // or nobody; activate() on the source enforces the same rule.
  Result<std::optional<std::string>> owner_of(const ResourceSpec& spec,
                                              const ResourceContext& context);
};

}  // namespace nfs

std::shared_ptr<ResourceDriver> make_nfs_disk_driver();

}  // namespace ferry
