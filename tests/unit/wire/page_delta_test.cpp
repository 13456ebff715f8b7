#include "engine/wire/page_delta.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "engine/memory/page.h"
#include "engine/wire/pages.h"
#include "tests/unit/wire/test_bytes.h"

namespace ferry::wire {
namespace {

using Page = std::array<std::byte, kPageSize>;

Page random_page(uint32_t seed) {
  Page page;
  auto bytes = test::random_bytes(kPageSize, seed);
  std::memcpy(page.data(), bytes.data(), kPageSize);
  return page;
}

// Encodes `current` against `previous`, applies it to a copy of `previous`, and checks the result.
std::size_t round_trip(const Page& previous, const Page& current) {
  std::vector<std::byte> out(kMaxEncodedPageBytes);
  const std::size_t n = encode_page_delta(previous.data(), current.data(), out);
  EXPECT_GT(n, 0u);
  Page applied = previous;
  auto result = apply_page_delta({out.data(), n}, applied.data());
  EXPECT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(applied, current);
  return n;
}

TEST(PageDelta, UnchangedPageIsThreeBytes) {
  const Page page = random_page(1);
  EXPECT_EQ(round_trip(page, page), 3u);
}

TEST(PageDelta, FirstAndLastByteChanged) {
  const Page previous = random_page(2);
  Page current = previous;
  current[0] ^= std::byte{0xff};
  current[kPageSize - 1] ^= std::byte{0x01};
  // {0, 1, b} then {4094, 1, b}: 3 + 4 bytes.
  EXPECT_EQ(round_trip(previous, current), 7u);
}

TEST(PageDelta, ScatteredSmallChangesStaySmall) {
  const Page previous = random_page(3);
  Page current = previous;
  std::mt19937 rng(3);
  for (int i = 0; i < 40; ++i) current[rng() % kPageSize] ^= std::byte{0x5a};
  const std::size_t n = round_trip(previous, current);
  EXPECT_LT(n, 40u * 4u);
}

TEST(PageDelta, SingleEqualByteInsideARunIsCarried) {
  const Page previous = random_page(4);
  Page current = previous;
  for (std::size_t i = 100; i < 110; ++i)
    if (i != 105) current[i] ^= std::byte{0x80};
  // One pair covering 100..109 (the equal byte at 105 rides along): 1 + 1 + 10.
  EXPECT_EQ(round_trip(previous, current), 12u);
}

TEST(PageDelta, RandomEditsRoundTrip) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 500; ++trial) {
    const Page previous = random_page(static_cast<uint32_t>(trial));
    Page current = previous;
    const int edits = static_cast<int>(rng() % 64);
    for (int i = 0; i < edits; ++i) {
      const std::size_t at = rng() % kPageSize;
      const std::size_t len = 1 + rng() % 48;
      for (std::size_t j = at; j < std::min(kPageSize, at + len); ++j)
        current[j] = static_cast<std::byte>(rng());
    }
    std::vector<std::byte> out(kMaxEncodedPageBytes);
    const std::size_t n = encode_page_delta(previous.data(), current.data(), out);
    if (n == 0) continue;  // cannot happen with this output size, checked below
    Page applied = previous;
    ASSERT_TRUE(apply_page_delta({out.data(), n}, applied.data()).ok());
    ASSERT_EQ(applied, current) << "trial " << trial;
  }
}

TEST(PageDelta, DoesNotFitReturnsZero) {
  const Page previous = random_page(6);
  const Page current = random_page(7);
  std::vector<std::byte> out(kPageSize - 256);
  EXPECT_EQ(encode_page_delta(previous.data(), current.data(), out), 0u);
  // The same change fits when the room is there, and costs a little more than the page.
  std::vector<std::byte> large(kMaxEncodedPageBytes);
  const std::size_t n = encode_page_delta(previous.data(), current.data(), large);
  ASSERT_GT(n, 0u);
  Page applied = previous;
  ASSERT_TRUE(apply_page_delta({large.data(), n}, applied.data()).ok());
  EXPECT_EQ(applied, current);
}

Result<void> apply_bytes(std::vector<uint8_t> delta) {
  Page page = random_page(8);
  std::vector<std::byte> bytes;
  for (uint8_t b : delta) bytes.push_back(std::byte{b});
  return apply_page_delta(bytes, page.data());
}

void expect_refused(std::vector<uint8_t> delta, std::string_view why) {
  auto result = apply_bytes(std::move(delta));
  ASSERT_FALSE(result.ok()) << why;
  EXPECT_EQ(result.error().code(), Errc::corrupt);
  EXPECT_NE(result.error().message().find(why), std::string::npos) << result.error().message();
}

TEST(PageDelta, MalformedInputsAreRefused) {
  expect_refused({}, "empty");
  expect_refused({0x80}, "truncated skip");
  expect_refused({0x05}, "truncated length");
  expect_refused({0x81, 0x80, 0x01}, "malformed or truncated skip");  // a third uleb byte
  expect_refused({0x81, 0x20, 0x00}, "skip 4097 leaves");             // 0x01 | 0x20 << 7
  expect_refused({0x80, 0x20, 0x01, 0x00}, "run of 1 bytes leaves");  // skip 4096, then 1 byte
  expect_refused({0x00, 0x05, 0x01, 0x02}, "run of 5 bytes, only 2 left");
  expect_refused({0xff, 0x1f, 0x81, 0x01}, "leaves");  // skip 4095, run of 129
}

TEST(PageDelta, ValidEdgeInputsAreAccepted) {
  EXPECT_TRUE(apply_bytes({0x80, 0x20, 0x00}).ok());        // skip 4096, nothing changed
  EXPECT_TRUE(apply_bytes({0xff, 0x1f, 0x01, 0xaa}).ok());  // last byte
  EXPECT_TRUE(apply_bytes({0x00, 0x00, 0x00, 0x00}).ok());  // empty pairs are harmless
}

}  // namespace
}  // namespace ferry::wire
