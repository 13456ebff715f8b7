// Ports on Open vSwitch bridges, through OVSDB transactions on the Open_vSwitch database.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "drivers/net/ovs/ovsdb_client.h"
#include "engine/error/error.h"

namespace ferry::ovs {

struct PortSpec {
  std::string bridge;
  std::string name;  // the Port and its single Interface share this name
  std::string type;  // Interface type: "" (an existing netdev), "internal", "tap", ...
  // Stored on the Interface, where controllers look for iface-id, attached-mac, vm-uuid.
  std::map<std::string, std::string> external_ids;
  std::optional<int> vlan_tag;  // access port on this VLAN (0..4095); none: trunk
};

struct PortInfo {
  std::string uuid;  // the Port row
  std::string name;
  std::string bridge;  // empty when no bridge references the port
  std::optional<int> vlan_tag;
  std::string type;
  std::map<std::string, std::string> external_ids;  // the Interface's
  std::optional<std::int64_t> ofport;  // set by ovs-vswitchd; -1 when it could not open the device
  std::string interface_error;         // ovs-vswitchd's reason when ofport is -1
};

struct BridgeSpec {
  std::string name;
  std::string datapath_type;  // "" (the kernel datapath) or "netdev" (userspace)
  std::string fail_mode;      // "" (standalone), "standalone" or "secure"
  std::map<std::string, std::string> external_ids;
};

struct BridgeInfo {
  std::string name;
  std::string datapath_type;
  std::string fail_mode;
  std::map<std::string, std::string> external_ids;
};

// Where an existing port should be and how it is configured there.
struct PortPlacement {
  std::string bridge;
  std::optional<int> vlan_tag;  // none: trunk
  // Replaces the Interface's external_ids.
  std::map<std::string, std::string> external_ids;
};

// Every change increments Open_vSwitch.next_cfg in the same transaction (as ovs-vsctl does) and
// returns only once ovs-vswitchd has applied it (cur_cfg caught up), so the port exists in the
// datapath then.
class OvsBridge {
 public:
  explicit OvsBridge(OvsdbClient& client,
                     std::chrono::milliseconds apply_timeout = std::chrono::seconds(10))
      : client_(client), apply_timeout_(apply_timeout) {}

  // Creates the port and its interface. Refused atomically with Errc::not_found when the bridge
  // does not exist and Errc::invalid_argument when a port of that name exists. When ovs-vswitchd
  // cannot open the interface (e.g. type "" naming a missing device) the port is removed again and
  // the result is Errc::io with ovs-vswitchd's reason. Returns the port as read back.
  Result<PortInfo> add_port(const PortSpec& spec);

  // Removes the port from the bridge (OVSDB then drops the Port and Interface rows). Succeeds when
  // the port does not exist, so a rollback can repeat it; Errc::not_found when the bridge does not
  // exist, Errc::invalid_argument when the port is on another bridge.
  Result<void> delete_port(std::string_view bridge, std::string_view port);

  // The port named `port` on any bridge, or nullopt.
  Result<std::optional<PortInfo>> find_port(std::string_view port);

  Result<bool> bridge_exists(std::string_view bridge);

  // Returns once ovs-vswitchd has made one more full pass over its configuration. Why: it marks a
  // change applied (cur_cfg) right after reconfiguring, but its packet translation learns about a
  // new port only at the start of its next pass; a frame sent from the port in between is dropped
  // (seen: a moved port's first announcements lost, traffic back only 200 ms later).
  Result<void> settle();
  Result<std::optional<BridgeInfo>> find_bridge(std::string_view bridge);

  // Creates a bridge (with its internal port of the same name). Errc::invalid_argument when a
  // bridge of that name exists, so concurrent creators can tell "someone else made it".
  Result<void> add_bridge(const BridgeSpec& spec);

  // Puts the existing port `port` on `placement.bridge` with that tag and the interface's
  // external_ids, moving it off its current bridge in the same transaction (the same Port and
  // Interface rows, so controllers see one port that changed). Errc::not_found when the port or
  // the bridge does not exist.
  Result<PortInfo> place_port(std::string_view port, const PortPlacement& placement);

 private:
  // Runs `operations` plus "next_cfg += 1", then waits until ovs-vswitchd has applied them.
  Result<Json> transact_and_apply(Json operations, std::optional<TransactFailure>* failure);

  OvsdbClient& client_;
  std::chrono::milliseconds apply_timeout_;
};

}  // namespace ferry::ovs
