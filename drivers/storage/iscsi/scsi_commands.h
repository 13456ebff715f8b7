// The SCSI commands the driver sends, typed: identity (INQUIRY VPD 0x83/0x80, READ CAPACITY(16)),
// persistent reservations (PERSISTENT RESERVE IN/OUT) and block reads/writes. Each waits at most
// until the deadline; UNIT ATTENTIONs are retried by IscsiSession::execute.
#pragma once

#include <cstdint>
#include <vector>

#include "drivers/storage/iscsi/iscsi_session.h"
#include "drivers/storage/iscsi/lun_identity.h"
#include "drivers/storage/iscsi/reservation_state.h"
#include "engine/error/error.h"

namespace ferry::iscsi {

Result<LunIdentity> read_lun_identity(IscsiSession& session, Deadline deadline);

// READ KEYS then READ RESERVATION.
Result<ReservationState> read_reservation_state(IscsiSession& session, Deadline deadline);

// PERSISTENT RESERVE OUT service actions (SPC-3 6.14), LU scope. A status other than GOOD is an
// Error (RESERVATION CONFLICT: Errc::rejected) naming the action and keys.
enum class ReserveAction {
  register_key = 0,  // key: our current key (0 if none), service key: the new key (0 = unregister)
  reserve = 1,       // key: ours, type
  release = 2,       // key: ours, type
  preempt = 4,       // key: ours, service key: the key to remove, type
  register_ignoring_existing = 6,  // service key: the new key (0 = unregister), whatever is there
};
Result<void> persistent_reserve_out(IscsiSession& session, ReserveAction action, int type,
                                    std::uint64_t key, std::uint64_t service_key,
                                    Deadline deadline);

// WRITE(16)/READ(16) of whole blocks at `lba`; the SCSI status is the result (RESERVATION CONFLICT
// is an answer, not an Error), transport failures are Errors.
Result<ScsiStatus> write_blocks(IscsiSession& session, std::uint64_t lba,
                                const std::vector<std::uint8_t>& data, std::uint32_t block_size,
                                Deadline deadline);
struct ReadBlocks {
  ScsiStatus status;
  std::vector<std::uint8_t> data;
};
Result<ReadBlocks> read_blocks(IscsiSession& session, std::uint64_t lba, std::uint32_t length,
                               std::uint32_t block_size, Deadline deadline);

}  // namespace ferry::iscsi
