#include "engine/wire/auto_compression.h"

#include <gtest/gtest.h>

namespace ferry::wire {
namespace {

using namespace std::chrono_literals;

// Per-page costs in the ballpark measured on this machine (bench/micro): raw ~0.3 us (copy +
// checksum), lz4 ~2 us at ratio 0.35, zstd ~8 us at ratio 0.25.
void sample_round(AutoCompression& policy, int pages = 64) {
  for (int i = 0; i < pages; ++i) {
    policy.record_sample(PageEncoding::raw, 4096, 300ns);
    policy.record_sample(PageEncoding::lz4, 1434, 2us);
    policy.record_sample(PageEncoding::zstd, 1024, 8us);
  }
}

AutoCompression make_policy() {
  return AutoCompression({PageEncoding::raw, PageEncoding::lz4, PageEncoding::zstd});
}

TEST(AutoCompression, StartsRawAndAlwaysHasRaw) {
  AutoCompression policy({PageEncoding::lz4});
  EXPECT_EQ(policy.current(), PageEncoding::raw);
  ASSERT_EQ(policy.candidates().size(), 2u);
  EXPECT_EQ(policy.candidates()[0], PageEncoding::raw);
}

TEST(AutoCompression, CpuBoundStaysRaw) {
  auto policy = make_policy();
  sample_round(policy);
  // 1 GiB in 0.5 s, never waiting on the socket: the link is not the bottleneck.
  EXPECT_EQ(policy.decide(1ull << 30, 500ms, 1ms), PageEncoding::raw);
  EXPECT_FALSE(policy.link_rate().has_value());
  EXPECT_NE(policy.explanation().find("not bound"), std::string::npos) << policy.explanation();
}

TEST(AutoCompression, VerySlowLinkPicksTheStrongestCodec) {
  auto policy = make_policy();
  sample_round(policy);
  // 20 MB/s link, the sender waiting 90% of the time: per byte raw costs 0.07 + 50 ns,
  // lz4 0.49 + 17.5, zstd 1.95 + 12.5: zstd.
  EXPECT_EQ(policy.decide(20'000'000, 1s, 900ms), PageEncoding::zstd);
  ASSERT_TRUE(policy.link_rate().has_value());
  EXPECT_DOUBLE_EQ(*policy.link_rate(), 20e6);
}

TEST(AutoCompression, SlowLinkPicksLz4WhenZstdCostsMoreCpuThanItSaves) {
  auto policy = make_policy();
  sample_round(policy);
  // 100 MB/s: lz4 0.49 + 3.5 = 4.0, zstd 1.95 + 2.5 = 4.45, raw 10.07 ns per byte.
  EXPECT_EQ(policy.decide(100'000'000, 1s, 900ms), PageEncoding::lz4);
}

TEST(AutoCompression, MediumLinkPicksLz4) {
  auto policy = make_policy();
  sample_round(policy);
  // 1 GB/s: raw 0.07 + 1.0, lz4 0.49 + 0.35, zstd 1.95 + 0.25 ns per byte: lz4.
  EXPECT_EQ(policy.decide(1'000'000'000, 1s, 500ms), PageEncoding::lz4);
}

TEST(AutoCompression, FastLinkStaysRaw) {
  auto policy = make_policy();
  sample_round(policy);
  // 10 GB/s and link-bound: raw 0.07 + 0.1 beats lz4 0.49 + 0.035.
  EXPECT_EQ(policy.decide(10'000'000'000, 1s, 500ms), PageEncoding::raw);
}

TEST(AutoCompression, GoesBackToRawWhenTheLinkSpeedsUp) {
  auto policy = make_policy();
  sample_round(policy);
  ASSERT_EQ(policy.decide(1'000'000'000, 1s, 500ms), PageEncoding::lz4);
  // Under lz4 the sender no longer waits, and the link carried 12 GB/s worth: not the bottleneck.
  sample_round(policy);
  EXPECT_EQ(policy.decide(12'000'000'000, 1s, 0ms), PageEncoding::raw);
}

TEST(AutoCompression, SmallGainsDoNotSwitch) {
  AutoCompression policy({PageEncoding::raw, PageEncoding::lz4});
  for (int i = 0; i < 64; ++i) {
    policy.record_sample(PageEncoding::raw, 4096, 4096ns);  // 1 ns/B
    policy.record_sample(PageEncoding::lz4, 3891, 4096ns);  // 1 ns/B at ratio 0.95
  }
  // 1 GB/s: raw 2.0, lz4 1.95 ns/B: under 10% better, stays raw.
  EXPECT_EQ(policy.decide(1'000'000'000, 1s, 900ms), PageEncoding::raw);
  EXPECT_NEAR(*policy.cost(PageEncoding::raw), 2e-9, 1e-11);
}

TEST(AutoCompression, UnmeasuredCandidatesAreNotChosen) {
  auto policy = make_policy();
  for (int i = 0; i < 8; ++i) policy.record_sample(PageEncoding::raw, 4096, 300ns);
  EXPECT_EQ(policy.decide(100'000'000, 1s, 900ms), PageEncoding::raw);
  EXPECT_FALSE(policy.cost(PageEncoding::lz4).has_value());
  EXPECT_NE(policy.explanation().find("lz4 unmeasured"), std::string::npos) << policy.explanation();
}

TEST(AutoCompression, TinyRoundsDoNotMeasureTheLink) {
  auto policy = make_policy();
  sample_round(policy);
  EXPECT_EQ(policy.decide(4096, 1s, 1s), PageEncoding::raw);
  EXPECT_FALSE(policy.link_rate().has_value());
}

}  // namespace
}  // namespace ferry::wire
