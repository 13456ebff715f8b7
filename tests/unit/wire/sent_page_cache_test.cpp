#include "engine/wire/sent_page_cache.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace ferry::wire {
namespace {

std::array<std::byte, kPageSize> filled(uint8_t value) {
  std::array<std::byte, kPageSize> page;
  page.fill(std::byte{value});
  return page;
}

TEST(SentPageCache, FindsWhatWasStoredAndNothingElse) {
  SentPageCache cache(1000);
  EXPECT_EQ(cache.slots(), 1024u);
  EXPECT_EQ(cache.find(0, 5), nullptr);
  const auto a = filled(0xA1);
  cache.store(0, 5, a.data());
  ASSERT_NE(cache.find(0, 5), nullptr);
  EXPECT_EQ(std::memcmp(cache.find(0, 5), a.data(), kPageSize), 0);
  EXPECT_EQ(cache.find(1, 5), nullptr);  // same page number, other region
  EXPECT_EQ(cache.find(0, 6), nullptr);
  cache.store_zero(0, 5);
  const auto zero = filled(0);
  EXPECT_EQ(std::memcmp(cache.find(0, 5), zero.data(), kPageSize), 0);
}

TEST(SentPageCache, EvictionNeverReturnsAnotherPagesCopy) {
  SentPageCache cache(16);
  // Far more pages than slots, each store old enough to evict: each lookup is either the page's
  // own latest copy or a miss.
  for (uint64_t page = 0; page < 1000; ++page) {
    cache.start_round();
    cache.start_round();
    const auto copy = filled(static_cast<uint8_t>(page));
    EXPECT_TRUE(cache.store(page % 3, page, copy.data()));
  }
  int hits = 0;
  for (uint64_t page = 0; page < 1000; ++page) {
    const std::byte* found = cache.find(page % 3, page);
    if (!found) continue;
    ++hits;
    EXPECT_EQ(found[0], std::byte{static_cast<uint8_t>(page)}) << "page " << page;
    EXPECT_EQ(found[kPageSize - 1], std::byte{static_cast<uint8_t>(page)});
  }
  EXPECT_GT(hits, 0);
  EXPECT_LE(hits, 16);
}

TEST(SentPageCache, AnotherPageEvictsOnlyACopyFromTwoRoundsAgo) {
  SentPageCache cache(0);
  EXPECT_EQ(cache.slots(), 1u);
  const auto a = filled(1), b = filled(2), a2 = filled(3);
  EXPECT_TRUE(cache.store(0, 1, a.data()));
  EXPECT_FALSE(cache.store(0, 2, b.data()));  // page 1's copy is fresh
  EXPECT_EQ(cache.find(0, 2), nullptr);
  EXPECT_TRUE(cache.store(0, 1, a2.data()));  // its own copy is always replaced
  EXPECT_EQ(cache.find(0, 1)[0], std::byte{3});
  cache.start_round();
  EXPECT_FALSE(cache.store(0, 2, b.data()));
  cache.start_round();
  EXPECT_TRUE(cache.store(0, 2, b.data()));
  EXPECT_EQ(cache.find(0, 1), nullptr);
  ASSERT_NE(cache.find(0, 2), nullptr);
  EXPECT_EQ(cache.find(0, 2)[0], std::byte{2});
}

}  // namespace
}  // namespace ferry::wire
