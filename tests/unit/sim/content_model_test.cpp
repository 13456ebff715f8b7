#include "engine/vm/sim/content_model.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/memory/page.h"

namespace ferry::sim {
namespace {

// Plays writes [from, to) of `model` into `memory` the way the guest's writer does.
void play_writes(const ContentModel& model, std::vector<std::byte>& memory, uint64_t from,
                 uint64_t to) {
  for (uint64_t w = from; w < to; ++w) {
    const uint64_t page = model.page_of_write(w);
    write_page_content(memory.data() + page * kPageSize, model.seed, page, w);
  }
}

std::vector<std::byte> filled_memory(const ContentModel& model) {
  std::vector<std::byte> memory(model.memory_pages * kPageSize);
  for (uint64_t p = 0; p < model.fill_pages; ++p) {
    write_page_content(memory.data() + p * kPageSize, model.seed, p, kFillWrite);
  }
  return memory;
}

ContentModel small_model(WritePattern pattern) {
  return {.seed = 7, .pattern = pattern, .memory_pages = 64, .wss_pages = 40, .fill_pages = 48};
}

TEST(ContentModel, PageContentCarriesHeaderAndMatchesOnlyItsOwnWrite) {
  std::vector<std::byte> page(kPageSize);
  write_page_content(page.data(), 9, 123, 456);
  const PageHeader h = read_page_header(page.data());
  EXPECT_EQ(h.magic, kPageMagic);
  EXPECT_EQ(h.page, 123u);
  EXPECT_EQ(h.write, 456u);
  EXPECT_EQ(h.seed, 9u);
  EXPECT_TRUE(page_matches(page.data(), 9, 123, 456));
  EXPECT_FALSE(page_matches(page.data(), 9, 123, 455));
  EXPECT_FALSE(page_matches(page.data(), 9, 124, 456));
  EXPECT_FALSE(page_matches(page.data(), 8, 123, 456));
  EXPECT_FALSE(page_matches(page.data(), 9, 123, kNeverWritten));
  // One flipped bit in the body (not the header) is caught.
  page[kPageSize - 1] ^= std::byte{1};
  EXPECT_FALSE(page_matches(page.data(), 9, 123, 456));
}

TEST(ContentModel, CompressibleBodiesKeepSixteenBitsAWordAndVerifyOnlyAsCompressible) {
  std::vector<std::byte> page(kPageSize);
  write_page_content(page.data(), 9, 123, 456, PageContent::compressible);
  EXPECT_EQ(read_page_header(page.data()).write, 456u);
  uint64_t nonzero_low = 0;
  for (std::size_t i = kPageHeaderBytes; i < kPageSize; i += 8) {
    uint64_t word;
    std::memcpy(&word, page.data() + i, 8);
    EXPECT_EQ(word >> 16, 0u) << "offset " << i;
    nonzero_low += word != 0;
  }
  EXPECT_GT(nonzero_low, 500u);  // still PRNG output, not a constant
  EXPECT_TRUE(page_matches(page.data(), 9, 123, 456, PageContent::compressible));
  EXPECT_FALSE(page_matches(page.data(), 9, 123, 456, PageContent::random));
  EXPECT_FALSE(page_matches(page.data(), 9, 123, 455, PageContent::compressible));
  ASSERT_EQ(parse_content("compressible"), PageContent::compressible);
  ASSERT_EQ(parse_content("random"), PageContent::random);
  EXPECT_FALSE(parse_content("zeros"));

  ContentModel model = small_model(WritePattern::uniform);
  model.content = PageContent::compressible;
  std::vector<std::byte> memory(model.memory_pages * kPageSize);
  for (uint64_t p = 0; p < model.fill_pages; ++p)
    write_page_content(memory.data() + p * kPageSize, model.seed, p, kFillWrite,
                       PageContent::compressible);
  EXPECT_TRUE(verify_memory(model, 0, memory).ok());
  model.content = PageContent::random;
  EXPECT_EQ(verify_memory(model, 0, memory).pages_bad, model.fill_pages);
}

TEST(ContentModel, BodiesOfDifferentWritesDiffer) {
  std::vector<std::byte> a(kPageSize), b(kPageSize);
  write_page_content(a.data(), 1, 5, 10);
  write_page_content(b.data(), 1, 5, 11);
  EXPECT_NE(std::memcmp(a.data() + kPageHeaderBytes, b.data() + kPageHeaderBytes,
                        kPageSize - kPageHeaderBytes),
            0);
}

TEST(ContentModel, EveryPatternStaysInTheWorkingSet) {
  for (auto pattern : {WritePattern::uniform, WritePattern::hot, WritePattern::sequential}) {
    ContentModel m = small_model(pattern);
    std::vector<int> hits(m.memory_pages);
    for (uint64_t w = 0; w < 20000; ++w) {
      const uint64_t p = m.page_of_write(w);
      ASSERT_LT(p, m.wss_pages) << pattern_name(pattern) << " write " << w;
      ++hits[p];
    }
    // Uniform and sequential reach every working-set page in 20000 writes over 40 pages.
    if (pattern != WritePattern::hot) {
      for (uint64_t p = 0; p < m.wss_pages; ++p)
        EXPECT_GT(hits[p], 0) << pattern_name(pattern) << p;
    }
  }
}

TEST(ContentModel, HotPatternSendsNinetyPercentToTheFirstTenth) {
  ContentModel m{.seed = 3,
                 .pattern = WritePattern::hot,
                 .memory_pages = 10000,
                 .wss_pages = 10000,
                 .fill_pages = 0};
  uint64_t hot = 0;
  const uint64_t n = 100000;
  for (uint64_t w = 0; w < n; ++w) hot += m.page_of_write(w) < 1000;
  EXPECT_NEAR(static_cast<double>(hot) / n, 0.9, 0.01);
}

TEST(ContentModel, SequentialReplayMatchesBruteForce) {
  ContentModel m = small_model(WritePattern::sequential);
  for (uint64_t writes : {0ull, 1ull, 39ull, 40ull, 41ull, 1000ull, 1001ull}) {
    std::vector<uint64_t> brute(m.memory_pages, kNeverWritten);
    std::fill_n(brute.begin(), m.fill_pages, kFillWrite);
    for (uint64_t w = 0; w < writes; ++w) brute[m.page_of_write(w)] = w;
    EXPECT_EQ(m.expected_last_writes(writes), brute) << "writes " << writes;
  }
}

TEST(ContentModel, ReplayedMemoryVerifiesForEveryPattern) {
  for (auto pattern : {WritePattern::uniform, WritePattern::hot, WritePattern::sequential}) {
    ContentModel m = small_model(pattern);
    auto memory = filled_memory(m);
    EXPECT_TRUE(verify_memory(m, 0, memory).ok()) << pattern_name(pattern);
    play_writes(m, memory, 0, 500);
    VerifyReport report = verify_memory(m, 500, memory);
    EXPECT_TRUE(report.ok()) << pattern_name(pattern) << ": " << report.describe();
    EXPECT_EQ(report.pages_checked, m.memory_pages);
  }
}

TEST(ContentModel, StalePageIsReportedWithTheOlderWrite) {
  ContentModel m = small_model(WritePattern::uniform);
  auto memory = filled_memory(m);
  play_writes(m, memory, 0, 300);
  auto old_copy = memory;  // the state after 300 writes: what a lost dirty page leaves behind
  play_writes(m, memory, 300, 600);
  const auto last = m.expected_last_writes(600);
  // A page rewritten in [300, 600) whose copy from before 300 now goes back.
  uint64_t stale_page = m.memory_pages;
  for (uint64_t p = 0; p < m.wss_pages && stale_page == m.memory_pages; ++p) {
    if (last[p] >= 300 && last[p] != kFillWrite) stale_page = p;
  }
  ASSERT_LT(stale_page, m.memory_pages);
  std::memcpy(memory.data() + stale_page * kPageSize, old_copy.data() + stale_page * kPageSize,
              kPageSize);

  VerifyReport report = verify_memory(m, 600, memory);
  ASSERT_EQ(report.pages_bad, 1u) << report.describe();
  ASSERT_EQ(report.first_bad.size(), 1u);
  EXPECT_EQ(report.first_bad[0].page, stale_page);
  EXPECT_EQ(report.first_bad[0].expected_write, last[stale_page]);
  const uint64_t found = report.first_bad[0].found.write;
  EXPECT_TRUE(found == kFillWrite || found < last[stale_page]) << found;
  EXPECT_NE(report.describe().find("stale"), std::string::npos) << report.describe();
}

TEST(ContentModel, ZeroedPageIsReported) {
  ContentModel m = small_model(WritePattern::hot);
  auto memory = filled_memory(m);
  play_writes(m, memory, 0, 100);
  std::memset(memory.data() + 45 * kPageSize, 0, kPageSize);  // a fill page outside the wss
  VerifyReport report = verify_memory(m, 100, memory);
  ASSERT_EQ(report.pages_bad, 1u);
  EXPECT_EQ(report.first_bad[0].page, 45u);
  EXPECT_EQ(report.first_bad[0].expected_write, kFillWrite);
  EXPECT_TRUE(report.first_bad[0].found_zero);
  EXPECT_NE(report.describe().find("all-zero"), std::string::npos) << report.describe();
}

TEST(ContentModel, NonZeroPageBeyondFillIsReported) {
  ContentModel m = small_model(WritePattern::sequential);
  auto memory = filled_memory(m);
  memory[60 * kPageSize + 100] = std::byte{1};
  VerifyReport report = verify_memory(m, 0, memory);
  ASSERT_EQ(report.pages_bad, 1u);
  EXPECT_EQ(report.first_bad[0].page, 60u);
  EXPECT_EQ(report.first_bad[0].expected_write, kNeverWritten);
}

TEST(ContentModel, PageCopiedFromElsewhereIsReported) {
  ContentModel m = small_model(WritePattern::uniform);
  auto memory = filled_memory(m);
  std::memcpy(memory.data() + 2 * kPageSize, memory.data() + 3 * kPageSize, kPageSize);
  VerifyReport report = verify_memory(m, 0, memory);
  ASSERT_EQ(report.pages_bad, 1u);
  EXPECT_EQ(report.first_bad[0].found.page, 3u);
  EXPECT_NE(report.describe().find("content of page 3"), std::string::npos) << report.describe();
}

TEST(VerifyReport, MergeKeepsTheLowestPagesAndTheTotal) {
  VerifyReport a, b;
  for (uint64_t p = 100; p < 110; ++p) a.add_bad({p, 1, {}, true});
  for (uint64_t p = 0; p < 3; ++p) b.add_bad({p, 1, {}, true});
  a.pages_checked = 500;
  b.pages_checked = 500;
  a.merge(b);
  EXPECT_EQ(a.pages_bad, 13u);
  EXPECT_EQ(a.pages_checked, 1000u);
  ASSERT_EQ(a.first_bad.size(), VerifyReport::kMaxListed);
  EXPECT_EQ(a.first_bad[0].page, 0u);
  EXPECT_EQ(a.first_bad[3].page, 100u);
  EXPECT_NE(a.describe().find("13 bad pages of 1000"), std::string::npos);
}

TEST(ContentModel, PatternNamesRoundTrip) {
  for (auto pattern : {WritePattern::uniform, WritePattern::hot, WritePattern::sequential}) {
    EXPECT_EQ(parse_pattern(pattern_name(pattern)), pattern);
  }
  EXPECT_FALSE(parse_pattern("random"));
}

}  // namespace
}  // namespace ferry::sim
