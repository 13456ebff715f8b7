// The handshake: HELLO (both directions on the control connection), capability bits and the
// choice of protocol version.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/error/error.h"
#include "engine/wire/record_type.h"

namespace ferry::wire {

inline constexpr uint16_t kProtocolVersion = 1;
// "FERRYMIG": the bytes 46 45 52 52 59 4D 49 47 on the wire, read as a little-endian u64.
inline constexpr uint64_t kHelloMagic = 0x47494D5952524546ull;

// Bits of Hello::capabilities. Unknown bits are ignored, so newer agents may add more.
enum class Capability : uint64_t {
  zero_pages = 1ull << 0,
  raw_pages = 1ull << 1,
  lz4 = 1ull << 2,
  zstd = 1ull << 3,
  delta = 1ull << 4,
  memory_hash = 1ull << 5,
  tls = 1ull << 6,
};

constexpr uint64_t operator|(Capability a, Capability b) {
  return static_cast<uint64_t>(a) | static_cast<uint64_t>(b);
}
constexpr uint64_t operator|(uint64_t set, Capability c) {
  return set | static_cast<uint64_t>(c);
}
constexpr bool has_capability(uint64_t set, Capability c) {
  return (set & static_cast<uint64_t>(c)) != 0;
}
// "zero_pages,raw_pages,lz4" (unknown bits as "bit42"), for logs and messages.
std::string capability_names(uint64_t set);

struct Hello {
  static constexpr RecordType kType = RecordType::hello;
  uint16_t min_version = kProtocolVersion;
  uint16_t max_version = kProtocolVersion;
  uint64_t capabilities = 0;
  std::string host;           // the sender's host name, for messages
  std::string agent_version;  // e.g. "ferry 0.1.0", for messages

  bool operator==(const Hello&) const = default;
};

std::vector<std::byte> encode(const Hello& hello);
// Errc::protocol when the magic is not "FERRYMIG" (the peer is not a ferry agent).
Result<Hello> decode_hello(std::span<const std::byte> payload);

// The highest version both ranges contain. Errc::version_mismatch naming both ranges when there is
// none, or when a range is empty or starts at 0.
Result<uint16_t> negotiate_version(const Hello& ours, const Hello& theirs);

}  // namespace ferry::wire
