// Zero-page check: the sender runs it on every page it sends.
#include <benchmark/benchmark.h>

#include "bench/micro/page_buffer.h"
#include "engine/wire/zero_page.h"

namespace ferry::bench {
namespace {

using ZeroCheck = bool (*)(const std::byte*);

enum class Content { zero, first_byte_set, last_byte_set };

bool has_avx2() {
  return wire::detail::is_zero_page_avx2_available();
}

// One page, hot in L1: the cost of the check itself. Bytes processed count the whole page even
// when the check stops early, so the figures compare as "pages per second".
void BM_ZeroPage(benchmark::State& state, ZeroCheck check, bool needs_avx2, Content content) {
  if (needs_avx2 && !has_avx2()) {
    state.SkipWithError("this CPU has no AVX2");
    return;
  }
  PageBuffer page(1);
  if (content == Content::first_byte_set) page.data()[0] = std::byte{1};
  if (content == Content::last_byte_set) page.data()[kPageSize - 1] = std::byte{1};
  const bool expected = content == Content::zero;
  if (check(page.data()) != expected) {
    state.SkipWithError("zero-page check gave the wrong answer for this page");
    return;
  }
  const std::byte* data = page.data();
  for (auto _ : state) {
    benchmark::DoNotOptimize(data);
    bool zero = check(data);
    benchmark::DoNotOptimize(zero);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kPageSize);
}

BENCHMARK_CAPTURE(BM_ZeroPage, dispatch_zero, &wire::is_zero_page, false, Content::zero);
BENCHMARK_CAPTURE(BM_ZeroPage, dispatch_first_byte_set, &wire::is_zero_page, false,
                  Content::first_byte_set);
BENCHMARK_CAPTURE(BM_ZeroPage, dispatch_last_byte_set, &wire::is_zero_page, false,
                  Content::last_byte_set);
BENCHMARK_CAPTURE(BM_ZeroPage, portable_zero, &wire::detail::is_zero_page_portable, false,
                  Content::zero);
BENCHMARK_CAPTURE(BM_ZeroPage, portable_first_byte_set, &wire::detail::is_zero_page_portable, false,
                  Content::first_byte_set);
BENCHMARK_CAPTURE(BM_ZeroPage, portable_last_byte_set, &wire::detail::is_zero_page_portable, false,
                  Content::last_byte_set);
BENCHMARK_CAPTURE(BM_ZeroPage, avx2_zero, &wire::detail::is_zero_page_avx2, true, Content::zero);
BENCHMARK_CAPTURE(BM_ZeroPage, avx2_first_byte_set, &wire::detail::is_zero_page_avx2, true,
                  Content::first_byte_set);
BENCHMARK_CAPTURE(BM_ZeroPage, avx2_last_byte_set, &wire::detail::is_zero_page_avx2, true,
                  Content::last_byte_set);

// 64 MiB of zero pages, larger than the caches: what the check costs when pages come from memory,
// as they do when the sender scans guest RAM.
void BM_ZeroPageScan64MiB(benchmark::State& state) {
  PageBuffer memory(16384);
  for (auto _ : state) {
    uint64_t zero_pages = 0;
    for (uint64_t p = 0; p < memory.pages(); ++p) zero_pages += wire::is_zero_page(memory.page(p));
    if (zero_pages != memory.pages()) {
      state.SkipWithError("a zero page was reported as not zero");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * memory.bytes()));
}
BENCHMARK(BM_ZeroPageScan64MiB)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ferry::bench
