#include "engine/evacuation/evacuation_plan.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

nlohmann::json entry(const EvacuationPlan& plan, const std::string& vm) {
  for (const auto& e : plan.to_json())
    if (e["vm"] == vm) return e;
  return nullptr;
}

TEST(EvacuationPlan, LargestFirstOnTheDestinationWithMostRoomAtMostConcurrencyAtOnce) {
  EvacuationPlan plan({{"small", 512 * kMiB}, {"big", 4 * kGiB}, {"mid", 1 * kGiB}},
                      {{"b:1", 6 * kGiB, ""}, {"c:1", 8 * kGiB, ""}}, 2);
  auto first = plan.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->vm, "big");
  EXPECT_EQ(first->endpoint, "c:1");  // 8 GiB free beats 6
  auto second = plan.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->vm, "mid");
  EXPECT_EQ(second->endpoint, "b:1");  // c has 8 - 4 - headroom left, b has 6 - headroom
  EXPECT_FALSE(plan.next()) << "concurrency 2";
  EXPECT_EQ(plan.running(), 2u);
  EXPECT_FALSE(plan.done());

  plan.finished("big", MoveOutcome::moved, "");
  auto third = plan.next();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->vm, "small");
  EXPECT_EQ(third->endpoint, "b:1");  // b: 6 - 1 - 0.25 = 4.75 GiB; c: 8 - 4 - 0.25 = 3.75 GiB
  plan.finished("mid", MoveOutcome::moved, "");
  plan.finished("small", MoveOutcome::moved, "");
  EXPECT_TRUE(plan.done());
  EXPECT_TRUE(plan.host_empty());
  EXPECT_EQ(entry(plan, "big")["destination"], "c:1");
  EXPECT_EQ(entry(plan, "big")["state"], "moved");
}

TEST(EvacuationPlan, ARefusingDestinationIsNotTriedAgainForThatVm) {
  EvacuationPlan plan({{"vm1", 1 * kGiB}}, {{"b:1", 8 * kGiB, ""}, {"c:1", 4 * kGiB, ""}}, 1);
  auto first = plan.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->endpoint, "b:1");
  plan.finished("vm1", MoveOutcome::refused, "cannot run VMs of kind 'qemu'");
  auto second = plan.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->endpoint, "c:1");
  plan.finished("vm1", MoveOutcome::refused, "unreachable");
  EXPECT_FALSE(plan.next());
  EXPECT_TRUE(plan.done());
  EXPECT_FALSE(plan.host_empty());
  const auto vm1 = entry(plan, "vm1");
  EXPECT_EQ(vm1["state"], "stuck");
  const std::string reason = vm1["reason"];
  EXPECT_NE(reason.find("b:1 refused: cannot run VMs of kind 'qemu'"), std::string::npos) << reason;
  EXPECT_NE(reason.find("c:1 refused: unreachable"), std::string::npos) << reason;
}

TEST(EvacuationPlan, AVmThatFitsNowhereStaysAndSaysWhy) {
  EvacuationPlan plan({{"huge", 16 * kGiB}, {"ok", 1 * kGiB}}, {{"b:1", 4 * kGiB, ""}}, 2);
  auto first = plan.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->vm, "ok");
  EXPECT_FALSE(plan.next());
  plan.finished("ok", MoveOutcome::moved, "");
  EXPECT_TRUE(plan.done());
  const auto huge = entry(plan, "huge");
  EXPECT_EQ(huge["state"], "stuck");
  EXPECT_NE(huge["reason"].get<std::string>().find("needs 16384 MiB"), std::string::npos);
  EXPECT_NE(huge["reason"].get<std::string>().find("b:1 has 2816 MiB free"), std::string::npos)
      << huge["reason"];
}

TEST(EvacuationPlan, AFailedMoveStaysWithItsReasonAndFreesTheReservation) {
  EvacuationPlan plan({{"a", 3 * kGiB}, {"b", 3 * kGiB}}, {{"d:1", 4 * kGiB, ""}}, 1);
  auto first = plan.next();
  ASSERT_TRUE(first);
  plan.finished(first->vm, MoveOutcome::failed, "not converging");
  auto second = plan.next();
  ASSERT_TRUE(second) << "the failed move's memory is free again";
  plan.finished(second->vm, MoveOutcome::moved, "");
  EXPECT_TRUE(plan.done());
  EXPECT_FALSE(plan.host_empty());
  EXPECT_EQ(entry(plan, first->vm)["state"], "failed");
  EXPECT_EQ(entry(plan, first->vm)["reason"], "not converging");
}

TEST(EvacuationPlan, UnknownRoomIsTriedAfterKnownRoom) {
  EvacuationPlan plan({{"vm1", 1 * kGiB}, {"vm2", 1 * kGiB}},
                      {{"b:1", std::nullopt, "query failed"}, {"c:1", 2 * kGiB, ""}}, 2);
  auto first = plan.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->endpoint, "c:1");
  auto second = plan.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->endpoint, "b:1") << "c is full now; b's room is unknown, so it is tried";
}

TEST(EvacuationPlan, GivingUpLeavesWaitingVmsWithTheReason) {
  EvacuationPlan plan({{"a", 1 * kGiB}, {"b", 1 * kGiB}}, {{"d:1", 8 * kGiB, ""}}, 1);
  auto first = plan.next();
  ASSERT_TRUE(first);
  plan.give_up_waiting("cancelled");
  EXPECT_FALSE(plan.next());
  EXPECT_FALSE(plan.done()) << "the running move still has to end";
  plan.finished(first->vm, MoveOutcome::failed, "cancelled by request");
  EXPECT_TRUE(plan.done());
  for (const auto& e : plan.to_json()) {
    EXPECT_EQ(e["state"], "failed");
    EXPECT_TRUE(e["reason"] == "cancelled" || e["reason"] == "cancelled by request") << e;
  }
}

TEST(EvacuationPlan, NothingToMoveIsDoneAtOnce) {
  EvacuationPlan plan({}, {{"b:1", 1 * kGiB, ""}}, 2);
  EXPECT_FALSE(plan.next());
  EXPECT_TRUE(plan.done());
  EXPECT_TRUE(plan.host_empty());
}

}  // namespace
}  // namespace ferry
