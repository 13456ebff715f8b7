// Who may write a LUN, recorded and enforced with SCSI-3 persistent reservations. Each host has one
// reservation key (reservation_key.h); every I_T nexus of a host that registers that key counts as
// that host. See iscsi_disk_driver.h for which configurations this fences.
#pragma once

#include <cstdint>
#include <optional>

#include "drivers/storage/iscsi/iscsi_disk_config.h"
#include "drivers/storage/iscsi/iscsi_session.h"
#include "drivers/storage/iscsi/reservation_state.h"
#include "engine/error/error.h"

namespace ferry::iscsi {

// Registers `key` for this session's nexus (idempotent: REGISTER AND IGNORE EXISTING KEY). An I/O
// path of a host calls it so that it may write while the host owns the LUN in reservation mode.
Result<void> join_registration(IscsiSession& session, std::uint64_t key, Deadline deadline);

// Refuses (Errc::rejected) when a reservation held by neither `ours` nor `source` would block our
// writes.
Result<void> check_no_foreign_reservation(IscsiSession& session, std::uint64_t ours,
                                          std::optional<std::uint64_t> source, Deadline deadline);

// Registers `ours`, preempts every other key (the old owner's reservation passes to us), then
// holds WRITE EXCLUSIVE - REGISTRANTS ONLY (reservation) or no reservation (registration), and
// checks the LUN shows exactly that. Idempotent.
Result<void> take_ownership(IscsiSession& session, std::uint64_t ours,
                            std::optional<std::uint64_t> source, Ownership ownership,
                            Deadline deadline);

// Removes every registration of `ours` (this nexus and any other with our key: this host's other
// paths, or sessions of ours that died and that the target still lists) and the reservation
// held under it; other keys are never touched. Does nothing when `ours` is not registered.
// Idempotent.
Result<void> give_up_ownership(IscsiSession& session, std::uint64_t ours, Deadline deadline);

}  // namespace ferry::iscsi
