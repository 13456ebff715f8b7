// PageBitmap: the sender walks the dirty set of every region every round.
#include <benchmark/benchmark.h>

#include <random>

#include "engine/memory/page_bitmap.h"

namespace ferry::bench {
namespace {

constexpr uint64_t kPages = 262144;  // 1 GiB of 4 KiB pages

// Arg: density in tenths of a percent (1 = 0.1%, 100 = 10%, 1000 = 100%), pages chosen at random
// from a fixed seed.
PageBitmap bitmap_with_density(int64_t per_mille) {
  PageBitmap bitmap(kPages);
  if (per_mille >= 1000) {
    bitmap.set_all();
    return bitmap;
  }
  std::mt19937_64 random(per_mille);
  std::bernoulli_distribution chosen(static_cast<double>(per_mille) / 1000.0);
  for (uint64_t p = 0; p < kPages; ++p) {
    if (chosen(random)) bitmap.set(p);
  }
  return bitmap;
}

// Items are pages of the bitmap walked (set or not), so the figures compare across densities.
void report(benchmark::State& state, const PageBitmap& bitmap) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPages));
  state.counters["set_pages"] = static_cast<double>(bitmap.count());
}

void BM_PageBitmapFindNext(benchmark::State& state) {
  const PageBitmap bitmap = bitmap_with_density(state.range(0));
  const uint64_t expected = bitmap.count();
  for (auto _ : state) {
    uint64_t visited = 0;
    for (uint64_t p = bitmap.find_next(0); p < bitmap.size(); p = bitmap.find_next(p + 1))
      ++visited;
    if (visited != expected) {
      state.SkipWithError("find_next visited a different number of pages than count()");
      return;
    }
  }
  report(state, bitmap);
}
BENCHMARK(BM_PageBitmapFindNext)->Arg(1)->Arg(100)->Arg(1000);

void BM_PageBitmapForEach(benchmark::State& state) {
  const PageBitmap bitmap = bitmap_with_density(state.range(0));
  const uint64_t expected = bitmap.count();
  for (auto _ : state) {
    uint64_t visited = 0;
    bitmap.for_each([&](uint64_t page) {
      benchmark::DoNotOptimize(page);
      ++visited;
    });
    if (visited != expected) {
      state.SkipWithError("for_each visited a different number of pages than count()");
      return;
    }
  }
  report(state, bitmap);
}
BENCHMARK(BM_PageBitmapForEach)->Arg(1)->Arg(100)->Arg(1000);

void BM_PageBitmapCount(benchmark::State& state) {
  const PageBitmap bitmap = bitmap_with_density(state.range(0));
  for (auto _ : state) {
    uint64_t set = bitmap.count();
    benchmark::DoNotOptimize(set);
  }
  report(state, bitmap);
}
BENCHMARK(BM_PageBitmapCount)->Arg(100);

// Arg: run length. Runs of that many pages, one run every two run lengths, starting off word
// boundaries (as PAGEMAP_SCAN reports them); kPages is one run over the whole bitmap less its
// first and last page. Items are pages set.
void BM_PageBitmapSetRange(benchmark::State& state) {
  const auto run = static_cast<uint64_t>(state.range(0));
  PageBitmap bitmap(kPages);
  uint64_t pages_per_pass = 0;
  for (auto _ : state) {
    pages_per_pass = 0;
    if (run >= kPages) {
      bitmap.set_range(1, kPages - 2);
      pages_per_pass = kPages - 2;
    } else {
      for (uint64_t first = 3; first + run <= kPages; first += 2 * run) {
        bitmap.set_range(first, run);
        pages_per_pass += run;
      }
    }
    benchmark::ClobberMemory();
  }
  if (bitmap.count() != pages_per_pass) {
    state.SkipWithError("set_range set a different number of pages than asked");
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * pages_per_pass));
}
BENCHMARK(BM_PageBitmapSetRange)->Arg(1)->Arg(64)->Arg(kPages);

}  // namespace
}  // namespace ferry::bench
