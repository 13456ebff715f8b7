// What prepare decided for a NIC on this host, kept in ResourceBinding::state so that the later
// steps act on the same tap, bridge and OVSDB even if the host configuration changes meanwhile.
// Pure: no I/O.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "drivers/net/ovs/nic_config.h"
#include "engine/error/error.h"

namespace ferry::ovs {

struct NicBindingState {
  std::string tap;
  std::string bridge;  // the mapped bridge, where the port carries traffic
  std::optional<int> tag;
  std::string quarantine_bridge;
  std::string db;
  std::string netns;
  AnnounceSchedule announce;

  nlohmann::json to_json() const;
  // Errc::invalid_argument naming the resource and the field.
  static Result<NicBindingState> from_json(const nlohmann::json& state, std::string_view resource);
  // What prepare would decide for `nic` with this host configuration.
  static Result<NicBindingState> plan(const NicSpec& nic, const OvsHostConfig& config,
                                      std::string_view host);
};

}  // namespace ferry::ovs
