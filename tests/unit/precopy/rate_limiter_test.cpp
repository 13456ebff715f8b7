#include "engine/precopy/rate_limiter.h"

#include <algorithm>
#include <array>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kBatch = 256 * 1024;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// One sender on a simulated clock: wait what the limiter says, then send a batch instantly.
// Returns the achieved rate in bytes/s over `span`.
double paced_rate(RateLimiter& limiter, Clock::time_point& now, Clock::duration span) {
  const Clock::time_point start = now;
  uint64_t sent = 0;
  while (now - start < span) {
    now += limiter.delay_for(kBatch, now);
    sent += kBatch;
  }
  return static_cast<double>(sent) / seconds(now - start);
}

TEST(RateLimiter, UnlimitedNeverDelays) {
  RateLimiter limiter;
  EXPECT_EQ(limiter.rate(), 0u);
  Clock::time_point now{};
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.delay_for(64 * kMiB, now), 0ns);
}

TEST(RateLimiter, OneStreamIsPacedToTheRate) {
  const uint64_t rate = 100 * kMiB;
  RateLimiter limiter(rate);
  Clock::time_point now{};
  const double achieved = paced_rate(limiter, now, 10s);
  EXPECT_NEAR(achieved, static_cast<double>(rate), rate * 0.02);
}

TEST(RateLimiter, SeveralStreamsShareTheRate) {
  // Four streams, each on its own clock, each batch taking real time on a 1 GiB/s link; the one
  // whose clock is earliest sends next, as threads would.
  const uint64_t rate = 200 * kMiB;
  RateLimiter limiter(rate);
  const auto send_time = std::chrono::nanoseconds(kBatch * 1'000'000'000 / (1024 * kMiB));
  std::array<Clock::time_point, 4> clocks{};
  uint64_t sent = 0;
  while (true) {
    auto next = std::min_element(clocks.begin(), clocks.end());
    if (*next - Clock::time_point{} >= 10s) break;
    *next += limiter.delay_for(kBatch, *next) + send_time;
    sent += kBatch;
  }
  const auto end = *std::max_element(clocks.begin(), clocks.end());
  const double achieved = static_cast<double>(sent) / seconds(end - Clock::time_point{});
  EXPECT_NEAR(achieved, static_cast<double>(rate), rate * 0.02);
}

TEST(RateLimiter, SlowSenderIsNeverDelayed) {
  RateLimiter limiter(100 * kMiB);
  Clock::time_point now{};
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(limiter.delay_for(kBatch, now), 0ns);
    now += 10ms;  // 25 MiB/s
  }
}

TEST(RateLimiter, IdleTimeBuysOnlyABoundedBurst) {
  const uint64_t rate = 100 * kMiB;
  RateLimiter limiter(rate);
  Clock::time_point now{};
  EXPECT_EQ(limiter.delay_for(0, now), 0ns);
  now += 10s;
  // One second's worth at once: only kBurst of it was saved up, the rest must be waited out.
  const auto delay = limiter.delay_for(rate, now);
  EXPECT_NEAR(seconds(delay), 1.0 - seconds(RateLimiter::kBurst), 1e-6);
}

TEST(RateLimiter, SetRateChangesThePace) {
  RateLimiter limiter(100 * kMiB);
  Clock::time_point now{};
  EXPECT_NEAR(paced_rate(limiter, now, 5s), 100.0 * kMiB, 2.0 * kMiB);
  limiter.set_rate(50 * kMiB);
  EXPECT_EQ(limiter.rate(), 50 * kMiB);
  EXPECT_NEAR(paced_rate(limiter, now, 5s), 50.0 * kMiB, 1.0 * kMiB);
  limiter.set_rate(0);
  EXPECT_EQ(limiter.delay_for(kMiB * 1024, now), 0ns);
  limiter.set_rate(10 * kMiB);
  EXPECT_NEAR(paced_rate(limiter, now, 5s), 10.0 * kMiB, 0.2 * kMiB);
}

TEST(RateLimiter, ConcurrentCallersAreAllCharged) {
  const uint64_t rate = 100 * kMiB;
  RateLimiter limiter(rate);
  const Clock::time_point now{};
  EXPECT_EQ(limiter.delay_for(0, now), 0ns);  // starts the bucket full at `now`
  constexpr int kThreads = 4;
  constexpr int kCalls = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) (void)limiter.delay_for(kBatch, now);
    });
  }
  for (std::thread& thread : threads) thread.join();
  // Every batch is queued: the next byte waits for all of them, less the initial burst.
  const double charged = static_cast<double>(kThreads) * kCalls * kBatch;
  const double burst = static_cast<double>(rate) * seconds(RateLimiter::kBurst);
  EXPECT_NEAR(seconds(limiter.delay_for(0, now)), (charged - burst) / rate, 1e-6);
}

}  // namespace
}  // namespace ferry
