#include "engine/wire/page_codec.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/wire/test_bytes.h"

namespace ferry::wire {
namespace {

using Page = std::array<std::byte, kPageSize>;

// Page content that looks like a process's data: words and numbers, as logs and heaps hold.
Page text_page(uint32_t seed) {
  static const char* words[] = {"error", "timeout", "connection", "memory", "page ", "ferry",
                                "=",     "0x7f3a",  "\n",         " ",      "round", "stream"};
  Page page;
  std::string text;
  uint32_t x = seed * 2654435761u + 1;
  while (text.size() < kPageSize) {
    x = x * 1103515245u + 12345u;
    text += words[(x >> 16) % 12];
    if ((x >> 8) % 5 == 0) text += std::to_string(x % 100000);
  }
  std::memcpy(page.data(), text.data(), kPageSize);
  return page;
}

Page random_page(uint32_t seed) {
  Page page;
  auto bytes = test::random_bytes(kPageSize, seed);
  std::memcpy(page.data(), bytes.data(), kPageSize);
  return page;
}

class PageCodec : public ::testing::TestWithParam<PageEncoding> {};

TEST_P(PageCodec, CompressibleRoundTrips) {
  PageCompressor compressor;
  PageDecoder decoder;
  std::vector<std::byte> out(kMaxEncodedPageBytes);
  for (uint32_t seed = 0; seed < 50; ++seed) {
    const Page page = text_page(seed);
    const std::size_t n = compressor.compress(GetParam(), page.data(), out);
    ASSERT_GT(n, 0u);
    ASSERT_LT(n, kEncodedPageLimit);
    Page target{};
    auto decoded = decoder.decode({7, GetParam(), {out.data(), n}}, target.data());
    ASSERT_TRUE(decoded.ok()) << decoded.error().message();
    ASSERT_EQ(target, page);
  }
}

TEST_P(PageCodec, ZeroPageCompressesToAFewBytes) {
  PageCompressor compressor;
  std::vector<std::byte> out(kMaxEncodedPageBytes);
  const Page zero{};
  const std::size_t n = compressor.compress(GetParam(), zero.data(), out);
  ASSERT_GT(n, 0u);
  EXPECT_LT(n, 64u);
}

TEST_P(PageCodec, IncompressiblePageIsLeftToRaw) {
  PageCompressor compressor;
  std::vector<std::byte> out(kMaxEncodedPageBytes);
  const Page page = random_page(11);
  EXPECT_EQ(compressor.compress(GetParam(), page.data(), out), 0u);
}

TEST_P(PageCodec, CorruptDataIsRefusedNamingThePage) {
  PageCompressor compressor;
  PageDecoder decoder;
  std::vector<std::byte> out(kMaxEncodedPageBytes);
  const Page page = text_page(3);
  const std::size_t n = compressor.compress(GetParam(), page.data(), out);
  ASSERT_GT(n, 8u);
  Page target{};

  // Truncated.
  auto truncated = decoder.decode({42, GetParam(), {out.data(), n / 2}}, target.data());
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code(), Errc::corrupt);
  EXPECT_NE(truncated.error().message().find("page 42"), std::string::npos);
  EXPECT_NE(truncated.error().message().find(std::string(page_encoding_name(GetParam()))),
            std::string::npos);

  // Garbage of every length up to a page: refused or (rarely) a valid page, never a crash.
  for (uint32_t seed = 0; seed < 200; ++seed) {
    auto garbage = test::random_bytes(1 + seed * 19 % kMaxEncodedPageBytes, seed);
    auto r = decoder.decode({1, GetParam(), garbage}, target.data());
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), Errc::corrupt);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Encodings, PageCodec,
                         ::testing::Values(PageEncoding::lz4, PageEncoding::zstd),
                         [](const auto& info) {
                           return std::string(page_encoding_name(info.param));
                         });

TEST(PageDecoder, Lz4BlockOfTheWrongSizeIsRefused) {
  // An lz4 block of 10 literal bytes: token 0xA0, then the literals.
  std::vector<std::byte> block{std::byte{0xA0}};
  for (int i = 0; i < 10; ++i) block.push_back(std::byte{'x'});
  PageDecoder decoder;
  Page target{};
  auto r = decoder.decode({5, PageEncoding::lz4, block}, target.data());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("decompresses to 10 bytes, not 4096"), std::string::npos)
      << r.error().message();
}

TEST(PageDecoder, ZstdFrameLargerThanAPageIsRefused) {
  // Two pages of text compress well below the limit but decode to 8192 bytes.
  std::vector<std::byte> two(2 * kPageSize);
  const Page a = text_page(1), b = text_page(2);
  std::memcpy(two.data(), a.data(), kPageSize);
  std::memcpy(two.data() + kPageSize, b.data(), kPageSize);
  PageCompressor compressor;
  std::vector<std::byte> first(kMaxEncodedPageBytes), second(kMaxEncodedPageBytes);
  const std::size_t n1 = compressor.compress(PageEncoding::zstd, a.data(), first);
  const std::size_t n2 = compressor.compress(PageEncoding::zstd, b.data(), second);
  ASSERT_GT(n1, 0u);
  ASSERT_GT(n2, 0u);
  // Two concatenated frames: zstd decodes both, together more than the page.
  std::vector<std::byte> frames(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(n1));
  frames.insert(frames.end(), second.begin(), second.begin() + static_cast<std::ptrdiff_t>(n2));
  PageDecoder decoder;
  Page target{};
  auto r = decoder.decode({9, PageEncoding::zstd, frames}, target.data());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::corrupt);
  EXPECT_NE(r.error().message().find("page 9: zstd data"), std::string::npos)
      << r.error().message();
}

TEST(PageDecoder, ZeroRawAndDeltaDecode) {
  PageDecoder decoder;
  Page target = random_page(1);
  ASSERT_TRUE(decoder.decode({0, PageEncoding::zero, {}}, target.data()).ok());
  EXPECT_EQ(target, Page{});
  const Page raw = random_page(2);
  ASSERT_TRUE(decoder.decode({0, PageEncoding::raw, raw}, target.data()).ok());
  EXPECT_EQ(target, raw);
  // Delta: set byte 10 to 0xAB.
  const std::vector<std::byte> delta{std::byte{10}, std::byte{1}, std::byte{0xAB}};
  ASSERT_TRUE(decoder.decode({0, PageEncoding::delta, delta}, target.data()).ok());
  Page expected = raw;
  expected[10] = std::byte{0xAB};
  EXPECT_EQ(target, expected);
  const std::vector<std::byte> bad{std::byte{0xff}, std::byte{0x7f}};
  auto r = decoder.decode({77, PageEncoding::delta, bad}, target.data());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("page 77: delta data of 2 bytes"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace ferry::wire
