#include "engine/vm/sim/page_writer.h"

#include <algorithm>
#include <chrono>

#include "engine/memory/page.h"

namespace ferry::sim {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSlice = std::chrono::milliseconds(1);
constexpr uint64_t kUnpacedBatch = 64;

}  // namespace

PageWriter::PageWriter(const GuestRam& ram, ContentModel model, uint64_t writes, int64_t rate_mib)
    : ram_(ram), model_(model), writes_(writes), rate_mib_(rate_mib) {
  thread_ = std::thread([this] { loop(); });
}

PageWriter::~PageWriter() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
    interrupt_.store(true, std::memory_order_relaxed);
  }
  cv_.notify_all();
  thread_.join();
}

void PageWriter::run() {
  {
    std::lock_guard lock(mutex_);
    if (running_) return;
    running_ = true;
    ++pacing_epoch_;
  }
  cv_.notify_all();
}

void PageWriter::pause() {
  std::unique_lock lock(mutex_);
  running_ = false;
  interrupt_.store(true, std::memory_order_relaxed);
  cv_.notify_all();
  cv_.wait(lock, [this] { return parked_; });
  // The mutex handoff already orders the writer's stores before us; the fence makes the intent
  // explicit for readers of the RAM file in other processes.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool PageWriter::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

void PageWriter::set_rate(int64_t rate_mib) {
  std::unique_lock lock(mutex_);
  rate_mib_ = rate_mib;
  ++pacing_epoch_;
  interrupt_.store(true, std::memory_order_relaxed);
  cv_.notify_all();
  // Returns once the writer works at the new rate (a parked writer takes it when it wakes).
  cv_.wait(lock, [this] { return parked_ || observed_epoch_ == pacing_epoch_; });
}

int64_t PageWriter::rate() const {
  std::lock_guard lock(mutex_);
  return rate_mib_;
}

void PageWriter::write_pages(uint64_t max_pages) {
  uint64_t w = writes_.load(std::memory_order_relaxed);
  for (uint64_t i = 0; i < max_pages; ++i) {
    if (interrupt_.load(std::memory_order_relaxed)) return;
    const uint64_t page = model_.page_of_write(w);
    write_page_content(ram_.page(page), model_.seed, page, w, model_.content);
    writes_.store(++w, std::memory_order_release);
  }
}

void PageWriter::loop() {
  std::unique_lock lock(mutex_);
  uint64_t epoch = pacing_epoch_;
  Clock::time_point pacing_start = Clock::now();
  uint64_t paced_pages = 0;  // pages written since pacing_start
  for (;;) {
    while (!quit_ && (!running_ || rate_mib_ == 0)) {
      parked_ = true;
      cv_.notify_all();
      cv_.wait(lock);
    }
    if (quit_) {
      parked_ = true;
      cv_.notify_all();
      return;
    }
    parked_ = false;
    interrupt_.store(false, std::memory_order_relaxed);  // seen: the settings are re-read below
    const int64_t rate = rate_mib_;
    if (epoch != pacing_epoch_) {
      epoch = pacing_epoch_;
      observed_epoch_ = epoch;
      cv_.notify_all();
      pacing_start = Clock::now();
      paced_pages = 0;
    }
    if (rate < 0) {
      lock.unlock();
      write_pages(kUnpacedBatch);
      lock.lock();
      continue;
    }
    // Pages due by now at `rate` MiB/s since pacing_start; write them, then sleep a slice.
    const double pages_per_second = static_cast<double>(rate) * (1 << 20) / kPageSize;
    const double elapsed = std::chrono::duration<double>(Clock::now() - pacing_start).count();
    const auto due = static_cast<uint64_t>(elapsed * pages_per_second);
    if (due > paced_pages) {
      // A writer that fell far behind (a stall) does not catch up in one burst.
      const uint64_t burst_limit = static_cast<uint64_t>(pages_per_second / 20) + 1;
      const uint64_t n = std::min(due - paced_pages, burst_limit);
      lock.unlock();
      const uint64_t before = writes_.load(std::memory_order_relaxed);
      write_pages(n);
      const uint64_t written = writes_.load(std::memory_order_relaxed) - before;
      lock.lock();
      paced_pages = (n < due - paced_pages) ? due : paced_pages + written;
      continue;
    }
    cv_.wait_until(lock, Clock::now() + kSlice);
  }
}

}  // namespace ferry::sim
