// PAGES records: the sender fills them from guest RAM, the receiver decodes them into its RAM.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "bench/micro/page_buffer.h"
#include "engine/wire/pages.h"
#include "engine/wire/record.h"
#include "engine/wire/record_type.h"
#include "engine/wire/zero_page.h"

namespace ferry::bench {
namespace {

// 64 MiB of guest RAM, larger than the caches, so records are built from memory as they are in
// a migration; about 10% of its pages are zero.
constexpr uint64_t kGuestPages = 16384;
constexpr uint64_t kRecords = kGuestPages / wire::kMaxPagesPerRecord;
constexpr int64_t kRecordPageBytes = int64_t{wire::kMaxPagesPerRecord} * kPageSize;

// Built once: filling 64 MiB with random bytes costs more than many benchmark runs.
const PageBuffer& guest_memory() {
  static const PageBuffer memory = [] {
    PageBuffer buffer(kGuestPages);
    fill_random_pages(buffer, 0.10, 42);
    return buffer;
  }();
  return memory;
}

// Every page of guest_memory() as full records (header + payload), record r holding pages
// [r * 256, (r + 1) * 256).
const std::vector<std::vector<std::byte>>& encoded_records() {
  static const std::vector<std::vector<std::byte>> records = [] {
    const PageBuffer& memory = guest_memory();
    wire::PagesBuilder builder;
    std::vector<std::vector<std::byte>> out;
    for (uint64_t r = 0; r < kRecords; ++r) {
      builder.reset(0);
      for (uint64_t p = r * wire::kMaxPagesPerRecord; p < (r + 1) * wire::kMaxPagesPerRecord; ++p)
        builder.add_page(p, memory.page(p));
      const auto record = builder.record();
      out.emplace_back(record.begin(), record.end());
    }
    return out;
  }();
  return records;
}

std::span<const std::byte> payload_of(const std::vector<std::byte>& record) {
  return std::span<const std::byte>(record).subspan(wire::kHeaderSize);
}

// What PageStreamReceiver::apply does with each entry.
void apply_entry(const wire::PageEntry& entry, const PageBuffer& target) {
  std::byte* page = target.page(entry.page);
  if (entry.encoding == wire::PageEncoding::zero) {
    std::memset(page, 0, kPageSize);
  } else {
    std::memcpy(page, entry.data.data(), kPageSize);
  }
}

// Sender: copy each page into the record and decide zero/raw on the copy (PagesBuilder::add_page),
// then header + CRC (record()).
void BM_PagesEncode(benchmark::State& state) {
  const PageBuffer& memory = guest_memory();
  wire::PagesBuilder builder;
  uint64_t next = 0;
  int64_t wire_bytes = 0;
  for (auto _ : state) {
    builder.reset(0);
    while (!builder.full()) {
      builder.add_page(next, memory.page(next));
      next = (next + 1) % kGuestPages;
    }
    const auto record = builder.record();
    benchmark::DoNotOptimize(record.data());
    wire_bytes += static_cast<int64_t>(record.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kRecordPageBytes);
  state.counters["wire_bytes_per_record"] =
      benchmark::Counter(static_cast<double>(wire_bytes), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_PagesEncode);

// Sender as PageStreamSender does it today: check the guest page, then add_zero or add_raw.
void BM_PagesEncodeCheckFirst(benchmark::State& state) {
  const PageBuffer& memory = guest_memory();
  wire::PagesBuilder builder;
  uint64_t next = 0;
  for (auto _ : state) {
    builder.reset(0);
    while (!builder.full()) {
      const std::byte* page = memory.page(next);
      if (wire::is_zero_page(page)) {
        builder.add_zero(next);
      } else {
        builder.add_raw(next, page);
      }
      next = (next + 1) % kGuestPages;
    }
    const auto record = builder.record();
    benchmark::DoNotOptimize(record.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kRecordPageBytes);
}
BENCHMARK(BM_PagesEncodeCheckFirst);

// Decodes every record into `target` once, outside the timing, and checks the result equals the
// source memory; a benchmark of a decoder that loses pages would be worthless. Empty on success.
std::string check_round_trip(const PageBuffer& target) {
  for (const auto& record : encoded_records()) {
    auto view = wire::decode_pages(payload_of(record), kGuestPages);
    if (!view) return view.error().message();
    for (const wire::PageEntry& entry : *view) apply_entry(entry, target);
  }
  if (std::memcmp(target.data(), guest_memory().data(), guest_memory().bytes()) != 0)
    return "decoded memory differs from the encoded guest memory";
  return {};
}

// Receiver without framing: decode_pages (validates the whole table), then copy each page into
// place (zero pages are cleared).
void BM_PagesDecode(benchmark::State& state) {
  const auto& records = encoded_records();
  PageBuffer target(kGuestPages);
  if (const std::string failure = check_round_trip(target); !failure.empty()) {
    state.SkipWithError(failure.c_str());
    return;
  }
  uint64_t next = 0;
  for (auto _ : state) {
    auto view = wire::decode_pages(payload_of(records[next]), kGuestPages);
    if (!view) {
      state.SkipWithError(view.error().message().c_str());
      break;
    }
    for (const wire::PageEntry& entry : *view) apply_entry(entry, target);
    next = (next + 1) % records.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kRecordPageBytes);
}
BENCHMARK(BM_PagesDecode);

// Receiver with framing: decode_header + verify_crc over the whole record, then as above.
void BM_PagesReceive(benchmark::State& state) {
  const auto& records = encoded_records();
  PageBuffer target(kGuestPages);
  if (const std::string failure = check_round_trip(target); !failure.empty()) {
    state.SkipWithError(failure.c_str());
    return;
  }
  const wire::Limits limits;
  uint64_t next = 0;
  for (auto _ : state) {
    const auto& record = records[next];
    auto header = wire::decode_header(
        std::span<const std::byte, wire::kHeaderSize>(record.data(), wire::kHeaderSize), limits);
    if (!header) {
      state.SkipWithError(header.error().message().c_str());
      break;
    }
    if (auto verified = wire::verify_crc(*header, payload_of(record)); !verified) {
      state.SkipWithError(verified.error().message().c_str());
      break;
    }
    auto view = wire::decode_pages(payload_of(record), kGuestPages);
    if (!view) {
      state.SkipWithError(view.error().message().c_str());
      break;
    }
    for (const wire::PageEntry& entry : *view) apply_entry(entry, target);
    next = (next + 1) % records.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kRecordPageBytes);
}
BENCHMARK(BM_PagesReceive);

}  // namespace
}  // namespace ferry::bench
