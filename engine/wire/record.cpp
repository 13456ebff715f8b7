#include "engine/wire/record.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "engine/wire/crc32c.h"
#include "engine/wire/little_endian.h"

namespace ferry::wire {
namespace {

constexpr std::size_t kCoveredHeaderBytes = 8;  // type, flags, length: the CRC covers these

std::array<std::byte, kHeaderSize> header_without_crc(uint16_t type, uint16_t flags,
                                                      std::size_t length) {
  std::array<std::byte, kHeaderSize> h{};
  store_le16(h.data(), type);
  store_le16(h.data() + 2, flags);
  store_le32(h.data() + 4, static_cast<uint32_t>(length));
  return h;
}

}  // namespace

std::array<std::byte, kHeaderSize> encode_header(uint16_t type, uint16_t flags,
                                                 std::span<const std::byte> payload) {
  const std::span<const std::byte> pieces[] = {payload};
  return encode_header(type, flags, pieces);
}

std::array<std::byte, kHeaderSize> encode_header(
    uint16_t type, uint16_t flags, std::span<const std::span<const std::byte>> pieces) {
  std::size_t length = 0;
  for (const auto& piece : pieces) length += piece.size();
  auto h = header_without_crc(type, flags, length);
  uint32_t crc = crc32c(h.data(), kCoveredHeaderBytes);
  for (const auto& piece : pieces) crc = crc32c(piece.data(), piece.size(), crc);
  store_le32(h.data() + 8, crc);
  return h;
}

Result<RecordHeader> decode_header(std::span<const std::byte, kHeaderSize> bytes,
                                   const Limits& limits) {
  RecordHeader h{load_le16(bytes.data()), load_le16(bytes.data() + 2), load_le32(bytes.data() + 4),
                 load_le32(bytes.data() + 8)};
  if (h.type == kInvalidRecordType) {
    return Error(Errc::corrupt, fmt::format("record header: type 0 is invalid (flags 0x{:04x}, "
                                            "length {}): the stream is out of step or corrupt",
                                            h.flags, h.length));
  }
  if (h.length > limits.max_record) {
    return Error(Errc::corrupt,
                 fmt::format("record header: {} declares {} payload bytes, above "
                             "the limit of {}",
                             describe_record_type(h.type), h.length, limits.max_record));
  }
  return h;
}

Result<void> verify_crc(const RecordHeader& header, std::span<const std::byte> payload) {
  const std::array<std::span<const std::byte>, 1> pieces{payload};
  return verify_crc(header, pieces);
}

Result<void> verify_crc(const RecordHeader& header,
                        std::span<const std::span<const std::byte>> pieces) {
  std::size_t size = 0;
  for (auto piece : pieces) size += piece.size();
  if (size != header.length) {
    return Error(Errc::corrupt,
                 fmt::format("{}: header declares {} payload bytes, got {}",
                             describe_record_type(header.type), header.length, size));
  }
  const auto h = header_without_crc(header.type, header.flags, header.length);
  uint32_t actual = crc32c(h.data(), kCoveredHeaderBytes);
  for (auto piece : pieces) actual = crc32c(piece.data(), piece.size(), actual);
  if (actual != header.crc) {
    return Error(Errc::corrupt,
                 fmt::format("{}: CRC-32C mismatch over {} payload bytes: header "
                             "says 0x{:08x}, computed 0x{:08x}",
                             describe_record_type(header.type), header.length, header.crc, actual));
  }
  return ok();
}

Result<std::vector<std::byte>> encode_record(uint16_t type, uint16_t flags,
                                             std::span<const std::byte> payload,
                                             const Limits& limits) {
  if (type == kInvalidRecordType) {
    return Error(Errc::invalid_argument, "encode record: type 0 is invalid");
  }
  if (payload.size() > limits.max_record) {
    return Error(Errc::invalid_argument,
                 fmt::format("encode {}: payload of {} bytes is above the record limit of {}",
                             describe_record_type(type), payload.size(), limits.max_record));
  }
  std::vector<std::byte> record(kHeaderSize + payload.size());
  const auto h = encode_header(type, flags, payload);
  std::memcpy(record.data(), h.data(), kHeaderSize);
  if (!payload.empty()) std::memcpy(record.data() + kHeaderSize, payload.data(), payload.size());
  return record;
}

}  // namespace ferry::wire
