// The record types of protocol v1 and how a receiver treats a type it meets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/error/error.h"

namespace ferry::wire {

// Numbers are part of the protocol (docs/protocol.md): never renumber, only add.
// 0x00xx control connection, 0x01xx data connections; 0x8000 marks an optional type.
enum class RecordType : uint16_t {
  hello = 0x0001,
  offer = 0x0002,
  accept = 0x0003,
  reject = 0x0004,
  round_begin = 0x0010,
  round_end = 0x0011,
  device_state = 0x0012,
  switchover = 0x0013,
  ready = 0x0014,
  resumed = 0x0015,
  abort = 0x0020,
  ping = 0x0021,
  pong = 0x0022,
  query = 0x0023,
  status = 0x0024,
  stream_hello = 0x0100,
  pages = 0x0101,
  fence = 0x0102,
  fence_ack = 0x0103,
};

inline constexpr uint16_t kInvalidRecordType = 0;
inline constexpr uint16_t kOptionalTypeBit = 0x8000;

constexpr uint16_t type_number(RecordType type) {
  return static_cast<uint16_t>(type);
}
constexpr bool is_optional_type(uint16_t type) {
  return (type & kOptionalTypeBit) != 0;
}

// True for the types listed in RecordType.
bool is_known_type(uint16_t type);

// "HELLO", "PAGES", ...; "invalid" for 0, "unknown" for a type this build does not know.
std::string_view record_type_name(uint16_t type);
inline std::string_view record_type_name(RecordType type) {
  return record_type_name(type_number(type));
}

// For messages: "PAGES (0x0101)", "unknown optional type 0x8123".
std::string describe_record_type(uint16_t type);

// Which connection a record type belongs to.
enum class Channel { control, data };
Channel channel_of(RecordType type);
std::string_view channel_name(Channel channel);

enum class RecordDisposition {
  handle,  // a known type of this channel: decode it
  skip,    // an optional type this build does not know: read its payload and drop it
};

// What a receiver on `channel` does with a record of `type` (after decode_header). Errors:
// Errc::protocol for an unknown mandatory type or a type of the other channel, Errc::corrupt for 0.
Result<RecordDisposition> classify_record_type(uint16_t type, Channel channel);

}  // namespace ferry::wire
