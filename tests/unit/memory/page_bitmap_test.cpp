#include "engine/memory/page_bitmap.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace ferry {
namespace {

std::vector<uint64_t> set_pages(const PageBitmap& bitmap) {
  std::vector<uint64_t> pages;
  bitmap.for_each([&](uint64_t page) { pages.push_back(page); });
  return pages;
}

TEST(PageBitmap, StartsEmpty) {
  PageBitmap bitmap(200);
  EXPECT_EQ(bitmap.size(), 200u);
  EXPECT_EQ(bitmap.count(), 0u);
  EXPECT_TRUE(bitmap.empty());
  EXPECT_EQ(bitmap.find_next(0), 200u);
  EXPECT_EQ(bitmap.words().size(), 4u);
}

TEST(PageBitmap, SetTestClearAtWordEdges) {
  PageBitmap bitmap(130);
  for (uint64_t page : {0u, 63u, 64u, 127u, 128u, 129u}) {
    bitmap.set(page);
    EXPECT_TRUE(bitmap.test(page)) << page;
  }
  EXPECT_EQ(bitmap.count(), 6u);
  EXPECT_FALSE(bitmap.test(1));
  EXPECT_FALSE(bitmap.test(62));
  EXPECT_FALSE(bitmap.test(65));
  EXPECT_EQ(set_pages(bitmap), (std::vector<uint64_t>{0, 63, 64, 127, 128, 129}));
  bitmap.clear(63);
  bitmap.clear(129);
  EXPECT_FALSE(bitmap.test(63));
  EXPECT_FALSE(bitmap.test(129));
  EXPECT_EQ(set_pages(bitmap), (std::vector<uint64_t>{0, 64, 127, 128}));
}

TEST(PageBitmap, SetRangeInsideOneWord) {
  PageBitmap bitmap(64);
  bitmap.set_range(3, 5);
  EXPECT_EQ(set_pages(bitmap), (std::vector<uint64_t>{3, 4, 5, 6, 7}));
  bitmap.set_range(63, 1);
  EXPECT_TRUE(bitmap.test(63));
  EXPECT_EQ(bitmap.count(), 6u);
}

TEST(PageBitmap, SetRangeCrossingWords) {
  PageBitmap bitmap(300);
  bitmap.set_range(60, 200);  // words 0..4, partial at both ends, full words between
  EXPECT_EQ(bitmap.count(), 200u);
  EXPECT_FALSE(bitmap.test(59));
  EXPECT_TRUE(bitmap.test(60));
  EXPECT_TRUE(bitmap.test(259));
  EXPECT_FALSE(bitmap.test(260));
  EXPECT_EQ(bitmap.find_next(0), 60u);
  EXPECT_EQ(bitmap.find_next(259), 259u);
  EXPECT_EQ(bitmap.find_next(260), 300u);
}

TEST(PageBitmap, SetRangeExactWords) {
  PageBitmap bitmap(256);
  bitmap.set_range(64, 128);
  EXPECT_EQ(bitmap.words()[0], 0u);
  EXPECT_EQ(bitmap.words()[1], ~uint64_t{0});
  EXPECT_EQ(bitmap.words()[2], ~uint64_t{0});
  EXPECT_EQ(bitmap.words()[3], 0u);
}

TEST(PageBitmap, SetRangeClipsToSize) {
  PageBitmap bitmap(100);
  bitmap.set_range(90, 50);
  EXPECT_EQ(bitmap.count(), 10u);
  EXPECT_TRUE(bitmap.test(99));
  bitmap.set_range(100, 5);
  bitmap.set_range(5000, 5);
  bitmap.set_range(0, 0);
  EXPECT_EQ(bitmap.count(), 10u);
  EXPECT_EQ(bitmap.words()[1] >> (100 - 64), 0u) << "no bit past size()";
}

TEST(PageBitmap, SetAllKeepsBitsPastSizeClear) {
  PageBitmap bitmap(130);
  bitmap.set_all();
  EXPECT_EQ(bitmap.count(), 130u);
  EXPECT_EQ(bitmap.words()[2], 0b11u);
  EXPECT_EQ(set_pages(bitmap).back(), 129u);
  bitmap.clear_all();
  EXPECT_TRUE(bitmap.empty());

  PageBitmap whole_words(128);
  whole_words.set_all();
  EXPECT_EQ(whole_words.count(), 128u);
}

TEST(PageBitmap, FindNextWalksEverySetPage) {
  PageBitmap bitmap(1000);
  const std::vector<uint64_t> expected{0, 1, 63, 64, 65, 500, 998, 999};
  for (uint64_t page : expected) bitmap.set(page);
  std::vector<uint64_t> found;
  for (uint64_t page = bitmap.find_next(0); page < bitmap.size();
       page = bitmap.find_next(page + 1)) {
    found.push_back(page);
  }
  EXPECT_EQ(found, expected);
  EXPECT_EQ(bitmap.find_next(2), 63u);
  EXPECT_EQ(bitmap.find_next(66), 500u);
  EXPECT_EQ(bitmap.find_next(1000), 1000u);
  EXPECT_EQ(bitmap.find_next(5000), 1000u);
}

TEST(PageBitmap, MergeOrs) {
  PageBitmap a(200), b(200);
  a.set(1);
  a.set(150);
  b.set(1);
  b.set(64);
  b.set(199);
  a.merge(b);
  EXPECT_EQ(set_pages(a), (std::vector<uint64_t>{1, 64, 150, 199}));
  EXPECT_EQ(set_pages(b), (std::vector<uint64_t>{1, 64, 199}));
}

TEST(PageBitmap, MatchesASetUnderRandomOperations) {
  std::mt19937_64 random(42);
  for (uint64_t size : {1u, 63u, 64u, 65u, 777u, 4096u}) {
    PageBitmap bitmap(size);
    std::set<uint64_t> model;
    for (int step = 0; step < 2000; ++step) {
      const uint64_t page = random() % size;
      switch (random() % 4) {
        case 0:
          bitmap.set(page);
          model.insert(page);
          break;
        case 1:
          bitmap.clear(page);
          model.erase(page);
          break;
        case 2: {
          const uint64_t count = random() % 150;
          bitmap.set_range(page, count);
          for (uint64_t p = page; p < page + count && p < size; ++p) model.insert(p);
          break;
        }
        case 3: {
          const uint64_t from = random() % (size + 2);
          auto it = model.lower_bound(from);
          ASSERT_EQ(bitmap.find_next(from), it == model.end() ? size : *it);
          break;
        }
      }
    }
    EXPECT_EQ(bitmap.count(), model.size()) << "size " << size;
    EXPECT_EQ(set_pages(bitmap), std::vector<uint64_t>(model.begin(), model.end()));
  }
}

}  // namespace
}  // namespace ferry
