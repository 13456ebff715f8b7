// An iSCSI disk as this host reaches it: the resource's pool-level identity (repository, target,
// LUN) joined with this host's access (initiator name, portals) from the host configuration.
// Pure: parsing and naming only, no I/O.
//
// Host configuration, section resources.iscsi:
//   {"initiator": "iqn.2026-11.pool:hosta",            this host's initiator name (required)
//    "reservation-key": "0x...",                       optional; default: derived from the
//    initiator "ownership": "registration" | "reservation",      optional, default "registration"
//    (see
//                                                      iscsi_disk_driver.h for what each fences)
//    "repositories": {"<sr>": {"portals": ["10.0.0.1:3260", ...],   tried in order
//                              "ownership": ...}}}     optional per-repository override
// Resource (VM description):
//   {"id": "disk0", "driver": "iscsi", "sr": "<sr>", "target": "iqn....", "lun": 1}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/resources/resource_driver.h"

namespace ferry::iscsi {

enum class Ownership {
  registration,  // register this host's key, preempt the old owner's; hold no reservation
  reservation,   // also hold WRITE EXCLUSIVE - REGISTRANTS ONLY: only registered nexuses write
};

std::string_view ownership_name(Ownership ownership);

struct IscsiDiskConfig {
  std::string resource;    // the resource id, for messages
  std::string repository;  // "sr"
  std::string target;      // target IQN
  int lun = 0;
  std::string initiator;             // this host's initiator IQN
  std::vector<std::string> portals;  // "host:port", port always present
  std::uint64_t key = 0;             // this host's reservation key
  Ownership ownership = Ownership::registration;
};

// `host_config` is ResourceContext::host_config (the whole "resources" section).
Result<IscsiDiskConfig> iscsi_disk_config(const ResourceSpec& spec,
                                          const nlohmann::json& host_config);

// Checks an iSCSI name (iqn./eui./naa.) so it can be embedded in a URL and a QEMU option string.
Result<void> check_iscsi_name(std::string_view name, std::string_view where);

// "iscsi://127.0.0.1:3260/iqn.2026-11.test:disk1/1"
std::string iscsi_url(std::string_view portal, std::string_view target, int lun);

// One QEMU -drive value (QEMU 7.2's libiscsi block driver), logging in as `initiator`:
// "file=iscsi://.../1,format=raw,file.initiator-name=iqn...".
std::string qemu_drive(std::string_view portal, std::string_view target, int lun,
                       std::string_view initiator);

}  // namespace ferry::iscsi
