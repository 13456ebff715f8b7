// The sender's encoding step against the receiver's decoding, over real PAGES payloads and
// several rounds, as a stream runs them.
#include "engine/wire/page_encoder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/wire/page_codec.h"
#include "engine/wire/pages.h"

namespace ferry::wire {
namespace {

constexpr uint64_t kPages = 64;

// Source memory: zero pages, text-like pages and random pages.
std::vector<std::byte> make_memory() {
  std::vector<std::byte> memory(kPages * kPageSize);
  std::mt19937 rng(1);
  for (uint64_t p = 0; p < kPages; ++p) {
    std::byte* page = memory.data() + p * kPageSize;
    if (p % 4 == 0) continue;  // zero
    if (p % 4 == 3) {
      for (std::size_t i = 0; i < kPageSize; ++i) page[i] = static_cast<std::byte>(rng());
    } else {
      std::string text;
      while (text.size() < kPageSize)
        text += "page " + std::to_string(p) + " value " + std::to_string(rng() % 1000) + "; ";
      std::memcpy(page, text.data(), kPageSize);
    }
  }
  return memory;
}

struct RoundResult {
  std::map<PageEncoding, int> entries;
  int count(PageEncoding e) const {
    auto it = entries.find(e);
    return it == entries.end() ? 0 : it->second;
  }
};

// Sends every page of `source` through encoder + builder, decodes the payload into `destination`.
RoundResult send_round(PageEncoder& encoder, PageEncoding encoding,
                       const std::vector<std::byte>& source, std::vector<std::byte>& destination,
                       PageDecoder& decoder) {
  RoundResult result;
  encoder.start_round();
  PagesBuilder builder;
  builder.reset(0);
  for (uint64_t p = 0; p < kPages; ++p)
    encoder.add(builder, p, source.data() + p * kPageSize, encoding);
  auto payload = builder.payload();
  auto view = decode_pages(payload, kPages);
  EXPECT_TRUE(view.ok()) << view.error().message();
  if (!view) return result;
  for (const auto& entry : *view) {
    ++result.entries[entry.encoding];
    auto decoded = decoder.decode(entry, destination.data() + entry.page * kPageSize);
    EXPECT_TRUE(decoded.ok()) << decoded.error().message();
  }
  return result;
}

class PageEncoderRounds : public ::testing::TestWithParam<PageEncoding> {};

TEST_P(PageEncoderRounds, DestinationMatchesSourceEveryRound) {
  const PageEncoding encoding = GetParam();
  PageEncoder encoder(encoding == PageEncoding::delta ? 16 : 0);
  PageDecoder decoder;
  auto source = make_memory();
  std::vector<std::byte> destination(source.size());
  std::mt19937 rng(2);

  for (int round = 0; round < 4; ++round) {
    if (round > 0) {
      // The guest writes a few bytes in many pages, and rewrites one page entirely.
      for (int i = 0; i < 200; ++i) source[rng() % source.size()] = static_cast<std::byte>(rng());
      for (std::size_t i = 0; i < kPageSize; ++i)
        source[5 * kPageSize + i] = static_cast<std::byte>(rng());
    }
    const RoundResult r = send_round(encoder, encoding, source, destination, decoder);
    ASSERT_EQ(std::memcmp(source.data(), destination.data(), source.size()), 0)
        << page_encoding_name(encoding) << " round " << round;

    const int encoded = r.count(encoding);
    if (encoding == PageEncoding::raw) {
      EXPECT_EQ(encoded + r.count(PageEncoding::zero), static_cast<int>(kPages));
    } else if (encoding == PageEncoding::delta) {
      // Round 0 has no previous copy; later rounds delta most pages (16 cached of 48 non-zero).
      if (round == 0) {
        EXPECT_EQ(encoded, 0);
      } else {
        EXPECT_GT(encoded, 0);
      }
    } else {
      // Text-like pages compress, random ones go raw.
      EXPECT_GE(encoded, static_cast<int>(kPages / 2) - 2);
      EXPECT_GE(r.count(PageEncoding::raw), static_cast<int>(kPages / 4) - 2);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Encodings, PageEncoderRounds,
                         ::testing::Values(PageEncoding::raw, PageEncoding::lz4, PageEncoding::zstd,
                                           PageEncoding::delta),
                         [](const auto& info) {
                           return std::string(page_encoding_name(info.param));
                         });

TEST(PageEncoder, DeltaWithoutACacheSendsRaw) {
  PageEncoder encoder;  // no cache
  PagesBuilder builder;
  builder.reset(0);
  std::vector<std::byte> page(kPageSize, std::byte{7});
  EXPECT_EQ(encoder.add(builder, 0, page.data(), PageEncoding::delta), PageEncoding::raw);
  EXPECT_EQ(encoder.add(builder, 0, page.data(), PageEncoding::delta), PageEncoding::raw);
}

TEST(PageEncoder, UnchangedPageIsATinyDelta) {
  PageEncoder encoder(4);
  PagesBuilder builder;
  builder.reset(3);
  std::vector<std::byte> page(kPageSize, std::byte{7});
  EXPECT_EQ(encoder.add(builder, 9, page.data(), PageEncoding::delta), PageEncoding::raw);
  EXPECT_EQ(encoder.add(builder, 9, page.data(), PageEncoding::delta), PageEncoding::delta);
  EXPECT_EQ(builder.data_size(), kPageSize + 3);
  // Another region's page 9 has no previous copy.
  builder.reset(4);
  EXPECT_EQ(encoder.add(builder, 9, page.data(), PageEncoding::delta), PageEncoding::raw);
}

TEST(PageEncoder, SampleReportsEveryCompressingCandidate) {
  PageEncoder encoder;
  AutoCompression policy({PageEncoding::raw, PageEncoding::lz4, PageEncoding::zstd});
  std::vector<std::byte> page(kPageSize);
  for (std::size_t i = 0; i < kPageSize; ++i) page[i] = static_cast<std::byte>(i % 7);
  for (int i = 0; i < 4; ++i) encoder.sample(page.data(), policy);
  policy.decide(0, std::chrono::milliseconds(1), std::chrono::milliseconds(0));
  for (PageEncoding e : {PageEncoding::raw, PageEncoding::lz4, PageEncoding::zstd})
    EXPECT_TRUE(policy.cost(e).has_value()) << page_encoding_name(e);
}

}  // namespace
}  // namespace ferry::wire
