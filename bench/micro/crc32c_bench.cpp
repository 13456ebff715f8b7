// CRC-32C: every record's checksum, computed over every page sent and received.
#include <benchmark/benchmark.h>

#include "bench/micro/page_buffer.h"
#include "engine/wire/crc32c.h"

namespace ferry::bench {
namespace {

using Crc = uint32_t (*)(const void*, std::size_t, uint32_t);

// Arg: buffer bytes (4 KiB = one page, 1 MiB = one full PAGES record).
void BM_Crc32c(benchmark::State& state, Crc crc, bool needs_hardware) {
  if (needs_hardware && !wire::detail::crc32c_hardware_available()) {
    state.SkipWithError("this CPU has no SSE4.2 crc32 instruction");
    return;
  }
  const auto bytes = static_cast<std::size_t>(state.range(0));
  PageBuffer buffer((bytes + kPageSize - 1) / kPageSize);
  fill_random_pages(buffer, 0.0, 7);
  // Both implementations must agree before either is worth timing.
  if (crc(buffer.data(), bytes, 0) != wire::detail::crc32c_portable(buffer.data(), bytes, 0)) {
    state.SkipWithError("CRC differs from the portable implementation");
    return;
  }
  uint32_t value = 0;
  for (auto _ : state) {
    value = crc(buffer.data(), bytes, value);
    benchmark::DoNotOptimize(value);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

BENCHMARK_CAPTURE(BM_Crc32c, hardware, &wire::detail::crc32c_hardware, true)
    ->Arg(4 << 10)
    ->Arg(1 << 20);
BENCHMARK_CAPTURE(BM_Crc32c, portable, &wire::detail::crc32c_portable, false)
    ->Arg(4 << 10)
    ->Arg(1 << 20);

}  // namespace
}  // namespace ferry::bench
