// Moving QEMU's device-state stream through a descriptor ferry owns (one end of a socketpair
// whose other end QEMU received with getfd): a collector reads what the source QEMU writes until
// it closes, a feeder writes a saved stream into the destination QEMU. Each works on its own
// thread so that QMP can be polled meanwhile; both can be cancelled and have deadlines.
#pragma once

#include <chrono>
#include <cstddef>
#include <future>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"

namespace ferry {

class StreamCollector {
 public:
  // Starts reading `fd` (a stream socket) until end of file. `what` names it in errors.
  StreamCollector(UniqueFd fd, std::string what);
  ~StreamCollector();  // cancels and joins
  StreamCollector(const StreamCollector&) = delete;
  StreamCollector& operator=(const StreamCollector&) = delete;

  // Waits for end of file; Errc::timeout (and the reading stops) after `timeout`.
  Result<std::vector<std::byte>> finish(std::chrono::milliseconds timeout);
  // Stops reading now; finish() then reports what failed.
  void cancel();

 private:
  UniqueFd fd_;
  std::string what_;
  std::future<Result<std::vector<std::byte>>> result_;
};

class StreamFeeder {
 public:
  // Starts writing `bytes` (copied) into `fd` (a stream socket), then shuts down its write side.
  StreamFeeder(UniqueFd fd, std::span<const std::byte> bytes, std::string what);
  ~StreamFeeder();
  StreamFeeder(const StreamFeeder&) = delete;
  StreamFeeder& operator=(const StreamFeeder&) = delete;

  Result<void> finish(std::chrono::milliseconds timeout);
  void cancel();

 private:
  UniqueFd fd_;
  std::string what_;
  std::vector<std::byte> bytes_;
  std::future<Result<void>> result_;
};

}  // namespace ferry
