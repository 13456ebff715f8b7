// The simulated guest's share of the resource drivers' attachments: its one NIC. Disks are the
// QEMU guest's business; the simulated guest has no block device and ignores them. Pure.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/vm/sim/sim_spec.h"

namespace ferry {

// `attachments` is {"<resource id>": attach} as ResourceSet::attachments() makes it; a NIC's
// attach has "tap", "mac", "ip" and optionally "netns" (drivers/net/ovs). No NIC: nullopt.
Result<std::optional<SimNic>> sim_nic_from_attachments(const nlohmann::json& attachments);

}  // namespace ferry
