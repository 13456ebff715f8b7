// Driver "iscsi": a VM disk on a shared iSCSI LUN, reached by every host through its own initiator
// name and portals (host configuration: iscsi_disk_config.h).
//
//   inspect     (source) the LUN's identity: VPD 0x83 logical-unit designators, VPD 0x80 serial,
//               READ CAPACITY(16) block size and count, plus this host's reservation key
//   prepare     log in through this host's portals (first that answers); refuse a LUN whose
//   identity
//               differs from the source's facts (naming what differs), a reservation held by a
//               third party, a source with our own reservation key; keep the session open; attach
//               {"qemu-drive": "file=iscsi://PORTAL/TARGET/LUN,format=raw,file.initiator-name=IQN",
//                "url": ..., "initiator-name": IQN}
//   activate    take ownership: register this host's key, PREEMPT every other key (the old owner's
//               reservation passes to us), then per "ownership" hold WRITE EXCLUSIVE - REGISTRANTS
//               ONLY ("reservation") or no reservation ("registration")
//   deactivate  give up ownership: drop our reservation and every registration of our key
//   release /   give up ownership as deactivate does (harmless when already done), log out, forget
//   rollback    the session
// UNIT ATTENTIONs (reservations preempted/released) are retried; every step ends by
// ResourceContext::timeout (an unreachable portal gives Errc::unreachable or Errc::timeout).
//
// What is fenced. Reservations belong to an I_T nexus (initiator name + ISID, and for tgt the very
// session instance), not to a host. The registered key is the durable ownership record in both
// modes: after activate only the new owner's key is registered, so a host can tell who runs the VM.
// Writes are fenced by the target only for I/O that goes through a nexus registered with the
// owner's key:
//  - "reservation" mode fences every writer that is such a nexus: this host's paths call
//    join_registration (lun_ownership.h) with the host key; after the destination preempts, any
//    write from the source's nexuses fails with RESERVATION CONFLICT. Any nexus that is not
//    registered, including QEMU's own libiscsi session, can then only read: use this mode only when
//    the guest's writes go through registered nexuses (a host-level initiator path).
//  - "registration" mode (the default) is what the produced QEMU drive needs: QEMU opens the LUN
//    with its own libiscsi session, whose ISID is random and which never registers, so it could
//    not write under any reservation. The handoff then relies on QEMU's block inactivation: the
//    source QEMU flushes and inactivates its disks when it stops for switchover and is stopped
//    after commit, and the destination QEMU only writes after it is resumed. The target does not
//    stop a misbehaving source in this mode.
#pragma once

#include <memory>

#include "drivers/storage/iscsi/iscsi_session_table.h"
#include "engine/resources/resource_driver.h"

namespace ferry::iscsi {

class IscsiDiskDriver : public ResourceDriver {
 public:
  std::string_view name() const override { return "iscsi"; }

  Result<nlohmann::json> inspect(const ResourceBinding& binding,
                                 const ResourceContext& context) override;
  Result<ResourceBinding> prepare(const ResourceSpec& spec, const nlohmann::json& source_facts,
                                  const ResourceContext& context) override;
  Result<void> activate(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> deactivate(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> release(ResourceBinding& binding, const ResourceContext& context) override;
  Result<void> rollback(ResourceBinding& binding, const ResourceContext& context) override;

  // Sessions kept open between steps (one per prepared binding), for tests.
  std::size_t open_sessions() const { return sessions_.size(); }

 private:
  Result<void> finish(ResourceBinding& binding, const ResourceContext& context);

  IscsiSessionTable sessions_;
};

}  // namespace ferry::iscsi

namespace ferry {
std::shared_ptr<ResourceDriver> make_iscsi_disk_driver();
}  // namespace ferry
