#include "drivers/storage/iscsi/lun_ownership.h"

#include "drivers/storage/iscsi/scsi_commands.h"

namespace ferry::iscsi {

Result<void> join_registration(IscsiSession& session, std::uint64_t key, Deadline deadline) {
  return persistent_reserve_out(session, ReserveAction::register_ignoring_existing, 0, 0, key,
                                deadline);
}

Result<void> check_no_foreign_reservation(IscsiSession& session, std::uint64_t ours,
                                          std::optional<std::uint64_t> source, Deadline deadline) {
  auto state = read_reservation_state(session, deadline);
  if (!state) return std::move(state).error();
  if (auto foreign = foreign_reservation(state.value(), ours, source))
    return Error(Errc::rejected, session.address().describe() + ": " + *foreign);
  return ok();
}

Result<void> take_ownership(IscsiSession& session, std::uint64_t ours,
                            std::optional<std::uint64_t> source, Ownership ownership,
                            Deadline deadline) {
  if (auto joined = join_registration(session, ours, deadline); !joined) return joined;
  auto state = read_reservation_state(session, deadline);
  if (!state) return std::move(state).error();
  auto steps = plan_take_ownership(state.value(), ours, source, ownership);
  if (!steps)
    return Error(steps.error().code(),
                 session.address().describe() + ": " + steps.error().message());
  for (std::uint64_t key : steps.value().preempt) {
    if (auto preempted = persistent_reserve_out(session, ReserveAction::preempt,
                                                kOwnerReservationType, ours, key, deadline);
        !preempted)
      return preempted;
  }
  if (steps.value().release_type) {
    if (auto released = persistent_reserve_out(session, ReserveAction::release,
                                               *steps.value().release_type, ours, 0, deadline);
        !released)
      return released;
  }
  if (steps.value().reserve) {
    if (auto reserved = persistent_reserve_out(session, ReserveAction::reserve,
                                               kOwnerReservationType, ours, 0, deadline);
        !reserved)
      return reserved;
  }
  auto after = read_reservation_state(session, deadline);
  if (!after) return std::move(after).error();
  if (auto owned = check_owned(after.value(), ours, ownership); !owned)
    return Error(owned.error().code(),
                 session.address().describe() + ": " + owned.error().message());
  return ok();
}

Result<void> give_up_ownership(IscsiSession& session, std::uint64_t ours, Deadline deadline) {
  auto state = read_reservation_state(session, deadline);
  if (!state) return std::move(state).error();
  if (state.value().count(ours) == 0) return ok();
  // Only a registered nexus may preempt or release, so join first (this also makes our nexus the
  // one whose own registration survives the preempt below, to be removed last).
  if (auto joined = join_registration(session, ours, deadline); !joined) return joined;
  state = read_reservation_state(session, deadline);
  if (!state) return std::move(state).error();
  const bool held_by_us = state.value().holder && state.value().holder->key == ours;
  if (state.value().count(ours) > 1 || held_by_us) {
    // Preempting our own key drops every other nexus registered with it; a reservation held
    // under our key passes to this nexus, so that the RELEASE below can end it.
    const int type = held_by_us ? state.value().holder->type : kOwnerReservationType;
    if (auto preempted =
            persistent_reserve_out(session, ReserveAction::preempt, type, ours, ours, deadline);
        !preempted)
      return preempted;
    if (held_by_us) {
      if (auto released =
              persistent_reserve_out(session, ReserveAction::release, type, ours, 0, deadline);
          !released)
        return released;
    }
  }
  // Unregister this nexus (REGISTER AND IGNORE EXISTING KEY with service key 0).
  if (auto unregistered = join_registration(session, 0, deadline); !unregistered)
    return unregistered;
  auto after = read_reservation_state(session, deadline);
  if (!after) return std::move(after).error();
  if (after.value().count(ours) != 0 || (after.value().holder && after.value().holder->key == ours))
    return Error(Errc::protocol, session.address().describe() +
                                     ": after giving up ownership the LUN still shows our key: " +
                                     after.value().describe());
  return ok();
}

}  // namespace ferry::iscsi
