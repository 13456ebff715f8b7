#include "engine/wire/record.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "engine/wire/crc32c.h"
#include "tests/unit/wire/test_bytes.h"

namespace ferry::wire {
namespace {

using test::bytes_of;
using test::random_bytes;

std::string hex8(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", v);
  return text;
}

std::span<const std::byte, kHeaderSize> header_span(std::span<const std::byte> record) {
  return record.first<kHeaderSize>();
}

TEST(RecordHeader, LayoutIsLittleEndianWithCrcOverHeaderAndPayload) {
  const auto payload = bytes_of("hello");
  const auto h = encode_header(0x0102, 0x0304, payload);
  const std::byte expected_prefix[8] = {std::byte{0x02}, std::byte{0x01}, std::byte{0x04},
                                        std::byte{0x03}, std::byte{5},    std::byte{0},
                                        std::byte{0},    std::byte{0}};
  EXPECT_EQ(std::memcmp(h.data(), expected_prefix, 8), 0);
  const uint32_t crc = crc32c(payload.data(), payload.size(), crc32c(expected_prefix, 8));
  const std::byte expected_crc[4] = {std::byte(crc & 0xff), std::byte((crc >> 8) & 0xff),
                                     std::byte((crc >> 16) & 0xff), std::byte(crc >> 24)};
  EXPECT_EQ(std::memcmp(h.data() + 8, expected_crc, 4), 0);
}

TEST(RecordHeader, RoundTripsAndVerifies) {
  const auto payload = random_bytes(1000, 3);
  const auto bytes = encode_header(type_number(RecordType::offer), 7, payload);
  auto header = decode_header(bytes, Limits{});
  ASSERT_TRUE(header.ok()) << header.error().message();
  EXPECT_EQ(header->type, type_number(RecordType::offer));
  EXPECT_EQ(header->flags, 7);
  EXPECT_EQ(header->length, 1000u);
  EXPECT_TRUE(verify_crc(*header, payload).ok());
}

TEST(RecordHeader, ScatterGatherEqualsContiguous) {
  const auto payload = random_bytes(5000, 5);
  const std::span<const std::byte> all(payload);
  const std::span<const std::byte> pieces[] = {all.first(1), all.subspan(1, 0),
                                               all.subspan(1, 4095), all.subspan(4096)};
  EXPECT_EQ(encode_header(9, 0, pieces), encode_header(9, 0, payload));
}

TEST(RecordHeader, RejectsTypeZeroAndOversizedLength) {
  auto bytes = encode_header(0, 0, std::span<const std::byte>());
  auto zero = decode_header(bytes, Limits{});
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().code(), Errc::corrupt);
  EXPECT_NE(zero.error().message().find("type 0"), std::string::npos);

  const auto payload = random_bytes(101, 9);
  bytes = encode_header(type_number(RecordType::pages), 0, payload);
  EXPECT_TRUE(decode_header(bytes, Limits{101}).ok());
  auto big = decode_header(bytes, Limits{100});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), Errc::corrupt);
  EXPECT_NE(big.error().message().find("PAGES"), std::string::npos);
  EXPECT_NE(big.error().message().find("101"), std::string::npos);
}

TEST(RecordHeader, EveryBitFlipInHeaderOrPayloadFailsVerification) {
  const auto payload = random_bytes(64, 21);
  auto record = encode_record(RecordType::round_end, payload);
  ASSERT_TRUE(record.ok());
  const Limits limits{1 << 20};
  for (std::size_t bit = 0; bit < record->size() * 8; ++bit) {
    auto copy = *record;
    copy[bit / 8] ^= std::byte(1u << (bit % 8));
    auto header = decode_header(header_span(copy), limits);
    if (!header.ok()) continue;  // type became 0, or length above the limit
    const std::span<const std::byte> rest(copy.data() + kHeaderSize, copy.size() - kHeaderSize);
    // A flipped length makes the payload span disagree with the header: also corruption.
    auto verified = verify_crc(*header, rest);
    ASSERT_FALSE(verified.ok()) << "bit " << bit;
    EXPECT_EQ(verified.error().code(), Errc::corrupt);
  }
}

TEST(RecordHeader, CrcMismatchMessageNamesTypeAndBothCrcs) {
  const auto payload = random_bytes(16, 1);
  auto bytes = encode_header(type_number(RecordType::fence), 0, payload);
  auto header = decode_header(bytes, Limits{});
  ASSERT_TRUE(header.ok());
  auto bad = payload;
  bad[0] ^= std::byte{1};
  auto result = verify_crc(*header, bad);
  ASSERT_FALSE(result.ok());
  const std::string& m = result.error().message();
  EXPECT_NE(m.find("FENCE"), std::string::npos) << m;
  EXPECT_NE(m.find(hex8(header->crc)), std::string::npos) << m;
}

TEST(EncodeRecord, BuildsHeaderAndPayloadAndChecksLimits) {
  const auto payload = random_bytes(300, 2);
  auto record = encode_record(0x1234, 0, payload);
  ASSERT_TRUE(record.ok());
  ASSERT_EQ(record->size(), kHeaderSize + 300);
  EXPECT_EQ(std::memcmp(record->data() + kHeaderSize, payload.data(), 300), 0);
  auto header = decode_header(header_span(*record), Limits{});
  ASSERT_TRUE(header.ok());
  EXPECT_TRUE(verify_crc(*header, payload).ok());

  EXPECT_EQ(encode_record(0, 0, payload).error().code(), Errc::invalid_argument);
  EXPECT_EQ(encode_record(1, 0, payload, Limits{299}).error().code(), Errc::invalid_argument);
}

TEST(RecordType, NamesEveryKnownType) {
  const RecordType all[] = {
      RecordType::hello,        RecordType::offer,       RecordType::accept,
      RecordType::reject,       RecordType::round_begin, RecordType::round_end,
      RecordType::device_state, RecordType::switchover,  RecordType::ready,
      RecordType::resumed,      RecordType::abort,       RecordType::ping,
      RecordType::pong,         RecordType::query,       RecordType::status,
      RecordType::stream_hello, RecordType::pages,       RecordType::fence,
      RecordType::fence_ack};
  for (RecordType t : all) {
    EXPECT_TRUE(is_known_type(type_number(t)));
    EXPECT_FALSE(is_optional_type(type_number(t)));
    EXPECT_NE(record_type_name(t), "unknown");
  }
  EXPECT_EQ(record_type_name(RecordType::fence_ack), "FENCE_ACK");
  EXPECT_EQ(record_type_name(0), "invalid");
  EXPECT_EQ(record_type_name(0x7777), "unknown");
  EXPECT_EQ(describe_record_type(0x0101), "PAGES (0x0101)");
  EXPECT_EQ(describe_record_type(0x8123), "unknown optional type 0x8123");
}

TEST(RecordType, ClassifiesKnownOptionalUnknownAndWrongChannel) {
  auto pages = classify_record_type(type_number(RecordType::pages), Channel::data);
  ASSERT_TRUE(pages.ok());
  EXPECT_EQ(*pages, RecordDisposition::handle);

  auto hello = classify_record_type(type_number(RecordType::hello), Channel::control);
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(*hello, RecordDisposition::handle);

  auto optional = classify_record_type(0x8042, Channel::control);
  ASSERT_TRUE(optional.ok());
  EXPECT_EQ(*optional, RecordDisposition::skip);

  auto mandatory = classify_record_type(0x0042, Channel::control);
  ASSERT_FALSE(mandatory.ok());
  EXPECT_EQ(mandatory.error().code(), Errc::protocol);
  EXPECT_NE(mandatory.error().message().find("0x0042"), std::string::npos);
  EXPECT_NE(mandatory.error().message().find("66"), std::string::npos);

  auto wrong = classify_record_type(type_number(RecordType::pages), Channel::control);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), Errc::protocol);
  auto wrong2 = classify_record_type(type_number(RecordType::offer), Channel::data);
  EXPECT_FALSE(wrong2.ok());

  EXPECT_EQ(classify_record_type(0, Channel::data).error().code(), Errc::corrupt);
}

}  // namespace
}  // namespace ferry::wire
