// The simulated guest's writer thread: writes whole pages of the content model at a paced rate.
// Write w lands in page model.page_of_write(w); the write counter W is published with release
// semantics after each page is complete, so a reader that acquires W sees writes [0, W) in memory.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "engine/vm/sim/content_model.h"
#include "engine/vm/sim/guest_ram.h"

namespace ferry::sim {

class PageWriter {
 public:
  // Starts the thread parked (not writing). `ram` must outlive the writer.
  PageWriter(const GuestRam& ram, ContentModel model, uint64_t writes, int64_t rate_mib);
  PageWriter(const PageWriter&) = delete;
  PageWriter& operator=(const PageWriter&) = delete;
  ~PageWriter();

  void run();
  // Returns once the thread has stopped writing and no page write is in flight.
  void pause();
  bool running() const;

  // MiB/s: 0 writes nothing, -1 writes as fast as it can. Returns once the writer uses it.
  void set_rate(int64_t rate_mib);
  int64_t rate() const;

  uint64_t writes() const { return writes_.load(std::memory_order_acquire); }

 private:
  void loop();
  // Writes up to `max_pages` pages, stopping early when interrupted.
  void write_pages(uint64_t max_pages);

  const GuestRam& ram_;
  const ContentModel model_;
  std::atomic<uint64_t> writes_;
  // Set by pause()/set_rate(), checked between pages, so that they take effect within one page.
  std::atomic<bool> interrupt_{false};

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool running_ = false;  // desired state
  bool parked_ = true;    // the thread is not writing (waiting for work)
  bool quit_ = false;
  int64_t rate_mib_;
  uint64_t pacing_epoch_ = 0;    // bumped by run()/set_rate() to restart pacing
  uint64_t observed_epoch_ = 0;  // the epoch the writer works with

  std::thread thread_;
};

}  // namespace ferry::sim
