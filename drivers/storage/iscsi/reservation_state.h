// The SCSI-3 persistent-reservation state of a LUN as READ KEYS and READ RESERVATION report it,
// and the decisions the driver takes from it. Pure: the commands are sent by lun_ownership.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "drivers/storage/iscsi/iscsi_disk_config.h"
#include "engine/error/error.h"

namespace ferry::iscsi {

// WRITE EXCLUSIVE - REGISTRANTS ONLY: every I_T nexus registered with the owner's key may write
// (several sessions or paths of one host), any other nexus only reads, and a PREEMPT of the
// owner's key fences all of that host's nexuses at once. Plain WRITE EXCLUSIVE would let exactly
// one nexus write, which breaks a host with more than one path.
constexpr int kOwnerReservationType = 5;

struct ReservationHolder {
  std::uint64_t key = 0;
  int type = 0;
};

struct ReservationState {
  std::vector<std::uint64_t> keys;  // one entry per registered I_T nexus (keys may repeat)
  std::optional<ReservationHolder> holder;

  std::size_t count(std::uint64_t key) const;
  // "keys [0x..., 0x...], reserved by 0x... (WRITE EXCLUSIVE - REGISTRANTS ONLY)"
  std::string describe() const;
};

// Why this host could not write the LUN because someone other than this host (`ours`) or the
// source of the migration (`source`, none when a VM starts here) holds a reservation; nullopt
// when nobody else does.
std::optional<std::string> foreign_reservation(const ReservationState& state, std::uint64_t ours,
                                               std::optional<std::uint64_t> source);

// What activate sends after registering this host's key, given the state it then reads:
// PREEMPT each key in `preempt` (the holder's first, so its reservation passes to us), then RELEASE
// (of `release_type`) if set, then RESERVE if `reserve`.
struct OwnershipSteps {
  std::vector<std::uint64_t> preempt;
  std::optional<int> release_type;
  bool reserve = false;
};

// Every other key is preempted: on a LUN whose identity matched the VM's disk, any other
// registrant is an earlier owner that must not write any more. Our own key is left alone: the
// other nexuses registered with it are this host's own I/O paths. A reservation held by a third
// party is refused (Errc::rejected): someone else claims this disk.
Result<OwnershipSteps> plan_take_ownership(const ReservationState& state, std::uint64_t ours,
                                           std::optional<std::uint64_t> source,
                                           Ownership ownership);

// After the steps: is the state what `ownership` promises (only our key registered, by one or more
// nexuses; reserved under our key as kOwnerReservationType, or not reserved at all)? Names what is
// wrong otherwise.
Result<void> check_owned(const ReservationState& state, std::uint64_t ours, Ownership ownership);

}  // namespace ferry::iscsi
