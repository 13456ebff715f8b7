#include "engine/wire/pages.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "engine/wire/little_endian.h"
#include "tests/unit/wire/test_bytes.h"

namespace ferry::wire {
namespace {

using test::random_bytes;

constexpr uint64_t kRegionPages = 1 << 20;

struct Expected {
  uint64_t page;
  PageEncoding encoding;
  std::vector<std::byte> data;
};

void expect_entries(const PagesView& view, const std::vector<Expected>& expected) {
  ASSERT_EQ(view.count, expected.size());
  std::size_t i = 0;
  for (const PageEntry& e : view) {
    ASSERT_LT(i, expected.size());
    EXPECT_EQ(e.page, expected[i].page) << i;
    EXPECT_EQ(e.encoding, expected[i].encoding) << i;
    ASSERT_EQ(e.data.size(), expected[i].data.size()) << i;
    EXPECT_TRUE(std::equal(e.data.begin(), e.data.end(), expected[i].data.begin())) << i;
    ++i;
  }
  EXPECT_EQ(i, expected.size());
}

// A small mixed record: zero, raw, lz4 and delta entries plus add_page in both outcomes.
std::vector<Expected> fill_mixed(PagesBuilder& b) {
  const auto raw = random_bytes(kPageSize, 1);
  const auto lz4 = random_bytes(100, 2);
  const auto delta = random_bytes(kMaxEncodedPageBytes, 3);
  const std::vector<std::byte> zeros(kPageSize);
  b.reset(3);
  b.add_zero(10);
  b.add_raw(11, raw.data());
  b.add_encoded(12, PageEncoding::lz4, lz4);
  b.add_encoded(13, PageEncoding::delta, delta);
  EXPECT_EQ(b.add_page(14, zeros.data()), PageEncoding::zero);
  EXPECT_EQ(b.add_page(15, raw.data()), PageEncoding::raw);
  b.add_encoded(16, PageEncoding::raw, raw);
  b.add_encoded(kRegionPages - 1, PageEncoding::zero, {});
  return {{10, PageEncoding::zero, {}}, {11, PageEncoding::raw, raw},
          {12, PageEncoding::lz4, lz4}, {13, PageEncoding::delta, delta},
          {14, PageEncoding::zero, {}}, {15, PageEncoding::raw, raw},
          {16, PageEncoding::raw, raw}, {kRegionPages - 1, PageEncoding::zero, {}}};
}

TEST(Pages, BuilderRoundTrip) {
  PagesBuilder b;
  const auto expected = fill_mixed(b);
  EXPECT_EQ(b.count(), 8u);
  EXPECT_EQ(b.data_size(), 3 * kPageSize + 100 + kMaxEncodedPageBytes);
  const auto payload = b.payload();
  EXPECT_EQ(payload.size(), b.payload_size());
  EXPECT_EQ(payload.size(), 8 + 8 * 16 + b.data_size());
  auto view = decode_pages(payload, kRegionPages);
  ASSERT_TRUE(view.ok()) << view.error().message();
  EXPECT_EQ(view->region_id, 3u);
  expect_entries(*view, expected);
}

TEST(Pages, PayloadLayoutMatchesTheDocument) {
  PagesBuilder b;
  b.reset(0x0A0B0C0D);
  const auto raw = random_bytes(kPageSize, 9);
  b.add_zero(0x1122334455667788ull);
  b.add_raw(5, raw.data());
  const auto p = b.payload();
  EXPECT_EQ(load_le32(p.data()), 0x0A0B0C0Du);
  EXPECT_EQ(load_le32(p.data() + 4), 2u);
  EXPECT_EQ(load_le64(p.data() + 8), 0x1122334455667788ull);
  EXPECT_EQ(p[16], std::byte{0});  // zero
  EXPECT_EQ(load_le32(p.data() + 20), 0u);
  EXPECT_EQ(load_le64(p.data() + 24), 5u);
  EXPECT_EQ(p[32], std::byte{1});  // raw
  EXPECT_EQ(load_le32(p.data() + 36), kPageSize);
  EXPECT_EQ(std::memcmp(p.data() + 40, raw.data(), kPageSize), 0);
}

TEST(Pages, RecordIsHeaderPlusPayloadWithValidCrc) {
  PagesBuilder b;
  fill_mixed(b);
  const std::vector<std::byte> payload(b.payload().begin(), b.payload().end());
  const auto record = b.record(0x0005);
  auto expected = encode_record(type_number(RecordType::pages), 0x0005, payload);
  ASSERT_TRUE(expected.ok());
  ASSERT_EQ(record.size(), expected->size());
  EXPECT_TRUE(std::equal(record.begin(), record.end(), expected->begin()));
}

TEST(Pages, AddRawCopiesTheSource) {
  auto page = random_bytes(kPageSize, 4);
  const auto original = page;
  PagesBuilder b;
  b.reset(0);
  b.add_raw(1, page.data());
  page[100] ^= std::byte{0xFF};  // the guest writes after the copy
  auto view = decode_pages(b.payload(), 2);
  ASSERT_TRUE(view.ok());
  expect_entries(*view, {{1, PageEncoding::raw, original}});
}

TEST(Pages, EverySingleBitFlipOfARecordIsCaught) {
  PagesBuilder b;
  b.reset(1);
  const auto raw = random_bytes(kPageSize, 5);
  b.add_zero(7);
  b.add_raw(8, raw.data());
  b.add_encoded(9, PageEncoding::zstd, random_bytes(33, 6));
  const auto span = b.record();
  const std::vector<std::byte> record(span.begin(), span.end());
  const Limits limits{};
  std::size_t caught_by_header = 0, caught_by_crc = 0;
  for (std::size_t bit = 0; bit < record.size() * 8; ++bit) {
    auto copy = record;
    copy[bit / 8] ^= std::byte(1u << (bit % 8));
    auto header = decode_header(std::span<const std::byte>(copy).first<kHeaderSize>(), limits);
    if (!header.ok()) {
      ++caught_by_header;
      continue;
    }
    const std::span<const std::byte> payload(
        copy.data() + kHeaderSize,
        std::min<std::size_t>(header->length, copy.size() - kHeaderSize));
    ASSERT_FALSE(verify_crc(*header, payload).ok()) << "bit " << bit;
    ++caught_by_crc;
  }
  EXPECT_EQ(caught_by_header + caught_by_crc, record.size() * 8);
  EXPECT_GT(caught_by_crc, record.size() * 8 - 100);
}

TEST(Pages, EveryTruncationIsRejected) {
  PagesBuilder b;
  fill_mixed(b);
  const auto payload = b.payload();
  for (std::size_t n = 0; n < payload.size(); ++n) {
    auto view = decode_pages(payload.first(n), kRegionPages);
    ASSERT_FALSE(view.ok()) << n;
    EXPECT_EQ(view.error().code(), Errc::corrupt);
  }
  std::vector<std::byte> longer(payload.begin(), payload.end());
  longer.push_back(std::byte{0});
  auto trailing = decode_pages(longer, kRegionPages);
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.error().message().find("after the entry table"), std::string::npos);
}

std::vector<std::byte> one_entry_payload(uint64_t page, uint8_t encoding, uint32_t data_len,
                                         std::size_t data_bytes) {
  std::vector<std::byte> p(8 + 16 + data_bytes, std::byte{0x5A});
  store_le32(p.data(), 2);
  store_le32(p.data() + 4, 1);
  store_le64(p.data() + 8, page);
  p[16] = std::byte{encoding};
  p[17] = p[18] = p[19] = std::byte{0};
  store_le32(p.data() + 20, data_len);
  return p;
}

TEST(Pages, RejectsPagesOutsideTheRegion) {
  EXPECT_TRUE(decode_pages(one_entry_payload(99, 0, 0, 0), 100).ok());
  auto outside = decode_pages(one_entry_payload(100, 0, 0, 0), 100);
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().code(), Errc::corrupt);
  EXPECT_NE(outside.error().message().find("page 100 is outside the region (100 pages)"),
            std::string::npos)
      << outside.error().message();
  EXPECT_FALSE(decode_pages(one_entry_payload(~0ull, 1, kPageSize, kPageSize), 100).ok());
  EXPECT_FALSE(decode_pages(one_entry_payload(0, 0, 0, 0), 0).ok());
}

TEST(Pages, RegionTableOverloadChecksRegionAndItsSize) {
  const uint64_t regions[] = {1000, 10, 500};  // the payload names region 2
  EXPECT_TRUE(decode_pages(one_entry_payload(499, 0, 0, 0), regions).ok());
  EXPECT_FALSE(decode_pages(one_entry_payload(500, 0, 0, 0), regions).ok());
  auto undeclared = decode_pages(one_entry_payload(0, 0, 0, 0), std::span(regions, 2));
  ASSERT_FALSE(undeclared.ok());
  EXPECT_NE(undeclared.error().message().find("region 2 was not declared"), std::string::npos);
}

TEST(Pages, RejectsMalformedEntries) {
  auto reserved = one_entry_payload(1, 0, 0, 0);
  reserved[18] = std::byte{1};
  EXPECT_NE(decode_pages(reserved, 10).error().message().find("reserved"), std::string::npos);

  EXPECT_NE(decode_pages(one_entry_payload(1, 5, 10, 10), 10)
                .error()
                .message()
                .find("unknown encoding 5"),
            std::string::npos);
  EXPECT_FALSE(decode_pages(one_entry_payload(1, 255, 10, 10), 10).ok());

  auto short_raw = decode_pages(one_entry_payload(1, 1, kPageSize - 1, kPageSize - 1), 10);
  ASSERT_FALSE(short_raw.ok());
  EXPECT_NE(short_raw.error().message().find("raw data_len 4095"), std::string::npos)
      << short_raw.error().message();
  EXPECT_FALSE(decode_pages(one_entry_payload(1, 0, 1, 1), 10).ok());        // zero with data
  EXPECT_FALSE(decode_pages(one_entry_payload(1, 2, 0, 0), 10).ok());        // empty lz4
  EXPECT_FALSE(decode_pages(one_entry_payload(1, 3, 4161, 4161), 10).ok());  // zstd too long
  EXPECT_TRUE(decode_pages(one_entry_payload(1, 3, 4160, 4160), 10).ok());
  EXPECT_TRUE(decode_pages(one_entry_payload(1, 4, 1, 1), 10).ok());

  // data_len larger than what the payload carries, and smaller.
  EXPECT_FALSE(decode_pages(one_entry_payload(1, 2, 100, 99), 10).ok());
  EXPECT_FALSE(decode_pages(one_entry_payload(1, 2, 100, 101), 10).ok());
  // A huge data_len must not wrap the sum.
  EXPECT_FALSE(decode_pages(one_entry_payload(1, 2, 0xFFFFFFFF, 10), 10).ok());
}

TEST(Pages, RejectsCountsAboveTheMaximumAndTablesThatDoNotFit) {
  std::vector<std::byte> p(8 + 16 * 257);
  store_le32(p.data() + 4, kMaxPagesPerRecord + 1);
  auto too_many = decode_pages(p, 10);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message().find("at most 256"), std::string::npos);

  std::vector<std::byte> q(8 + 16);
  store_le32(q.data() + 4, 2);  // two entries declared, one present
  EXPECT_NE(decode_pages(q, 10).error().message().find("truncated entry table"), std::string::npos);
  store_le32(q.data() + 4, 0xFFFFFFFF);
  EXPECT_FALSE(decode_pages(q, 10).ok());
}

// The receiver's two-step read (prefix and table, then data) must accept exactly what
// decode_pages accepts, with the same words when it refuses.
void expect_two_step_agrees(std::span<const std::byte> payload, uint64_t limit) {
  auto whole = decode_pages(payload, limit);
  if (payload.size() < kPagesPrefixSize) return;  // the receiver reads such a record whole
  auto table_size = pages_table_size(
      std::span<const std::byte, kPagesPrefixSize>(payload.data(), 8), payload.size());
  if (!table_size) {
    ASSERT_FALSE(whole.ok());
    EXPECT_EQ(table_size.error().message(), whole.error().message());
    return;
  }
  PagesTable table;
  auto head = payload.first(kPagesPrefixSize + *table_size);
  auto two_step = decode_pages_table(head, payload.size(), limit, table);
  ASSERT_EQ(two_step.ok(), whole.ok()) << payload.size();
  if (!whole.ok()) {
    EXPECT_EQ(two_step.error().message(), whole.error().message());
    return;
  }
  ASSERT_EQ(table.count, whole->count);
  EXPECT_EQ(table.region_id, whole->region_id);
  uint32_t i = 0;
  for (const PageEntry& e : *whole) {
    EXPECT_EQ(table.entries[i].page, e.page) << i;
    EXPECT_EQ(table.entries[i].encoding, e.encoding) << i;
    EXPECT_EQ(table.entries[i].data_len, e.data.size()) << i;
    ++i;
  }
}

TEST(Pages, TwoStepDecodeAgreesWithDecodePages) {
  PagesBuilder b;
  fill_mixed(b);
  const auto payload = b.payload();
  for (std::size_t n = 0; n <= payload.size(); ++n)
    expect_two_step_agrees(payload.first(n), kRegionPages);
  expect_two_step_agrees(payload, 3);  // pages outside a small region
  for (auto p : {one_entry_payload(1, 5, 10, 10), one_entry_payload(1, 0, 1, 1),
                 one_entry_payload(1, 2, 100, 99), one_entry_payload(1, 2, 0xFFFFFFFF, 10),
                 one_entry_payload(100, 0, 0, 0), one_entry_payload(1, 4, 1, 1)})
    expect_two_step_agrees(p, 100);
  auto reserved = one_entry_payload(1, 0, 0, 0);
  reserved[18] = std::byte{1};
  expect_two_step_agrees(reserved, 10);
  std::vector<std::byte> too_many(8 + 16 * 257);
  store_le32(too_many.data() + 4, kMaxPagesPerRecord + 1);
  expect_two_step_agrees(too_many, 10);
  // A head that is not exactly prefix + table is refused.
  PagesTable table;
  EXPECT_FALSE(
      decode_pages_table(payload.first(kPagesPrefixSize), payload.size(), kRegionPages, table)
          .ok());
}

TEST(Pages, CrcOverPiecesEqualsCrcOverTheWhole) {
  PagesBuilder b;
  fill_mixed(b);
  const auto record = b.record();
  const auto header =
      decode_header(std::span<const std::byte, kHeaderSize>(record.data(), kHeaderSize), {});
  ASSERT_TRUE(header.ok());
  std::vector<std::byte> payload(record.begin() + kHeaderSize, record.end());
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{1}, std::size_t{8}, payload.size() / 2, payload.size()}) {
    const std::span<const std::byte> all(payload);
    const std::array<std::span<const std::byte>, 3> pieces{all.first(cut), all.subspan(cut, 0),
                                                           all.subspan(cut)};
    EXPECT_TRUE(verify_crc(*header, pieces).ok()) << cut;
  }
  payload[payload.size() / 3] ^= std::byte{0x10};
  const std::span<const std::byte> all(payload);
  const std::array<std::span<const std::byte>, 2> flipped{all.first(100), all.subspan(100)};
  auto refused = verify_crc(*header, flipped);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("CRC-32C mismatch"), std::string::npos);
  const std::array<std::span<const std::byte>, 1> short_piece{all.first(10)};
  EXPECT_FALSE(verify_crc(*header, short_piece).ok());
}

TEST(Pages, FullRecordAndReuseAfterReset) {
  PagesBuilder b;
  b.reset(0);
  std::vector<Expected> expected;
  for (uint32_t i = 0; i < kMaxPagesPerRecord; ++i) {
    const auto page = random_bytes(kPageSize, 100 + i);
    b.add_raw(1000 + i, page.data());
    expected.push_back({1000 + i, PageEncoding::raw, page});
  }
  EXPECT_TRUE(b.full());
  EXPECT_EQ(b.payload_size(), kMaxPagesTableSize + kMaxPagesPerRecord * kPageSize);
  {
    auto record = b.record();
    auto header = decode_header(record.first<kHeaderSize>(), Limits{});
    ASSERT_TRUE(header.ok());
    ASSERT_TRUE(verify_crc(*header, record.subspan(kHeaderSize)).ok());
    auto view = decode_pages(record.subspan(kHeaderSize), 2000);
    ASSERT_TRUE(view.ok()) << view.error().message();
    expect_entries(*view, expected);
  }
  // A smaller record in the same buffer: the table moves, the CRC restarts.
  const auto small = fill_mixed(b);
  auto record = b.record();
  auto header = decode_header(record.first<kHeaderSize>(), Limits{});
  ASSERT_TRUE(header.ok());
  ASSERT_TRUE(verify_crc(*header, record.subspan(kHeaderSize)).ok());
  auto view = decode_pages(record.subspan(kHeaderSize), kRegionPages);
  ASSERT_TRUE(view.ok());
  expect_entries(*view, small);

  b.reset(4);
  EXPECT_TRUE(b.empty());
  auto empty = decode_pages(b.payload(), 1);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->region_id, 4u);
  EXPECT_EQ(empty->begin(), empty->end());
}

TEST(PagesDeathTest, AddingToAFullRecordAborts) {
  PagesBuilder b;
  b.reset(0);
  for (uint32_t i = 0; i < kMaxPagesPerRecord; ++i) b.add_zero(i);
  EXPECT_DEATH(b.add_zero(999), "full record");
  const auto short_data = random_bytes(10, 1);
  PagesBuilder c;
  c.reset(0);
  EXPECT_DEATH(c.add_encoded(1, PageEncoding::raw, short_data), "raw data of 10 bytes");
}

}  // namespace
}  // namespace ferry::wire
