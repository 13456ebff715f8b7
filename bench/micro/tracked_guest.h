// The dirty-log benchmarks' guest: ferry_bench_guest started with the preload library, its RAM
// file mapped in /dev/shm, and the userfaultfd it handed over.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"

namespace ferry::bench {

class TrackedGuest {
 public:
  // Creates a `bytes` RAM file in /dev/shm, starts the guest (which maps it and touches every
  // page) and receives its uffd. The file is unlinked as soon as it is created (the guest gets an
  // open descriptor), so nothing is left in /dev/shm even if the benchmark is killed.
  static Result<std::unique_ptr<TrackedGuest>> launch(uint64_t bytes);
  ~TrackedGuest();  // kills the guest (SIGKILL, by pid) and reaps it
  TrackedGuest(const TrackedGuest&) = delete;
  TrackedGuest& operator=(const TrackedGuest&) = delete;

  pid_t pid() const { return pid_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t pages() const;
  uint64_t address() const { return address_; }  // where the guest maps its RAM
  // A new descriptor for the same uffd: each UffdDirtyLog owns the one it is given.
  Result<UniqueFd> dup_uffd() const;

  // Has the guest write `count` distinct pages spread evenly over its RAM (every page when count
  // >= pages()); returns how many it wrote.
  Result<uint64_t> write_spread(uint64_t count);

 private:
  TrackedGuest() = default;
  Result<void> send(const std::string& line);
  Result<std::string> read_line(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  uint64_t bytes_ = 0;
  uint64_t address_ = 0;
  UniqueFd uffd_;
  UniqueFd to_guest_;
  UniqueFd from_guest_;
  std::string buffered_;
};

}  // namespace ferry::bench
