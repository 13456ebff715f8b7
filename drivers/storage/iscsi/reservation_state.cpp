#include "drivers/storage/iscsi/reservation_state.h"

#include <fmt/format.h>

#include <algorithm>

#include "drivers/storage/iscsi/reservation_key.h"

namespace ferry::iscsi {

std::size_t ReservationState::count(std::uint64_t key) const {
  return static_cast<std::size_t>(std::count(keys.begin(), keys.end(), key));
}

std::string ReservationState::describe() const {
  std::string text = "keys [";
  for (std::size_t i = 0; i < keys.size(); ++i)
    text += (i == 0 ? "" : ", ") + format_reservation_key(keys[i]);
  text += "], ";
  if (holder)
    text += fmt::format("reserved by {} ({})", format_reservation_key(holder->key),
                        reservation_type_name(holder->type));
  else
    text += "not reserved";
  return text;
}

std::optional<std::string> foreign_reservation(const ReservationState& state, std::uint64_t ours,
                                               std::optional<std::uint64_t> source) {
  if (!state.holder || state.holder->key == ours || (source && state.holder->key == *source))
    return std::nullopt;
  return fmt::format(
      "the LUN is reserved ({}) by key {}, which is neither this host's key {} nor {}: another "
      "initiator owns this disk and would make our writes fail with RESERVATION CONFLICT",
      reservation_type_name(state.holder->type), format_reservation_key(state.holder->key),
      format_reservation_key(ours),
      source ? "the source host's key " + format_reservation_key(*source)
             : std::string("a migration source's (none: the VM starts here)"));
}

Result<OwnershipSteps> plan_take_ownership(const ReservationState& state, std::uint64_t ours,
                                           std::optional<std::uint64_t> source,
                                           Ownership ownership) {
  if (auto foreign = foreign_reservation(state, ours, source))
    return Error(Errc::rejected, *foreign);
  OwnershipSteps steps;
  // Who holds the reservation once the preempts are done, and with which type.
  std::optional<int> our_type;
  if (state.holder) {
    if (state.holder->key != ours) {
      steps.preempt.push_back(state.holder->key);
      our_type = kOwnerReservationType;
    } else {
      our_type = state.holder->type;
    }
  }
  for (std::uint64_t key : state.keys) {
    if (key == ours) continue;
    if (std::find(steps.preempt.begin(), steps.preempt.end(), key) == steps.preempt.end())
      steps.preempt.push_back(key);
  }

  if (ownership == Ownership::reservation) {
    if (our_type && *our_type != kOwnerReservationType) steps.release_type = *our_type;
    steps.reserve = !our_type || *our_type != kOwnerReservationType;
  } else if (our_type) {
    steps.release_type = *our_type;
  }
  return steps;
}

Result<void> check_owned(const ReservationState& state, std::uint64_t ours, Ownership ownership) {
  const bool only_ours = state.count(ours) >= 1 && state.count(ours) == state.keys.size();
  const bool reserved_right =
      ownership == Ownership::reservation
          ? state.holder && state.holder->key == ours && state.holder->type == kOwnerReservationType
          : !state.holder.has_value();
  if (only_ours && reserved_right) return ok();
  return Error(
      Errc::protocol,
      fmt::format(
          "after taking ownership ({}) the LUN shows {}; expected only key {} registered {}",
          ownership_name(ownership), state.describe(), format_reservation_key(ours),
          ownership == Ownership::reservation
              ? "holding " + reservation_type_name(kOwnerReservationType)
              : std::string("and no reservation")));
}

}  // namespace ferry::iscsi
