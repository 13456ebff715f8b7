// Which data connection carries a page. A page always travels on the same stream, so per-stream
// TCP order guarantees an older copy of a page never overwrites a newer one at the destination.
#pragma once

#include <cstdint>

namespace ferry::wire {

// 512 pages = 2 MiB chunks: neighbouring pages share a stream and batch into the same record.
inline constexpr uint64_t kPagesPerStreamChunk = 512;

// Stream of page `page` (in any region) for a job with `stream_count` >= 1 data connections.
constexpr uint32_t stream_for_page(uint64_t page, uint32_t stream_count) {
  return static_cast<uint32_t>((page / kPagesPerStreamChunk) % stream_count);
}

}  // namespace ferry::wire
