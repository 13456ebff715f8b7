#include "engine/migration/page_stream.h"

#include <cstring>

#include <fmt/format.h>

#include "engine/wire/control_records.h"
#include "engine/wire/data_records.h"
#include "engine/wire/hello.h"
#include "engine/wire/stream_partition.h"
#include "engine/wire/zero_page.h"

namespace ferry {

PageStreamSender::PageStreamSender(std::shared_ptr<RecordConnection> connection, uint32_t index,
                                   uint32_t count, std::vector<SourceRegion> regions,
                                   StreamCounters& counters, RateLimiter& limiter,
                                   const std::atomic<bool>& cancelled, StreamTimeouts timeouts)
    : connection_(std::move(connection)),
      index_(index),
      count_(count),
      regions_(std::move(regions)),
      counters_(counters),
      limiter_(limiter),
      cancelled_(cancelled),
      timeouts_(timeouts),
      encoder_(std::make_unique<wire::PageEncoder>()) {}

void PageStreamSender::set_compression(CompressMode mode, uint64_t peer_capabilities) {
  auto_.reset();
  fixed_reason_.clear();
  auto announced = [&](wire::Capability c) { return wire::has_capability(peer_capabilities, c); };
  auto fixed = [&](wire::PageEncoding encoding, wire::Capability c) {
    if (announced(c)) {
      encoding_ = encoding;
      fixed_reason_ = fmt::format("{} (compress {})", wire::page_encoding_name(encoding),
                                  compress_mode_name(mode));
    } else {
      encoding_ = wire::PageEncoding::raw;
      fixed_reason_ = fmt::format(
          "raw: compress {} asked for {}, which the destination did not "
          "announce (it announced {})",
          compress_mode_name(mode), wire::page_encoding_name(encoding),
          wire::capability_names(peer_capabilities));
    }
  };
  switch (mode) {
    case CompressMode::none:
      encoding_ = wire::PageEncoding::raw;
      fixed_reason_ = "raw (compress none)";
      break;
    case CompressMode::lz4:
      fixed(wire::PageEncoding::lz4, wire::Capability::lz4);
      break;
    case CompressMode::zstd:
      fixed(wire::PageEncoding::zstd, wire::Capability::zstd);
      break;
    case CompressMode::delta:
      fixed(wire::PageEncoding::delta, wire::Capability::delta);
      break;
    case CompressMode::automatic: {
      std::vector<wire::PageEncoding> candidates{wire::PageEncoding::raw};
      if (announced(wire::Capability::lz4)) candidates.push_back(wire::PageEncoding::lz4);
      if (announced(wire::Capability::zstd)) candidates.push_back(wire::PageEncoding::zstd);
      auto_ = std::make_unique<wire::AutoCompression>(std::move(candidates));
      encoding_ = auto_->current();
      break;
    }
  }
  encoder_ = std::make_unique<wire::PageEncoder>(
      encoding_ == wire::PageEncoding::delta ? kDeltaCachePages : 0);
}

void PageStreamSender::decide(std::chrono::steady_clock::time_point now) {
  encoding_ = auto_->decide(interval_bytes_, now - interval_start_, interval_blocked_);
  interval_bytes_ = 0;
  interval_blocked_ = std::chrono::nanoseconds(0);
  interval_start_ = now;
}

std::string PageStreamSender::compression_explanation() const {
  if (auto_) return "auto: " + auto_->explanation();
  return fixed_reason_.empty() ? std::string("raw") : fixed_reason_;
}

awaitable<Result<void>> PageStreamSender::flush() {
  if (builder_.count() == 0) co_return ok();
  // The builder checksummed each page as it copied it: the record goes out as built.
  auto record = builder_.record();
  const auto waiting_since = std::chrono::steady_clock::now();
  auto delay = limiter_.delay_for(record.size(), waiting_since);
  if (delay.count() > 0) {
    asio::steady_timer timer(connection_->executor(), delay);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  auto written = co_await connection_->write_framed(record, timeouts_.io);
  const auto now = std::chrono::steady_clock::now();
  interval_blocked_ += now - waiting_since;
  if (!written) co_return written;
  round_pages_ += builder_.count();
  round_bytes_ += record.size() - wire::kHeaderSize;
  interval_bytes_ += record.size();
  if (auto_ && interval_bytes_ >= wire::AutoCompression::kDecideEveryBytes) decide(now);
  counters_.wire_bytes += record.size();
  co_return ok();
}

awaitable<Result<void>> PageStreamSender::send_round(uint32_t round,
                                                     const std::vector<PageBitmap>& pages) {
  round_pages_ = 0;
  round_bytes_ = 0;
  encoder_->start_round();
  interval_bytes_ = 0;
  interval_blocked_ = std::chrono::nanoseconds(0);
  interval_start_ = std::chrono::steady_clock::now();
  for (size_t r = 0; r < regions_.size(); ++r) {
    const PageBitmap& wanted = pages[r];
    const MappedRegion& memory = *regions_[r].memory;
    const uint64_t total = memory.pages();
    builder_.reset(regions_[r].id);
    for (uint64_t chunk = index_; chunk * wire::kPagesPerStreamChunk < total; chunk += count_) {
      if (cancelled_) co_return Error(Errc::cancelled, "cancelled by request");
      const uint64_t end = std::min(total, (chunk + 1) * wire::kPagesPerStreamChunk);
      for (uint64_t page = wanted.find_next(chunk * wire::kPagesPerStreamChunk); page < end;
           page = wanted.find_next(page + 1)) {
        const std::byte* data = memory.page(page);
        const wire::PageEncoding sent = encoder_->add(builder_, page, data, encoding_);
        if (sent == wire::PageEncoding::zero) {
          ++counters_.zero_pages;
        } else {
          ++counters_.normal_pages;
          counters_.normal_bytes += kPageSize;
          if (sent != wire::PageEncoding::raw) ++counters_.encoded_pages;
          if (auto_ && ++since_sample_ >= kSampleEvery) {
            since_sample_ = 0;
            encoder_->sample(data, *auto_);
          }
        }
        if (builder_.count() == wire::kMaxPagesPerRecord) {
          auto flushed = co_await flush();
          if (!flushed) co_return flushed;
          builder_.reset(regions_[r].id);
        }
      }
    }
    auto flushed = co_await flush();
    if (!flushed) co_return flushed;
  }

  // The FENCE_ACK wait is not sending: the interval ends before it.
  if (auto_) decide(std::chrono::steady_clock::now());

  wire::Fence fence{round, index_, round_pages_, round_bytes_};
  auto fence_bytes = wire::encode(fence);
  auto sent = co_await connection_->write(static_cast<uint16_t>(wire::RecordType::fence),
                                          fence_bytes, timeouts_.io);
  if (!sent) co_return sent;
  counters_.wire_bytes += fence_bytes.size() + wire::kHeaderSize;

  // The destination acknowledges after applying every page: this bounds what is in flight and
  // makes the round's bandwidth figure honest.
  auto reply = co_await connection_->read(timeouts_.io);
  if (!reply) co_return std::move(reply).error();
  if (reply->type != static_cast<uint16_t>(wire::RecordType::fence_ack))
    co_return Error(Errc::protocol,
                    fmt::format("{}: expected FENCE_ACK, got {}", connection_->label(),
                                wire::record_type_name(reply->type)));
  auto ack = wire::decode_fence_ack(reply->payload);
  if (!ack) co_return std::move(ack).error().within(connection_->label());
  if (ack->round != round || ack->pages != round_pages_)
    co_return Error(Errc::protocol,
                    fmt::format("{}: FENCE_ACK for round {} with {} pages, sent round {} with {} "
                                "pages",
                                connection_->label(), ack->round, ack->pages, round, round_pages_));
  co_return ok();
}

PageStreamReceiver::PageStreamReceiver(std::shared_ptr<RecordConnection> connection, uint32_t index,
                                       uint32_t count, std::vector<DestinationRegion> regions,
                                       StreamCounters& counters, StreamTimeouts timeouts)
    : connection_(std::move(connection)),
      index_(index),
      count_(count),
      regions_(std::move(regions)),
      counters_(counters),
      timeouts_(timeouts) {}

Result<void> PageStreamReceiver::apply(std::span<const std::byte> payload) {
  // Validate the region first so decode_pages can bound page numbers by its size.
  if (payload.size() < 4) return Error(Errc::corrupt, "PAGES record shorter than its header");
  uint32_t region_id;
  std::memcpy(&region_id, payload.data(), sizeof region_id);
  DestinationRegion* region = nullptr;
  for (auto& r : regions_)
    if (r.id == region_id) region = &r;
  if (!region) return Error(Errc::corrupt, fmt::format("PAGES for unknown region {}", region_id));

  auto view = wire::decode_pages(payload, region->memory->pages());
  if (!view) return std::move(view).error();
  for (const auto& entry : *view) {
    if (wire::stream_for_page(entry.page, count_) != index_)
      return Error(Errc::protocol,
                   fmt::format("page {} arrived on stream {}, belongs to stream {}", entry.page,
                               index_, wire::stream_for_page(entry.page, count_)));
    // Never write past the space reserved so far (a SIGBUS if the file system filled up).
    if (const uint64_t end = (entry.page + 1) << kPageShift;
        !region->memory->reserved_through(end)) {
      if (auto reserved = region->memory->wait_reserved(end); !reserved)
        return std::move(reserved).error().within(fmt::format("page {}", entry.page));
    }
    std::byte* target = region->memory->page(entry.page);
    // Delta entries decode against the page already here: the copy this stream sent before
    // (a page always travels on the same stream, and nothing else writes guest memory here).
    if (auto decoded = decoder_.decode(entry, target); !decoded)
      return std::move(decoded).error().within(fmt::format("region {}", region_id));
    if (entry.encoding == wire::PageEncoding::zero) {
      ++counters_.zero_pages;
    } else {
      ++counters_.normal_pages;
      counters_.normal_bytes += kPageSize;
      if (entry.encoding != wire::PageEncoding::raw) ++counters_.encoded_pages;
    }
    if (region->hashes) region->hashes->update(entry.page, target);
  }
  round_pages_ += view->count;
  return ok();
}

awaitable<Result<void>> PageStreamReceiver::run(std::function<void(uint32_t round)> on_fence) {
  for (;;) {
    // Between rounds the source may be scanning a large guest: allow more than one I/O timeout.
    auto record = co_await connection_->read(timeouts_.io * 3);
    if (!record) co_return std::move(record).error();
    counters_.wire_bytes += record->payload.size() + wire::kHeaderSize;
    switch (static_cast<wire::RecordType>(record->type)) {
      case wire::RecordType::pages: {
        round_bytes_ += record->payload.size();
        auto applied = apply(record->payload);
        if (!applied) co_return std::move(applied).error().within(connection_->label());
        break;
      }
      case wire::RecordType::fence: {
        auto fence = wire::decode_fence(record->payload);
        if (!fence) co_return std::move(fence).error().within(connection_->label());
        if (fence->pages != round_pages_)
          co_return Error(
              Errc::protocol,
              fmt::format("{}: round {}: source sent {} pages, {} arrived", connection_->label(),
                          fence->round, fence->pages, round_pages_));
        // Recorded before the ACK leaves: the source may send SWITCHOVER as soon as it has it.
        if (on_fence) on_fence(fence->round);
        wire::FenceAck ack{fence->round, index_, round_pages_, round_bytes_};
        const auto ack_bytes = wire::encode(ack);
        auto sent = co_await connection_->write(static_cast<uint16_t>(wire::RecordType::fence_ack),
                                                ack_bytes, timeouts_.io);
        if (!sent) co_return sent;
        round_pages_ = 0;
        round_bytes_ = 0;
        break;
      }
      default:
        co_return Error(Errc::protocol,
                        fmt::format("{}: unexpected {} on a data connection", connection_->label(),
                                    wire::record_type_name(record->type)));
    }
  }
}

}  // namespace ferry
