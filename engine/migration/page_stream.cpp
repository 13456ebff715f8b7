#include "engine/migration/page_stream.h"

#include <algorithm>
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

DestinationRegion* PageStreamReceiver::find_region(uint32_t id) {
  for (auto& r : regions_)
    if (r.id == id) return &r;
  return nullptr;
}

Result<std::byte*> PageStreamReceiver::target_of(DestinationRegion& region, uint64_t page) {
  if (wire::stream_for_page(page, count_) != index_)
    return Error(Errc::protocol, fmt::format("page {} arrived on stream {}, belongs to stream {}",
                                             page, index_, wire::stream_for_page(page, count_)));
  if (const uint64_t end = (page + 1) << kPageShift; !region.memory->reserved_through(end)) {
    if (auto reserved = region.memory->wait_reserved(end); !reserved)
      return std::move(reserved).error().within(fmt::format("page {}", page));
  }
  return region.memory->page(page);
}

void PageStreamReceiver::count_page(wire::PageEncoding encoding) {
  if (encoding == wire::PageEncoding::zero) {
    ++counters_.zero_pages;
    return;
  }
  ++counters_.normal_pages;
  counters_.normal_bytes += kPageSize;
  if (encoding != wire::PageEncoding::raw) ++counters_.encoded_pages;
}

Result<void> PageStreamReceiver::apply(std::span<const std::byte> payload) {
  // Validate the region first so decode_pages can bound page numbers by its size.
  if (payload.size() < 4) return Error(Errc::corrupt, "PAGES record shorter than its header");
  uint32_t region_id;
  std::memcpy(&region_id, payload.data(), sizeof region_id);
  DestinationRegion* region = find_region(region_id);
  if (!region) return Error(Errc::corrupt, fmt::format("PAGES for unknown region {}", region_id));

  auto view = wire::decode_pages(payload, region->memory->pages());
  if (!view) return std::move(view).error();
  for (const auto& entry : *view) {
    auto target = target_of(*region, entry.page);
    if (!target) return std::move(target).error();
    // Delta entries decode against the page already here: the copy this stream sent before
    // (a page always travels on the same stream, and nothing else writes guest memory here).
    if (auto decoded = decoder_.decode(entry, *target); !decoded)
      return std::move(decoded).error().within(fmt::format("region {}", region_id));
    count_page(entry.encoding);
    if (region->hashes) region->hashes->update(entry.page, *target);
  }
  round_pages_ += view->count;
  return ok();
}

awaitable<Result<void>> PageStreamReceiver::receive_buffered(const wire::RecordHeader& header,
                                                             std::size_t have) {
  const auto timeout = timeouts_.io * 3;
  payload_.resize(header.length);
  std::memcpy(payload_.data(), head_.data(), have);
  const std::array<asio::mutable_buffer, 1> rest{
      asio::buffer(payload_.data() + have, header.length - have)};
  if (auto read = co_await connection_->read_into(header, rest, timeout); !read)
    co_return std::move(read).error();
  if (auto crc = wire::verify_crc(header, payload_); !crc)
    co_return std::move(crc).error().within(connection_->label());
  auto applied = apply(payload_);
  if (!applied) co_return std::move(applied).error().within(connection_->label());
  co_return ok();
}

awaitable<Result<void>> PageStreamReceiver::receive_pages(const wire::RecordHeader& header) {
  const auto timeout = timeouts_.io * 3;
  round_bytes_ += header.length;
  if (header.length < wire::kPagesPrefixSize) co_return co_await receive_buffered(header, 0);
  const std::array<asio::mutable_buffer, 1> prefix{
      asio::buffer(head_.data(), wire::kPagesPrefixSize)};
  if (auto read = co_await connection_->read_into(header, prefix, timeout); !read)
    co_return std::move(read).error();
  auto table_size = wire::pages_table_size(
      std::span<const std::byte, wire::kPagesPrefixSize>(head_.data(), wire::kPagesPrefixSize),
      header.length);
  if (!table_size) co_return co_await receive_buffered(header, wire::kPagesPrefixSize);
  const std::size_t head_size = wire::kPagesPrefixSize + *table_size;
  const std::array<asio::mutable_buffer, 1> table{
      asio::buffer(head_.data() + wire::kPagesPrefixSize, *table_size)};
  if (auto read = co_await connection_->read_into(header, table, timeout); !read)
    co_return std::move(read).error();
  uint32_t region_id;
  std::memcpy(&region_id, head_.data(), sizeof region_id);
  DestinationRegion* region = find_region(region_id);
  if (!region || !wire::decode_pages_table(std::span<const std::byte>(head_.data(), head_size),
                                           header.length, region->memory->pages(), table_)) {
    co_return co_await receive_buffered(header, head_size);
  }
  // Entries are applied in order in apply(); here data lands before zero and encoded entries are
  // written, which is the same only when no page appears twice.
  const uint32_t count = table_.count;
  for (uint32_t i = 0; i < count; ++i) sorted_pages_[i] = table_.entries[i].page;
  std::sort(sorted_pages_.begin(), sorted_pages_.begin() + count);
  if (std::adjacent_find(sorted_pages_.begin(), sorted_pages_.begin() + count) !=
      sorted_pages_.begin() + count)
    co_return co_await receive_buffered(header, head_size);

  if (!scratch_)
    scratch_ = std::make_unique<std::byte[]>(wire::kMaxPagesPerRecord * wire::kMaxEncodedPageBytes);
  buffers_.clear();
  pieces_.clear();
  pieces_.emplace_back(head_.data(), head_size);
  std::size_t scratch_used = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const wire::PageTableEntry& entry = table_.entries[i];
    auto target = target_of(*region, entry.page);
    // The checksum is not known yet: a page of another stream may be a corrupt table. The
    // buffered way checks the checksum first, then reports what is wrong.
    if (!target) co_return co_await receive_buffered(header, head_size);
    targets_[i] = *target;
    if (entry.encoding == wire::PageEncoding::zero) continue;
    std::byte* data = *target;
    if (entry.encoding != wire::PageEncoding::raw) {
      data = scratch_.get() + scratch_used;
      scratch_used += entry.data_len;
    }
    buffers_.emplace_back(data, entry.data_len);
    pieces_.emplace_back(data, entry.data_len);
  }
  if (auto read = co_await connection_->read_into(header, buffers_, timeout); !read)
    co_return std::move(read).error();
  // Raw pages are in guest memory already; a corrupt record fails the job, and a destination
  // whose job failed discards that memory.
  if (auto crc = wire::verify_crc(header, pieces_); !crc)
    co_return std::move(crc).error().within(connection_->label());
  std::size_t scratch_read = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const wire::PageTableEntry& entry = table_.entries[i];
    std::byte* target = targets_[i];
    if (entry.encoding == wire::PageEncoding::zero) {
      std::memset(target, 0, kPageSize);
    } else if (entry.encoding != wire::PageEncoding::raw) {
      const wire::PageEntry encoded{
          entry.page, entry.encoding, {scratch_.get() + scratch_read, entry.data_len}};
      scratch_read += entry.data_len;
      if (auto decoded = decoder_.decode(encoded, target); !decoded)
        co_return std::move(decoded).error().within(
            fmt::format("{}: region {}", connection_->label(), region_id));
    }
    count_page(entry.encoding);
    if (region->hashes) region->hashes->update(entry.page, target);
  }
  round_pages_ += count;
  co_return ok();
}

awaitable<Result<void>> PageStreamReceiver::run(std::function<void(uint32_t round)> on_fence) {
  for (;;) {
    // Between rounds the source may be scanning a large guest: allow more than one I/O timeout.
    auto header = co_await connection_->read_header(timeouts_.io * 3);
    if (!header) co_return std::move(header).error();
    counters_.wire_bytes += header->length + wire::kHeaderSize;
    if (header->type == wire::type_number(wire::RecordType::pages)) {
      // Its errors name this connection already.
      auto received = co_await receive_pages(*header);
      if (!received) co_return std::move(received).error();
      continue;
    }
    auto record = co_await connection_->read_payload(*header, timeouts_.io * 3);
    if (!record) co_return std::move(record).error();
    if (wire::is_optional_type(record->type) && !wire::is_known_type(record->type)) continue;
    switch (static_cast<wire::RecordType>(record->type)) {
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
