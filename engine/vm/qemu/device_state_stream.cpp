#include "engine/vm/qemu/device_state_stream.h"

#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>

namespace ferry {

StreamCollector::StreamCollector(UniqueFd fd, std::string what)
    : fd_(std::move(fd)), what_(std::move(what)) {
  result_ =
      std::async(std::launch::async, [fd = fd_.get(), this]() -> Result<std::vector<std::byte>> {
        std::vector<std::byte> bytes;
        std::byte buffer[64 * 1024];
        for (;;) {
          ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) return errno_error("reading " + what_);
          if (n == 0) return bytes;
          bytes.insert(bytes.end(), buffer, buffer + n);
        }
      });
}

StreamCollector::~StreamCollector() {
  cancel();
  if (result_.valid()) result_.wait();
}

void StreamCollector::cancel() {
  // Wakes a blocked recv(); the descriptor itself stays open until the thread is done.
  if (fd_.valid()) ::shutdown(fd_.get(), SHUT_RDWR);
}

Result<std::vector<std::byte>> StreamCollector::finish(std::chrono::milliseconds timeout) {
  bool timed_out = result_.wait_for(timeout) != std::future_status::ready;
  if (timed_out) cancel();
  auto result = result_.get();
  if (timed_out) {
    return Error(Errc::timeout,
                 fmt::format("{}: no end of stream within {} ms ({} bytes read)", what_,
                             timeout.count(), result.ok() ? result->size() : 0));
  }
  return result;
}

StreamFeeder::StreamFeeder(UniqueFd fd, std::span<const std::byte> bytes, std::string what)
    : fd_(std::move(fd)), what_(std::move(what)), bytes_(bytes.begin(), bytes.end()) {
  result_ = std::async(std::launch::async, [fd = fd_.get(), this]() -> Result<void> {
    std::size_t offset = 0;
    while (offset < bytes_.size()) {
      ssize_t n = ::send(fd, bytes_.data() + offset, bytes_.size() - offset, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return errno_error(
            fmt::format("writing {} (at byte {} of {})", what_, offset, bytes_.size()));
      }
      offset += static_cast<std::size_t>(n);
    }
    // End of file tells QEMU the stream is complete.
    ::shutdown(fd, SHUT_WR);
    return ok();
  });
}

StreamFeeder::~StreamFeeder() {
  cancel();
  if (result_.valid()) result_.wait();
}

void StreamFeeder::cancel() {
  if (fd_.valid() && result_.valid() &&
      result_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    ::shutdown(fd_.get(), SHUT_RDWR);
  }
}

Result<void> StreamFeeder::finish(std::chrono::milliseconds timeout) {
  bool timed_out = result_.wait_for(timeout) != std::future_status::ready;
  if (timed_out) cancel();
  auto result = result_.get();
  if (timed_out) {
    return Error(Errc::timeout, fmt::format("{}: QEMU did not take the stream within {} ms", what_,
                                            timeout.count()));
  }
  return result;
}

}  // namespace ferry
