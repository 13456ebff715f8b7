#include "engine/precopy/precopy_policy.h"

#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;

constexpr double kMiB = 1024.0 * 1024;
constexpr double kGiB = 1024.0 * kMiB;
constexpr uint64_t kPage = 4096;

// A guest and a link as simple as possible: the link moves bytes at a fixed rate (or at the
// max-bandwidth cap, as the rate limiter would), the guest dirties bytes at a fixed rate, and the
// dirty pages one round leaves are what it wrote during the round, up to its working set.
struct SimulatedGuest {
  double ram_bytes = kGiB;
  double link_rate = kGiB;  // bytes/s
  double dirty_rate = 0;    // bytes/s
  double working_set = kGiB;
};

struct Simulation {
  std::vector<RoundReport> reports;
  std::vector<PrecopyDecision> decisions;
};

constexpr int kMaxIterations = 1000;

// Runs rounds until the policy stops continuing or kMaxIterations pass. `before_round` may change
// the policy's settings between rounds, as the control API would.
template <typename BeforeRound>
Simulation simulate(PrecopyPolicy& policy, const SimulatedGuest& guest, BeforeRound before_round) {
  Simulation run;
  double to_send = guest.ram_bytes;
  for (uint32_t round = 0; round < kMaxIterations; ++round) {
    before_round(round, policy);
    double rate = guest.link_rate;
    if (policy.settings().max_bandwidth != 0) {
      rate = std::min(rate, static_cast<double>(policy.settings().max_bandwidth));
    }
    const double seconds = to_send / rate;
    const double dirtied = std::min(guest.working_set, guest.dirty_rate * seconds);
    RoundReport report;
    report.round = round;
    report.pages_sent = static_cast<uint64_t>(to_send) / kPage;
    report.bytes_sent = static_cast<uint64_t>(to_send);
    report.duration = std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9));
    report.remaining_pages = static_cast<uint64_t>(dirtied) / kPage;
    run.reports.push_back(report);
    run.decisions.push_back(policy.decide(report));
    if (run.decisions.back().action != PrecopyAction::continue_copy) break;
    to_send = static_cast<double>(report.remaining_pages * kPage);
  }
  return run;
}

Simulation simulate(PrecopyPolicy& policy, const SimulatedGuest& guest) {
  return simulate(policy, guest, [](uint32_t, PrecopyPolicy&) {});
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

RoundReport report_of(uint32_t round, double bytes, std::chrono::nanoseconds duration,
                      uint64_t remaining_pages) {
  return {round, static_cast<uint64_t>(bytes) / kPage, static_cast<uint64_t>(bytes), duration,
          remaining_pages};
}

TEST(PrecopyPolicy, IdleGuestStopsAfterRoundZero) {
  PrecopyPolicy policy(PrecopySettings{});
  Simulation run = simulate(policy, {.dirty_rate = 0});
  ASSERT_EQ(run.decisions.size(), 1u);
  const PrecopyDecision& decision = run.decisions[0];
  EXPECT_EQ(decision.action, PrecopyAction::stop_and_copy);
  EXPECT_EQ(decision.expected_downtime, 0ms);
  EXPECT_EQ(decision.dirty_rate, 0.0);
  EXPECT_NEAR(decision.bandwidth, kGiB, kGiB * 0.001);
  EXPECT_TRUE(contains(decision.reason, "converged after round 0: 0 pages")) << decision.reason;
}

TEST(PrecopyPolicy, ModestDirtyRateConvergesUnderBudget) {
  // 100 MiB/s on a 1 GiB/s link: round 0 leaves 100 MiB (100 ms of copying), round 1 about 10 MiB.
  PrecopySettings settings;
  settings.max_downtime = 30ms;
  PrecopyPolicy policy(settings);
  Simulation run = simulate(policy, {.dirty_rate = 100 * kMiB});

  ASSERT_LE(run.decisions.size(), 3u);
  const PrecopyDecision& first = run.decisions.front();
  EXPECT_EQ(first.action, PrecopyAction::continue_copy);
  EXPECT_NEAR(first.dirty_rate, 100 * kMiB, kMiB);
  EXPECT_TRUE(contains(first.reason, "continuing")) << first.reason;

  const PrecopyDecision& last = run.decisions.back();
  EXPECT_EQ(last.action, PrecopyAction::stop_and_copy) << last.reason;
  EXPECT_LE(last.expected_downtime, settings.max_downtime);
  EXPECT_GT(last.expected_downtime, 0ms);
  EXPECT_NEAR(last.bandwidth, kGiB, kGiB * 0.01);
  EXPECT_NEAR(last.dirty_rate, 100 * kMiB, kMiB);
  EXPECT_TRUE(contains(last.reason, "converged")) << last.reason;

  // With the default 300 ms budget the 100 MiB left by round 0 already fits.
  PrecopyPolicy relaxed(PrecopySettings{});
  Simulation quick = simulate(relaxed, {.dirty_rate = 100 * kMiB});
  ASSERT_EQ(quick.decisions.size(), 1u);
  EXPECT_EQ(quick.decisions[0].action, PrecopyAction::stop_and_copy);
  EXPECT_NEAR(quick.decisions[0].expected_downtime.count(), 98, 1);  // 100 MiB at 1 GiB/s
}

TEST(PrecopyPolicy, GuestFasterThanLinkGivesUpWithinStallRounds) {
  PrecopySettings settings;
  settings.max_rounds = kMaxMaxRounds;  // only the stall rules may end this run
  PrecopyPolicy policy(settings);
  // 512 MiB/s into a 320 MiB working set over a 100 MiB/s link: 81920 pages remain every round.
  Simulation run = simulate(
      policy, {.link_rate = 100 * kMiB, .dirty_rate = 512 * kMiB, .working_set = 320 * kMiB});

  ASSERT_LT(run.decisions.size(), static_cast<size_t>(kMaxIterations)) << "policy never stopped";
  EXPECT_LE(run.decisions.size(), settings.stall_rounds + 1u);
  const PrecopyDecision& last = run.decisions.back();
  EXPECT_EQ(last.action, PrecopyAction::give_up);
  EXPECT_GT(last.expected_downtime, settings.max_downtime);
  EXPECT_NEAR(last.expected_downtime.count(), 3200, 5);
  EXPECT_TRUE(contains(last.reason,
                       "not converging: guest dirties 100.0 MiB/s, link carries "
                       "100.0 MiB/s; 81920 pages remain after 5 rounds without "
                       "progress (expected downtime 3.2 s > 300 ms)"))
      << last.reason;
  EXPECT_TRUE(contains(last.reason, "giving up")) << last.reason;
  for (size_t i = 0; i + 1 < run.decisions.size(); ++i) {
    EXPECT_EQ(run.decisions[i].action, PrecopyAction::continue_copy) << run.decisions[i].reason;
  }
}

TEST(PrecopyPolicy, GuestThatOutpacesTheLinkIsHopelessEvenWhileShrinking) {
  // Remaining shrinks by one page a round (so no stall), but the guest dirties twice what the link
  // carries: hopeless after stall_rounds rounds.
  PrecopySettings settings;
  settings.max_rounds = kMaxMaxRounds;
  PrecopyPolicy policy(settings);
  const uint64_t start_pages = static_cast<uint64_t>(200 * kMiB) / kPage;
  PrecopyDecision decision;
  uint32_t round = 0;
  for (; round < kMaxIterations; ++round) {
    decision = policy.decide(report_of(round, 100 * kMiB, 1s, start_pages - round));
    if (decision.action != PrecopyAction::continue_copy) break;
  }
  EXPECT_EQ(round + 1, settings.stall_rounds);
  EXPECT_EQ(decision.action, PrecopyAction::give_up);
  EXPECT_TRUE(contains(decision.reason,
                       "at least what the link carries (100.0 MiB/s), for 5 "
                       "consecutive rounds"))
      << decision.reason;
}

TEST(PrecopyPolicy, RoundsTooShortToTimeDoNotProveTheGuestOutpacesTheLink) {
  // Tiny rounds whose few dirty pages would claim a huge dirty rate; remaining keeps shrinking.
  PrecopySettings settings;
  settings.max_downtime = 1ms;
  settings.max_rounds = kMaxMaxRounds;
  PrecopyPolicy policy(settings);
  (void)policy.decide(report_of(0, 100 * kMiB, 1s, 60'000));  // measures 100 MiB/s
  for (uint32_t round = 1; round <= 4 * settings.stall_rounds; ++round) {
    PrecopyDecision decision = policy.decide(report_of(round, kMiB, 100us, 60'000 - round));
    EXPECT_GT(decision.dirty_rate, decision.bandwidth);
    ASSERT_EQ(decision.action, PrecopyAction::continue_copy) << decision.reason;
  }
}

TEST(PrecopyPolicy, ForceModeStopsAndCopiesInsteadOfGivingUp) {
  PrecopySettings settings;
  settings.on_stall = StallAction::force;
  PrecopyPolicy policy(settings);
  Simulation run = simulate(
      policy, {.link_rate = 100 * kMiB, .dirty_rate = 512 * kMiB, .working_set = 320 * kMiB});

  ASSERT_LE(run.decisions.size(), settings.stall_rounds + 1u);
  const PrecopyDecision& last = run.decisions.back();
  EXPECT_EQ(last.action, PrecopyAction::stop_and_copy);
  EXPECT_GT(last.expected_downtime, settings.max_downtime);
  EXPECT_TRUE(contains(last.reason, "not converging")) << last.reason;
  EXPECT_TRUE(contains(last.reason, "forcing stop-and-copy (on-stall force)")) << last.reason;
}

TEST(PrecopyPolicy, MaxRoundsEndsASlowlyConvergingJob) {
  // 900 MiB/s on a 1 GiB/s link shrinks remaining by only ~12% a round.
  SimulatedGuest guest{.dirty_rate = 900 * kMiB};
  PrecopySettings settings;
  settings.max_downtime = 1ms;
  settings.max_rounds = 4;
  settings.stall_rounds = 3;

  PrecopyPolicy policy(settings);
  Simulation run = simulate(policy, guest);
  ASSERT_EQ(run.decisions.size(), 4u);
  EXPECT_EQ(run.decisions.back().action, PrecopyAction::give_up);
  EXPECT_TRUE(contains(run.decisions.back().reason, "round limit reached: "))
      << run.decisions.back().reason;
  EXPECT_TRUE(contains(run.decisions.back().reason, "after 4 rounds (max-rounds 4"))
      << run.decisions.back().reason;
  EXPECT_LT(run.reports.back().remaining_pages, run.reports.front().remaining_pages);

  settings.on_stall = StallAction::force;
  PrecopyPolicy forced(settings);
  Simulation forced_run = simulate(forced, guest);
  ASSERT_EQ(forced_run.decisions.size(), 4u);
  EXPECT_EQ(forced_run.decisions.back().action, PrecopyAction::stop_and_copy);
  EXPECT_TRUE(contains(forced_run.decisions.back().reason, "round limit reached"));
}

TEST(PrecopyPolicy, MaxBandwidthCapsTheEstimate) {
  const uint64_t remaining = static_cast<uint64_t>(10 * kMiB) / kPage;
  PrecopySettings settings;
  settings.max_downtime = 50ms;

  // Measured 1 GiB/s: 10 MiB take ~10 ms.
  PrecopyPolicy uncapped(settings);
  PrecopyDecision fast = uncapped.decide(report_of(0, kGiB, 1s, remaining));
  EXPECT_EQ(fast.action, PrecopyAction::stop_and_copy);
  EXPECT_NEAR(fast.bandwidth, kGiB, 1);

  // Capped at 100 MiB/s: the same 10 MiB take 100 ms.
  settings.max_bandwidth = static_cast<uint64_t>(100 * kMiB);
  PrecopyPolicy capped(settings);
  PrecopyDecision slow = capped.decide(report_of(0, kGiB, 1s, remaining));
  EXPECT_EQ(slow.action, PrecopyAction::continue_copy);
  EXPECT_EQ(slow.bandwidth, 100 * kMiB);
  EXPECT_EQ(slow.expected_downtime, 100ms);
  EXPECT_TRUE(contains(slow.reason, "100.0 MiB/s (max-bandwidth)")) << slow.reason;
  EXPECT_NEAR(*capped.measured_bandwidth(), kGiB, 1);
}

TEST(PrecopyPolicy, SettingsChangedMidJobTakeEffectAtTheNextDecision) {
  const uint64_t remaining = static_cast<uint64_t>(50 * kMiB) / kPage;  // ~49 ms at 1 GiB/s
  PrecopySettings settings;
  settings.max_downtime = 10ms;
  PrecopyPolicy policy(settings);
  EXPECT_EQ(policy.decide(report_of(0, kGiB, 1s, remaining)).action, PrecopyAction::continue_copy);

  settings.max_downtime = 100ms;
  policy.update_settings(settings);
  PrecopyDecision relaxed = policy.decide(report_of(1, 50 * kMiB, 50ms, remaining));
  EXPECT_EQ(relaxed.action, PrecopyAction::stop_and_copy) << relaxed.reason;

  settings.max_bandwidth = static_cast<uint64_t>(10 * kMiB);  // now 50 MiB take 5 s
  policy.update_settings(settings);
  PrecopyDecision capped = policy.decide(report_of(2, 50 * kMiB, 50ms, remaining));
  EXPECT_EQ(capped.action, PrecopyAction::continue_copy) << capped.reason;
  EXPECT_EQ(capped.expected_downtime, 5000ms);

  // In the simulated loop: tighten the budget mid-job so the job must copy more rounds.
  PrecopySettings loose;
  loose.max_downtime = 300ms;
  PrecopyPolicy live(loose);
  Simulation run = simulate(live, {.dirty_rate = 100 * kMiB}, [](uint32_t round, PrecopyPolicy& p) {
    if (round == 0) {
      PrecopySettings tight = p.settings();
      tight.max_downtime = 5ms;
      p.update_settings(tight);
    }
  });
  ASSERT_GE(run.decisions.size(), 2u);
  EXPECT_LE(run.decisions.back().expected_downtime, 5ms);
  EXPECT_EQ(run.decisions.back().action, PrecopyAction::stop_and_copy);
}

TEST(PrecopyPolicy, UnmeasurableRoundsFallBackToThePreviousEstimate) {
  PrecopyPolicy policy(PrecopySettings{});

  // Too short and too small to measure, with no estimate yet: the conservative default, said so.
  PrecopyDecision guess = policy.decide(report_of(0, 8 * kPage, 20us, 10'000));
  EXPECT_EQ(guess.bandwidth, PrecopyPolicy::kDefaultBandwidth);
  EXPECT_FALSE(policy.measured_bandwidth().has_value());
  EXPECT_TRUE(contains(guess.reason, "not measured yet")) << guess.reason;

  PrecopyDecision measured = policy.decide(report_of(1, kGiB, 1s, 100'000));
  EXPECT_NEAR(measured.bandwidth, kGiB, 1);
  EXPECT_FALSE(contains(measured.reason, "not measured yet")) << measured.reason;

  // 40 KiB in 10 us would claim 4 GB/s; 1 MiB in 0.5 ms would claim 2 GB/s: both ignored.
  EXPECT_NEAR(policy.decide(report_of(2, 10 * kPage, 10us, 99'000)).bandwidth, kGiB, 1);
  EXPECT_NEAR(policy.decide(report_of(3, kMiB, 500us, 98'000)).bandwidth, kGiB, 1);
}

TEST(PrecopyPolicy, BandwidthIsSmoothedOverRecentRounds) {
  PrecopyPolicy policy(PrecopySettings{});
  (void)policy.decide(report_of(0, kGiB, 1s, 100'000));
  PrecopyDecision dip = policy.decide(report_of(1, 250 * kMiB, 1s, 90'000));
  EXPECT_GT(dip.bandwidth, 250 * kMiB);
  EXPECT_LT(dip.bandwidth, kGiB);
  // After a window of slow rounds the fast one no longer counts.
  for (uint32_t round = 2; round < 2 + PrecopyPolicy::kBandwidthWindow; ++round) {
    dip = policy.decide(report_of(round, 250 * kMiB, 1s, 90'000 - round));
  }
  EXPECT_NEAR(dip.bandwidth, 250 * kMiB, 1);
}

TEST(PrecopyPolicy, AlwaysTerminatesOnRandomTraces) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 random(seed);
    PrecopySettings settings;
    settings.max_downtime = std::chrono::milliseconds(1 + random() % 500);
    settings.max_rounds = 1 + random() % 60;
    settings.stall_rounds = 1 + random() % settings.max_rounds;
    settings.max_bandwidth = random() % 2 ? 0 : kMinMaxBandwidth + random() % (1ull << 31);
    settings.on_stall = random() % 2 ? StallAction::abort : StallAction::force;
    ASSERT_TRUE(validate(settings).ok());
    PrecopyPolicy policy(settings);

    uint32_t round = 0;
    PrecopyDecision decision;
    for (; round < kMaxIterations; ++round) {
      RoundReport report;
      report.round = round;
      report.bytes_sent = random() % (1ull << 32);
      report.pages_sent = report.bytes_sent / kPage;
      report.duration = std::chrono::nanoseconds(random() % 5'000'000'000);
      report.remaining_pages = random() % 500'000;
      decision = policy.decide(report);
      ASSERT_FALSE(decision.reason.empty());
      ASSERT_GT(decision.bandwidth, 0.0);
      if (decision.action == PrecopyAction::stop_and_copy &&
          settings.on_stall == StallAction::abort) {
        ASSERT_LE(decision.expected_downtime, settings.max_downtime) << decision.reason;
      }
      if (decision.action != PrecopyAction::continue_copy) break;
    }
    ASSERT_LT(round, settings.max_rounds) << "seed " << seed << " ran past max-rounds";
  }
}

TEST(PrecopyPolicy, ActionNames) {
  EXPECT_EQ(precopy_action_name(PrecopyAction::continue_copy), "continue");
  EXPECT_EQ(precopy_action_name(PrecopyAction::stop_and_copy), "stop-and-copy");
  EXPECT_EQ(precopy_action_name(PrecopyAction::give_up), "give-up");
}

}  // namespace
}  // namespace ferry
