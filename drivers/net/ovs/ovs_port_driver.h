// The "ovs" resource driver: a VM's NIC as a tap device on an Open vSwitch bridge, moved between
// hosts without a blackout longer than the switchover itself.
//
//   prepare     (destination) the mapped bridge must exist (else refused before the VM is
//               touched); creates the persistent tap and its port, in quarantine: on a bridge of
//               its own with fail_mode=secure and no controller, i.e. with no flows, so nothing
//               reaches or leaves the port; waits until ovs-vswitchd has applied it.
//   activate    moves the port onto the mapped bridge with its VLAN tag (one OVSDB transaction,
//               the same Port and Interface rows), waits until ovs-vswitchd can forward from it
//               (OvsBridge::settle), then announces the MAC from the port (RARP and, when the NIC
//               has an "ip", gratuitous ARP) at once and a few more times (QEMU's schedule).
//   deactivate  (source) back into quarantine.
//   release / rollback  removes the port and the tap.
//
// Why a quarantine bridge rather than a quarantine VLAN tag: an access port's VLAN still floods
// out of every trunk port (measured: a frame from a port tagged 4095 left through the trunk
// uplink), while a secure bridge without flows forwards nothing at all. Only OVSDB is used: there
// is no OpenFlow library here and the product does not run ovs-ofctl.
//
// attach: {"tap": NAME, "mac": MAC, "ip": the NIC's "ip" when it has one,
//          "qemu-netdev":
//          "tap,id=net-ID,ifname=NAME,script=no,downscript=no,vnet_hdr=off,queues=2",
//          "qemu-device": "e1000,netdev=net-ID,mac=MAC"}
// (queues=2: the tap is multi-queue, so that the driver can attach a queue of its own for the
// announcements, and QEMU must then ask for multi-queue too. Checked by hand with QEMU 7.2 and
// e1000: it attaches two queues and its announce-self RARPs reach the bridge's uplink.)
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "drivers/net/ovs/mac_announcer.h"
#include "drivers/net/ovs/ovsdb_client.h"
#include "engine/resources/resource_driver.h"

namespace ferry::ovs {

class OvsPortDriver final : public ResourceDriver {
 public:
  std::string_view name() const override { return "ovs"; }

  // Facts: {"mac", "network", "bridge", "tap"}.
  Result<nlohmann::json> inspect(const ResourceBinding& binding,
                                 const ResourceContext& context) override;
  Result<ResourceBinding> prepare(const ResourceSpec& spec, const nlohmann::json& source_facts,
                                  const ResourceContext& context) override;
  Result<void> activate(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> deactivate(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> release(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> rollback(ResourceBinding& binding, const ResourceContext& context) override;

  // Announcement rounds sent so far since the binding's last activate (0 once stopped).
  int announcement_rounds_sent(const ResourceBinding& binding) const;

 private:
  // One connection per OVSDB remote and timeout, reused across steps (a reconnect costs little,
  // but activate is on the blackout's critical path).
  Result<std::shared_ptr<OvsdbClient>> client_for(const std::string& db,
                                                  const ResourceContext& context);
  Result<void> remove(ResourceBinding& binding, const ResourceContext& context);

  std::mutex clients_mutex_;
  std::map<std::string, std::shared_ptr<OvsdbClient>> clients_;
  MacAnnouncer announcer_;
};

std::shared_ptr<ResourceDriver> make_ovs_port_driver();

}  // namespace ferry::ovs
