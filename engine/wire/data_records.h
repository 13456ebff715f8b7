// Payloads of the data connections besides PAGES (pages.h): the stream greeting and the fences
// that close each round on each stream. Same codec scheme as control_records.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/error/error.h"
#include "engine/wire/record_type.h"

namespace ferry::wire {

inline constexpr uint32_t kMaxStreams = 256;

// First record on every data connection: which job and which stream it carries.
struct StreamHello {
  static constexpr RecordType kType = RecordType::stream_hello;
  std::string session;
  uint32_t stream_index = 0;  // < stream_count
  uint32_t stream_count = 1;  // 1..kMaxStreams
  bool operator==(const StreamHello&) const = default;
};

// Source → destination: stream `stream` sent everything of round `round` (`pages` pages in
// `bytes` payload bytes of PAGES records on this stream).
struct Fence {
  static constexpr RecordType kType = RecordType::fence;
  uint32_t round = 0;
  uint32_t stream = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;
  bool operator==(const Fence&) const = default;
};

// Destination → source on the same data connection: every page before the FENCE is applied.
// Echoes the FENCE's fields with the destination's own counts.
struct FenceAck {
  static constexpr RecordType kType = RecordType::fence_ack;
  uint32_t round = 0;
  uint32_t stream = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;
  bool operator==(const FenceAck&) const = default;
};

std::vector<std::byte> encode(const StreamHello& r);
std::vector<std::byte> encode(const Fence& r);
std::vector<std::byte> encode(const FenceAck& r);

// Also rejects stream_count 0 or above kMaxStreams and stream_index >= stream_count.
Result<StreamHello> decode_stream_hello(std::span<const std::byte> payload);
Result<Fence> decode_fence(std::span<const std::byte> payload);
Result<FenceAck> decode_fence_ack(std::span<const std::byte> payload);

}  // namespace ferry::wire
