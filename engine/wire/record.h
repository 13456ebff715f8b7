// Record framing: a 12-byte header (type, flags, length, CRC-32C) in front of every payload.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/error/error.h"
#include "engine/wire/record_type.h"

namespace ferry::wire {

// Header layout, little-endian: type u16 | flags u16 | length u32 | crc32c u32. The CRC covers the
// first 8 header bytes followed by the payload, so a flipped type or length is caught too.
struct RecordHeader {
  uint16_t type = 0;
  uint16_t flags = 0;  // v1 senders write 0; v1 receivers ignore them
  uint32_t length = 0;
  uint32_t crc = 0;

  bool operator==(const RecordHeader&) const = default;
};

inline constexpr std::size_t kHeaderSize = 12;

// What a receiver accepts before it allocates anything for a record.
struct Limits {
  uint32_t max_record = 16 << 20;  // payload bytes
};

// Precondition: the payload is at most 4 GiB - 1 bytes (encode_record checks it and Limits).
std::array<std::byte, kHeaderSize> encode_header(uint16_t type, uint16_t flags,
                                                 std::span<const std::byte> payload);
// Scatter/gather: the payload is the concatenation of `pieces`, which are never copied.
std::array<std::byte, kHeaderSize> encode_header(
    uint16_t type, uint16_t flags, std::span<const std::span<const std::byte>> pieces);

// Parses a header; rejects type 0 and a length above limits.max_record (Errc::corrupt).
// Whether the type is known is a separate question: classify_record_type().
Result<RecordHeader> decode_header(std::span<const std::byte, kHeaderSize> bytes,
                                   const Limits& limits);

// Checks the payload against header.length and header.crc (Errc::corrupt, naming the record type,
// the expected and the actual CRC).
Result<void> verify_crc(const RecordHeader& header, std::span<const std::byte> payload);
// Same for a payload that was read in pieces (their concatenation, in order).
Result<void> verify_crc(const RecordHeader& header,
                        std::span<const std::span<const std::byte>> pieces);

// Header and payload in one buffer, ready to send. Errc::invalid_argument for type 0 or a payload
// above limits.max_record.
Result<std::vector<std::byte>> encode_record(uint16_t type, uint16_t flags,
                                             std::span<const std::byte> payload,
                                             const Limits& limits = {});
inline Result<std::vector<std::byte>> encode_record(RecordType type,
                                                    std::span<const std::byte> payload,
                                                    const Limits& limits = {}) {
  return encode_record(type_number(type), 0, payload, limits);
}

// A whole typed record: any payload struct with a kType and an encode() overload
// (control_records.h, data_records.h).
template <typename Payload>
requires requires(const Payload& p) {
  Payload::kType;
  encode(p);
}
Result<std::vector<std::byte>> encode_record(const Payload& payload, const Limits& limits = {}) {
  const std::vector<std::byte> bytes = encode(payload);
  return encode_record(Payload::kType, bytes, limits);
}

}  // namespace ferry::wire
