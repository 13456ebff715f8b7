// Dirty tracking of 1 GiB of guest RAM (userfaultfd async write-protect + PAGEMAP_SCAN): the scan
// runs once per pre-copy round and once more while the guest is paused, so it is downtime.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>

#include "bench/micro/tracked_guest.h"
#include "engine/memory/page.h"
#include "engine/memory/page_bitmap.h"
#include "engine/memory/uffd_dirty_log.h"

namespace ferry::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kGuestBytes = uint64_t{1} << 30;
constexpr int64_t kGuestPages = static_cast<int64_t>(kGuestBytes / kPageSize);
constexpr uint32_t kRegion = 0;

// One guest for every dirty-log benchmark: starting it touches 1 GiB, which costs seconds. It is
// killed when the program exits (and by PR_SET_PDEATHSIG if the program dies).
struct SharedGuest {
  bool tried = false;
  std::unique_ptr<TrackedGuest> guest;
  std::string failure;
};

TrackedGuest* shared_guest(benchmark::State& state) {
  static SharedGuest shared;
  if (!shared.tried) {
    shared.tried = true;
    auto launched = TrackedGuest::launch(kGuestBytes);
    if (launched) {
      shared.guest = std::move(launched).value();
    } else {
      shared.failure = "starting the 1 GiB bench guest: " + launched.error().message();
    }
  }
  if (!shared.guest) state.SkipWithError(shared.failure.c_str());
  return shared.guest.get();
}

// A dirty log over the guest's whole RAM, started (every page write-protected).
std::unique_ptr<UffdDirtyLog> attach_and_start(benchmark::State& state, TrackedGuest& guest) {
  auto uffd = guest.dup_uffd();
  if (!uffd) {
    state.SkipWithError(uffd.error().message().c_str());
    return nullptr;
  }
  auto log = UffdDirtyLog::attach(std::move(uffd).value(), guest.pid(),
                                  {RemoteRange{kRegion, guest.address(), guest.bytes()}});
  if (!log) {
    state.SkipWithError(log.error().message().c_str());
    return nullptr;
  }
  if (auto started = (*log)->start(); !started) {
    state.SkipWithError(started.error().message().c_str());
    return nullptr;
  }
  return std::move(log).value();
}

double seconds_between(Clock::time_point begin, Clock::time_point end) {
  return std::chrono::duration<double>(end - begin).count();
}

// Arg: pages the guest writes (spread evenly) between two collects. Only collect() is timed.
// Bytes processed are the 1 GiB scanned per collect.
void BM_DirtyLogCollect(benchmark::State& state) {
  TrackedGuest* guest = shared_guest(state);
  if (guest == nullptr) return;
  auto log = attach_and_start(state, *guest);
  if (!log) return;
  const auto to_write = static_cast<uint64_t>(state.range(0));
  PageBitmap dirty(guest->pages());
  uint64_t reported_total = 0;
  for (auto _ : state) {
    dirty.clear_all();
    uint64_t written = 0;
    if (to_write > 0) {
      auto wrote = guest->write_spread(to_write);
      if (!wrote) {
        state.SkipWithError(wrote.error().message().c_str());
        break;
      }
      written = *wrote;
    }
    const auto begin = Clock::now();
    auto found = log->collect(kRegion, dirty);
    const auto end = Clock::now();
    if (!found) {
      state.SkipWithError(found.error().message().c_str());
      break;
    }
    if (*found < written || dirty.count() < written) {
      const std::string missed = "collect reported " + std::to_string(*found) +
                                 " pages, the guest wrote " + std::to_string(written);
      state.SkipWithError(missed.c_str());
      break;
    }
    reported_total += *found;
    state.SetIterationTime(seconds_between(begin, end));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * guest->bytes()));
  state.counters["reported_pages"] =
      benchmark::Counter(static_cast<double>(reported_total), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_DirtyLogCollect)
    ->ArgName("dirtied")
    ->Arg(0)
    ->Arg(1000)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
// Dirtying all of RAM costs the guest a write-protect fault per page (far longer than the scan):
// a fixed count keeps the run short whatever --benchmark_min_time says.
BENCHMARK(BM_DirtyLogCollect)
    ->ArgName("dirtied")
    ->Arg(kGuestPages)
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// start(): write-protect every page. Arg: pages the guest wrote since the previous start() (0:
// everything is still protected; all: the guest ran untracked, the case at a migration's start).
void BM_DirtyLogStart(benchmark::State& state) {
  TrackedGuest* guest = shared_guest(state);
  if (guest == nullptr) return;
  auto log = attach_and_start(state, *guest);
  if (!log) return;
  const auto to_write = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    if (to_write > 0) {
      auto wrote = guest->write_spread(to_write);
      if (!wrote) {
        state.SkipWithError(wrote.error().message().c_str());
        break;
      }
    }
    const auto begin = Clock::now();
    auto started = log->start();
    const auto end = Clock::now();
    if (!started) {
      state.SkipWithError(started.error().message().c_str());
      break;
    }
    state.SetIterationTime(seconds_between(begin, end));
  }
  // start() protected everything: nothing may be reported until the guest writes again.
  if (!state.error_occurred()) {
    PageBitmap dirty(guest->pages());
    auto found = log->collect(kRegion, dirty);
    if (!found || *found != 0) state.SkipWithError("pages reported dirty right after start()");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * guest->bytes()));
}
BENCHMARK(BM_DirtyLogStart)
    ->ArgName("dirtied")
    ->Arg(0)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DirtyLogStart)
    ->ArgName("dirtied")
    ->Arg(kGuestPages)
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ferry::bench
