#include "engine/wire/control_records.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "engine/wire/field_limits.h"
#include "engine/wire/little_endian.h"
#include "engine/wire/record.h"
#include "tests/unit/wire/test_bytes.h"

namespace ferry::wire {
namespace {

using test::random_bytes;

// Round trip, then every shorter prefix and one extra trailing byte must be refused as corrupt.
template <typename T, typename Decode>
void expect_strict_round_trip(const T& value, Decode decode) {
  const std::vector<std::byte> bytes = encode(value);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, value);
  EXPECT_EQ(encode(*decoded), bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto truncated = decode(std::span<const std::byte>(bytes.data(), n));
    ASSERT_FALSE(truncated.ok()) << record_type_name(T::kType) << " truncated to " << n;
    EXPECT_EQ(truncated.error().code(), Errc::corrupt);
    EXPECT_NE(truncated.error().message().find(record_type_name(T::kType)), std::string::npos)
        << truncated.error().message();
  }
  auto longer = bytes;
  longer.push_back(std::byte{0});
  auto trailing = decode(longer);
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.error().code(), Errc::corrupt);
  EXPECT_NE(trailing.error().message().find("trailing"), std::string::npos);
}

nlohmann::json sample_document() {
  return nlohmann::json{{"session", "5f1c"},
                        {"vm", {{"name", "web-1"}, {"memory", 1073741824}}},
                        {"regions", nlohmann::json::array({{{"id", 0}, {"pages", 262144}}})},
                        {"unicode", "é→✓"}};
}

TEST(ControlRecords, RoundTripAndRejectTruncationAndTrailingBytes) {
  expect_strict_round_trip(Offer{sample_document()}, decode_offer);
  expect_strict_round_trip(Accept{nlohmann::json{{"streams", 4}}}, decode_accept);
  expect_strict_round_trip(Reject{Errc::not_found, "network prod-vlan100: no mapping on hostB"},
                           decode_reject);
  expect_strict_round_trip(RoundBegin{3}, decode_round_begin);
  expect_strict_round_trip(RoundEnd{3, 123456789012ull, 0xFFFFFFFFFFFFFFFFull}, decode_round_end);
  expect_strict_round_trip(Switchover{7, 262144}, decode_switchover);
  expect_strict_round_trip(Ready{}, decode_ready);
  expect_strict_round_trip(Resumed{nlohmann::json{{"downtime_ms", 123.5}, {"hash", "ab"}}},
                           decode_resumed);
  expect_strict_round_trip(Abort{Errc::timeout, "precopy round 3", "stream 2: no ack in 30 s"},
                           decode_abort);
  expect_strict_round_trip(Ping{0x0123456789ABCDEFull}, decode_ping);
  expect_strict_round_trip(Pong{42}, decode_pong);
  expect_strict_round_trip(Query{"session-1"}, decode_query);
  expect_strict_round_trip(Status{nlohmann::json{{"state", "resumed"}}}, decode_status);
  expect_strict_round_trip(Reject{Errc::internal, ""}, decode_reject);
  expect_strict_round_trip(Abort{Errc::invalid_argument, "", ""}, decode_abort);
}

TEST(ControlRecords, FixedFieldsAreLittleEndianAtDocumentedOffsets) {
  const auto bytes = encode(RoundEnd{0x01020304, 0x05, 0x06});
  ASSERT_EQ(bytes.size(), 20u);
  EXPECT_EQ(load_le32(bytes.data()), 0x01020304u);
  EXPECT_EQ(bytes[0], std::byte{0x04});
  EXPECT_EQ(load_le64(bytes.data() + 4), 5u);
  EXPECT_EQ(load_le64(bytes.data() + 12), 6u);

  const auto abort = encode(Abort{Errc::timeout, "ab", "xyz"});
  ASSERT_EQ(abort.size(), 2u + 4 + 2 + 4 + 3);
  EXPECT_EQ(load_le16(abort.data()), errc_to_wire(Errc::timeout));
  EXPECT_EQ(load_le32(abort.data() + 2), 2u);
  EXPECT_EQ(load_le32(abort.data() + 8), 3u);
}

TEST(ControlRecords, DeviceStateChunksStayInsideTheTotal) {
  const DeviceState chunk{4096, 10000, random_bytes(5904, 1)};
  const auto bytes = encode(chunk);
  auto decoded = decode_device_state(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, chunk);
  for (std::size_t n = 0; n < 16; ++n) {
    EXPECT_FALSE(decode_device_state(std::span(bytes.data(), n)).ok()) << n;
  }
  auto longer = bytes;
  longer.push_back(std::byte{0});  // one byte past the total
  auto past = decode_device_state(longer);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code(), Errc::corrupt);
  EXPECT_NE(past.error().message().find("DEVICE_STATE"), std::string::npos);

  EXPECT_FALSE(decode_device_state(encode(DeviceState{11, 10, {}})).ok());
  EXPECT_TRUE(decode_device_state(encode(DeviceState{10, 10, {}})).ok());
  // offset + size overflowing 64 bits must not wrap into "inside".
  EXPECT_FALSE(decode_device_state(encode(DeviceState{~0ull, ~0ull, random_bytes(2, 2)})).ok());
}

TEST(ControlRecords, UnknownErrorCodesDecodeAsFallbackKeepingTheNumber) {
  auto bytes = encode(Reject{Errc::rejected, "no"});
  store_le16(bytes.data(), 999);
  auto reject = decode_reject(bytes);
  ASSERT_TRUE(reject.ok());
  EXPECT_EQ(reject->code, Errc::rejected);
  EXPECT_EQ(reject->message, "(peer error code 999) no");

  bytes = encode(Abort{Errc::timeout, "switchover", "gone"});
  store_le16(bytes.data(), 16);
  auto abort = decode_abort(bytes);
  ASSERT_TRUE(abort.ok());
  EXPECT_EQ(abort->code, Errc::peer_abort);
  EXPECT_EQ(abort->phase, "switchover");
  EXPECT_EQ(abort->message, "(peer error code 16) gone");
}

std::vector<std::byte> string_payload(std::string_view text) {
  std::vector<std::byte> out(4 + text.size());
  store_le32(out.data(), static_cast<uint32_t>(text.size()));
  std::memcpy(out.data() + 4, text.data(), text.size());
  return out;
}

TEST(ControlRecords, JsonFieldsMustHoldOneBoundedJsonDocument) {
  auto not_json = decode_offer(string_payload("{\"a\": 1"));
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.error().code(), Errc::corrupt);
  EXPECT_NE(not_json.error().message().find("OFFER payload, field json"), std::string::npos)
      << not_json.error().message();

  EXPECT_FALSE(decode_status(string_payload("")).ok());
  EXPECT_FALSE(decode_status(string_payload("{} {}")).ok());
  EXPECT_TRUE(decode_status(string_payload(" {\"a\": [1, 2]} ")).ok());

  const std::string ok_depth = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(decode_accept(string_payload(ok_depth)).ok());
  const std::string one_more = "[" + ok_depth + "]";
  EXPECT_FALSE(decode_accept(string_payload(one_more)).ok());
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto too_deep = decode_accept(string_payload(deep));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_NE(too_deep.error().message().find("deeper"), std::string::npos);
}

TEST(ControlRecords, StringsAreBoundedAndValidUtf8) {
  std::vector<std::byte> huge(4);
  store_le32(huge.data(), static_cast<uint32_t>(kMaxStringBytes + 1));
  huge.resize(4 + kMaxStringBytes + 1, std::byte{'a'});
  auto too_long = decode_query(huge);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code(), Errc::corrupt);
  EXPECT_NE(too_long.error().message().find("QUERY payload, field session"), std::string::npos);

  // A length field far beyond the payload is a truncation, not an allocation.
  std::vector<std::byte> lying(4);
  store_le32(lying.data(), 1000);
  EXPECT_FALSE(decode_query(lying).ok());

  auto bad_utf8 = decode_query(string_payload("ab\xC0\xAF"));
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.error().message().find("UTF-8 at byte 2"), std::string::npos)
      << bad_utf8.error().message();
}

TEST(ControlRecords, EncoderRepairsInvalidUtf8AndCutsOverlongText) {
  auto repaired = decode_abort(encode(Abort{Errc::io, "open", "file \xFF\xFEname"}));
  ASSERT_TRUE(repaired.ok()) << repaired.error().message();
  EXPECT_EQ(repaired->message, "file \xEF\xBF\xBD\xEF\xBF\xBDname");

  // 2-byte characters across the limit: the cut must not split one.
  std::string long_text;
  while (long_text.size() < kMaxStringBytes + 10) long_text += "\xC3\xA9";
  auto cut = decode_reject(encode(Reject{Errc::rejected, "x" + long_text}));
  ASSERT_TRUE(cut.ok()) << cut.error().message();
  EXPECT_LE(cut->message.size(), kMaxStringBytes);
  EXPECT_GE(cut->message.size(), kMaxStringBytes - 1);
}

TEST(ControlRecords, TypedEncodeRecordFramesThePayload) {
  auto record = encode_record(Ping{77});
  ASSERT_TRUE(record.ok());
  auto header = decode_header(std::span<const std::byte>(*record).first<kHeaderSize>(), Limits{});
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->type, type_number(RecordType::ping));
  const std::span<const std::byte> payload(record->data() + kHeaderSize, header->length);
  ASSERT_TRUE(verify_crc(*header, payload).ok());
  EXPECT_EQ(decode_ping(payload)->nonce, 77u);

  auto oversized = encode_record(DeviceState{0, 100, random_bytes(100, 3)}, Limits{64});
  EXPECT_FALSE(oversized.ok());
}

}  // namespace
}  // namespace ferry::wire
