#include "drivers/storage/iscsi/reservation_state.h"

#include <gtest/gtest.h>

#include "drivers/storage/iscsi/reservation_key.h"

namespace ferry::iscsi {
namespace {

constexpr std::uint64_t kOurs = 0xb0b;
constexpr std::uint64_t kSource = 0xa0a;
constexpr std::uint64_t kStranger = 0xc0c;

ReservationState state(std::vector<std::uint64_t> keys,
                       std::optional<ReservationHolder> holder = std::nullopt) {
  return ReservationState{std::move(keys), holder};
}

TEST(ReservationKey, IsStablePerInitiatorAndNeverZero) {
  EXPECT_EQ(reservation_key_for("iqn.2026-11.pool:hosta"),
            reservation_key_for("iqn.2026-11.pool:hosta"));
  EXPECT_NE(reservation_key_for("iqn.2026-11.pool:hosta"),
            reservation_key_for("iqn.2026-11.pool:hostb"));
  EXPECT_NE(reservation_key_for(""), 0u);
  EXPECT_EQ(format_reservation_key(0xabc), "0x0000000000000abc");
  auto parsed = parse_reservation_key(format_reservation_key(0xfedcba9876543210ULL), "k");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed.value(), 0xfedcba9876543210ULL);
  EXPECT_FALSE(parse_reservation_key("0x", "k"));
  EXPECT_FALSE(parse_reservation_key("0x1g", "k"));
  EXPECT_FALSE(parse_reservation_key("0x10000000000000000", "k"));
  EXPECT_FALSE(parse_reservation_key(0, "k"));
  EXPECT_FALSE(parse_reservation_key(-5, "k"));
  EXPECT_EQ(reservation_type_name(kOwnerReservationType), "WRITE EXCLUSIVE - REGISTRANTS ONLY");
}

TEST(ForeignReservation, OnlyAThirdPartyHolderCounts) {
  EXPECT_FALSE(foreign_reservation(state({}), kOurs, kSource));
  EXPECT_FALSE(
      foreign_reservation(state({kSource}, ReservationHolder{kSource, 5}), kOurs, kSource));
  EXPECT_FALSE(
      foreign_reservation(state({kOurs}, ReservationHolder{kOurs, 5}), kOurs, std::nullopt));
  EXPECT_FALSE(foreign_reservation(state({kStranger}), kOurs, kSource));  // registered, not holding
  auto foreign =
      foreign_reservation(state({kStranger}, ReservationHolder{kStranger, 1}), kOurs, kSource);
  ASSERT_TRUE(foreign);
  EXPECT_NE(foreign->find(format_reservation_key(kStranger)), std::string::npos);
  EXPECT_NE(foreign->find("WRITE EXCLUSIVE"), std::string::npos);
  // Starting a VM here (no source): a reservation by anyone else means the disk is in use.
  EXPECT_TRUE(
      foreign_reservation(state({kSource}, ReservationHolder{kSource, 5}), kOurs, std::nullopt));
}

TEST(PlanTakeOwnership, ReservationModePreemptsTheSourceHolderThenOwns) {
  auto steps = plan_take_ownership(state({kSource, kOurs}, ReservationHolder{kSource, 5}), kOurs,
                                   kSource, Ownership::reservation);
  ASSERT_TRUE(steps);
  EXPECT_EQ(steps->preempt, (std::vector<std::uint64_t>{kSource}));
  EXPECT_FALSE(steps->release_type);
  EXPECT_FALSE(steps->reserve);  // the preempt hands the reservation over
}

TEST(PlanTakeOwnership, ReservationModeReservesAFreeLun) {
  auto steps = plan_take_ownership(state({kOurs}), kOurs, kSource, Ownership::reservation);
  ASSERT_TRUE(steps);
  EXPECT_TRUE(steps->preempt.empty());
  EXPECT_TRUE(steps->reserve);
}

TEST(PlanTakeOwnership, IsANoOpWhenAlreadyOwned) {
  auto reserved = plan_take_ownership(state({kOurs, kOurs}, ReservationHolder{kOurs, 5}), kOurs,
                                      kSource, Ownership::reservation);
  ASSERT_TRUE(reserved);
  EXPECT_TRUE(reserved->preempt.empty());  // our other nexus is one of this host's paths
  EXPECT_FALSE(reserved->release_type);
  EXPECT_FALSE(reserved->reserve);
  auto registered = plan_take_ownership(state({kOurs}), kOurs, kSource, Ownership::registration);
  ASSERT_TRUE(registered);
  EXPECT_TRUE(registered->preempt.empty());
  EXPECT_FALSE(registered->release_type);
  EXPECT_FALSE(registered->reserve);
}

TEST(PlanTakeOwnership, RegistrationModePreemptsOthersAndHoldsNothing) {
  auto steps = plan_take_ownership(state({kSource, kOurs, kStranger, kSource}), kOurs, kSource,
                                   Ownership::registration);
  ASSERT_TRUE(steps);
  EXPECT_EQ(steps->preempt, (std::vector<std::uint64_t>{kSource, kStranger}));
  EXPECT_FALSE(steps->release_type);
  EXPECT_FALSE(steps->reserve);
  // A reservation the source still holds passes to us by the preempt and is then released.
  auto held = plan_take_ownership(state({kSource, kOurs}, ReservationHolder{kSource, 5}), kOurs,
                                  kSource, Ownership::registration);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->preempt, (std::vector<std::uint64_t>{kSource}));
  ASSERT_TRUE(held->release_type);
  EXPECT_EQ(*held->release_type, kOwnerReservationType);
}

TEST(PlanTakeOwnership, ReplacesAReservationOfTheWrongType) {
  auto steps = plan_take_ownership(state({kOurs}, ReservationHolder{kOurs, 1}), kOurs, kSource,
                                   Ownership::reservation);
  ASSERT_TRUE(steps);
  ASSERT_TRUE(steps->release_type);
  EXPECT_EQ(*steps->release_type, 1);
  EXPECT_TRUE(steps->reserve);
}

TEST(PlanTakeOwnership, RefusesAThirdPartyHolder) {
  auto steps = plan_take_ownership(state({kStranger, kOurs}, ReservationHolder{kStranger, 5}),
                                   kOurs, kSource, Ownership::reservation);
  ASSERT_FALSE(steps);
  EXPECT_EQ(steps.error().code(), Errc::rejected);
}

TEST(CheckOwned, AcceptsOnlyWhatTheModePromises) {
  EXPECT_TRUE(
      check_owned(state({kOurs}, ReservationHolder{kOurs, 5}), kOurs, Ownership::reservation));
  EXPECT_TRUE(check_owned(state({kOurs, kOurs}), kOurs, Ownership::registration));
  EXPECT_FALSE(check_owned(state({kOurs}), kOurs, Ownership::reservation));
  EXPECT_FALSE(
      check_owned(state({kOurs}, ReservationHolder{kOurs, 1}), kOurs, Ownership::reservation));
  EXPECT_FALSE(
      check_owned(state({kOurs}, ReservationHolder{kOurs, 5}), kOurs, Ownership::registration));
  auto other = check_owned(state({kOurs, kSource}), kOurs, Ownership::registration);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find(format_reservation_key(kSource)), std::string::npos);
  EXPECT_FALSE(check_owned(state({}), kOurs, Ownership::registration));
}

}  // namespace
}  // namespace ferry::iscsi
