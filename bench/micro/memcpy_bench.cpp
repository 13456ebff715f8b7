// The yardstick: plain memcpy. Every GB/s figure of the other benchmarks reads against it.
#include <benchmark/benchmark.h>

#include <cstring>

#include "bench/micro/page_buffer.h"

namespace ferry::bench {
namespace {

// Arg: bytes copied. 1 MiB mostly stays in the caches; 64 MiB is the machine's memory bandwidth.
void BM_Memcpy(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  PageBuffer source(bytes / kPageSize);
  PageBuffer target(bytes / kPageSize);
  fill_random_pages(source, 0.0, 11);
  for (auto _ : state) {
    std::memcpy(target.data(), source.data(), bytes);
    benchmark::ClobberMemory();
  }
  if (std::memcmp(target.data(), source.data(), bytes) != 0) {
    state.SkipWithError("memcpy produced a different buffer");
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_Memcpy)->Arg(1 << 20)->Arg(64 << 20);

}  // namespace
}  // namespace ferry::bench
