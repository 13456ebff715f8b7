// What the ovs driver reads: a NIC resource from the VM description and this host's "ovs" section
// of the agent's host configuration. Pure: no I/O.
//
// NIC:  {"id": "nic0", "driver": "ovs", "network": "net0", "mac": "52:54:00:12:34:56",
//        "external-ids": {"vm-id": "...", "iface-id": "..."},   optional
//        "ip": "10.0.0.5/24",   optional: the guest's address, for the gratuitous ARP
//        "tap": "tap-web1"}     optional: the tap's name (default derived from the MAC)
// Host: {"db": "unix:/run/openvswitch/db.sock",
//        "networks": {"net0": {"bridge": "br-int", "tag": 10}},   tag optional (none: trunk)
//        "netns": "hostA",                   optional: the namespace of ovs-vswitchd and the taps
//        "quarantine-bridge": "br-quarantine",        optional
//        "announce": {"rounds": 5, "initial-ms": 50, "step-ms": 100}}   optional
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "drivers/net/ovs/announcement_frames.h"
#include "engine/error/error.h"
#include "engine/resources/resource_driver.h"

namespace ferry::ovs {

struct NicSpec {
  std::string id;
  std::string network;
  MacAddress mac{};
  std::optional<std::uint32_t> ip;
  std::string tap;  // explicit or derived; valid as a Linux interface name
  std::map<std::string, std::string> external_ids;  // from the description, as given
};

struct NetworkMapping {
  std::string bridge;
  std::optional<int> tag;
};

// When and how often activate announces the MAC: at once, then rounds-1 more times, the gaps
// growing from `initial` by `step` — QEMU's announce-self defaults: rounds at 0, 50, 200, 450 and
// 800 ms.
struct AnnounceSchedule {
  int rounds = 5;
  std::chrono::milliseconds initial{50};
  std::chrono::milliseconds step{100};

  // The delay before round `round` (1-based; round 0 is immediate).
  std::chrono::milliseconds gap_before(int round) const { return initial + step * (round - 1); }
};

struct OvsHostConfig {
  std::string db;
  std::string netns;  // empty: the agent's own namespace
  std::string quarantine_bridge = "br-quarantine";
  std::map<std::string, NetworkMapping, std::less<>> networks;
  AnnounceSchedule announce;
};

// The tap name the driver uses when the description names none: "ft" and the MAC's 12 hex digits.
// The MAC is unique in the L2 domain and the same on every host, so both ends of a migration agree
// without coordination, and it fits IFNAMSIZ.
std::string derived_tap_name(const MacAddress& mac);

// Errc::invalid_argument naming the resource and the key at fault.
Result<NicSpec> parse_nic_spec(const ResourceSpec& spec);

// `host_config` is the whole "resources" section; this reads its "ovs" member. Errors name `host`.
Result<OvsHostConfig> parse_ovs_host_config(const nlohmann::json& host_config,
                                            std::string_view host);

// The Interface's external_ids: the description's, plus attached-mac, iface-status ("active" while
// the port carries traffic, "inactive" in quarantine), and iface-id (the resource id) when the
// description gives none.
std::map<std::string, std::string> interface_external_ids(const NicSpec& nic, bool active);

}  // namespace ferry::ovs
