// One data connection of a job: the source sends its share of each round's pages in PAGES records
// and ends the round with FENCE; the destination applies pages in order and answers FENCE_ACK once
// every page before the fence is in its memory.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/error/error.h"
#include "engine/memory/mapped_region.h"
#include "engine/memory/page_bitmap.h"
#include "engine/migration/memory_digest.h"
#include "engine/precopy/precopy_settings.h"
#include "engine/precopy/rate_limiter.h"
#include "engine/transport/record_connection.h"
#include "engine/wire/auto_compression.h"
#include "engine/wire/page_codec.h"
#include "engine/wire/page_encoder.h"
#include "engine/wire/pages.h"

namespace ferry {

// Totals shared by every stream of a job (updated from several threads).
struct StreamCounters {
  std::atomic<uint64_t> zero_pages{0};
  std::atomic<uint64_t> normal_pages{0};
  std::atomic<uint64_t> normal_bytes{0};   // page data bytes sent/received
  std::atomic<uint64_t> encoded_pages{0};  // of normal_pages, those sent as lz4, zstd or delta
  std::atomic<uint64_t> wire_bytes{0};     // everything on the data connections, headers included
};

struct SourceRegion {
  uint32_t id = 0;
  const MappedRegion* memory = nullptr;
};

struct StreamTimeouts {
  std::chrono::milliseconds io{std::chrono::seconds(10)};
};

class PageStreamSender {
 public:
  PageStreamSender(std::shared_ptr<RecordConnection> connection, uint32_t index, uint32_t count,
                   std::vector<SourceRegion> regions, StreamCounters& counters,
                   RateLimiter& limiter, const std::atomic<bool>& cancelled,
                   StreamTimeouts timeouts);

  // Sends this stream's share of `pages` (one bitmap per region, in region order), then FENCE, and
  // waits for the destination's FENCE_ACK.
  awaitable<Result<void>> send_round(uint32_t round, const std::vector<PageBitmap>& pages);

  // Chooses how pages are encoded from the next round on (before: raw). `peer_capabilities` are
  // the destination's HELLO bits: an encoding it did not announce is never used (a mode asking
  // for one sends raw). Call before the first round: delta must see every page this stream sends.
  void set_compression(CompressMode mode, uint64_t peer_capabilities);
  // The encoding the next round uses and, under auto, why (for the job's log).
  wire::PageEncoding encoding() const { return encoding_; }
  std::string compression_explanation() const;

  RecordConnection& connection() { return *connection_; }

  // Copies of pages kept per stream for delta: 32 MiB.
  static constexpr std::size_t kDeltaCachePages = 8192;
  // Under auto, every this-many-th non-zero page is also encoded under each candidate to measure.
  static constexpr uint64_t kSampleEvery = 128;

 private:
  awaitable<Result<void>> flush();
  // Under auto: closes the measuring interval and picks the encoding for the pages after it.
  void decide(std::chrono::steady_clock::time_point now);

  std::shared_ptr<RecordConnection> connection_;
  uint32_t index_;
  uint32_t count_;
  std::vector<SourceRegion> regions_;
  StreamCounters& counters_;
  RateLimiter& limiter_;
  const std::atomic<bool>& cancelled_;
  StreamTimeouts timeouts_;
  wire::PagesBuilder builder_;
  uint64_t round_pages_ = 0;
  uint64_t round_bytes_ = 0;
  wire::PageEncoding encoding_ = wire::PageEncoding::raw;
  std::unique_ptr<wire::PageEncoder> encoder_;
  std::unique_ptr<wire::AutoCompression> auto_;  // only under CompressMode::automatic
  std::string fixed_reason_;                     // why a fixed mode sends what it sends
  uint64_t since_sample_ = 0;
  // Under auto, the interval the next decision measures: wire bytes, start, time spent waiting
  // on the rate limiter and the socket.
  uint64_t interval_bytes_ = 0;
  std::chrono::steady_clock::time_point interval_start_;
  std::chrono::nanoseconds interval_blocked_{0};
};

struct DestinationRegion {
  uint32_t id = 0;
  MappedRegion* memory = nullptr;
  PageHashes* hashes = nullptr;  // null unless the job verifies memory
};

class PageStreamReceiver {
 public:
  PageStreamReceiver(std::shared_ptr<RecordConnection> connection, uint32_t index, uint32_t count,
                     std::vector<DestinationRegion> regions, StreamCounters& counters,
                     StreamTimeouts timeouts);

  // Applies records until the connection ends. Returns the error that ended it (a clean close by
  // the source after switchover also ends it: the caller knows whether that was expected).
  // `on_fence(round)` runs after a FENCE_ACK was sent.
  awaitable<Result<void>> run(std::function<void(uint32_t round)> on_fence);

  RecordConnection& connection() { return *connection_; }

 private:
  // A PAGES record whose header was read: the table first, then raw page data straight into
  // guest memory and encoded data into scratch space (one copy less than reading the record into
  // a buffer). A record this cannot place (a page twice, a bad table) goes through apply().
  awaitable<Result<void>> receive_pages(const wire::RecordHeader& header);
  // The rest of the payload into a buffer after the `have` bytes of head_ already read, checked
  // and applied as a whole.
  awaitable<Result<void>> receive_buffered(const wire::RecordHeader& header, std::size_t have);
  Result<void> apply(std::span<const std::byte> payload);
  DestinationRegion* find_region(uint32_t id);
  // Where `page` goes, once it is known to belong to this stream and the space under it is
  // reserved (writing past it would be a SIGBUS when the file system is full).
  Result<std::byte*> target_of(DestinationRegion& region, uint64_t page);
  void count_page(wire::PageEncoding encoding);

  std::shared_ptr<RecordConnection> connection_;
  uint32_t index_;
  uint32_t count_;
  std::vector<DestinationRegion> regions_;
  StreamCounters& counters_;
  StreamTimeouts timeouts_;
  wire::PageDecoder decoder_;
  uint64_t round_pages_ = 0;
  uint64_t round_bytes_ = 0;
  // receive_pages' working space, kept between records.
  std::array<std::byte, wire::kMaxPagesTableSize> head_{};
  wire::PagesTable table_;
  std::array<uint64_t, wire::kMaxPagesPerRecord> sorted_pages_{};
  std::array<std::byte*, wire::kMaxPagesPerRecord> targets_{};
  std::unique_ptr<std::byte[]> scratch_;  // encoded data of one record
  std::vector<asio::mutable_buffer> buffers_;
  std::vector<std::span<const std::byte>> pieces_;
  std::vector<std::byte> payload_;  // receive_buffered's record
};

}  // namespace ferry
