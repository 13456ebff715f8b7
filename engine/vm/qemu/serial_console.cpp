#include "engine/vm/qemu/serial_console.h"

#include <sys/socket.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "engine/posix/unique_fd.h"
#include "engine/vm/qemu/unix_socket.h"

namespace ferry {

namespace {
// A guest that never sends a newline must not grow the buffer without bound.
constexpr std::size_t kMaxLineBytes = 64 * 1024;
constexpr long kMaxHostLogBytes = 32L << 20;

// Appends stamped lines to a file; rotates it once it is large. Used by the reader thread only.
class HostLog {
 public:
  explicit HostLog(std::string path) : path_(std::move(path)) { open(); }
  ~HostLog() {
    if (file_) std::fclose(file_);
  }
  HostLog(const HostLog&) = delete;
  HostLog& operator=(const HostLog&) = delete;

  void write(std::chrono::system_clock::time_point at, const std::string& text) {
    if (!file_) return;
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count();
    std::fprintf(file_, "%lld.%06lld %s\n", static_cast<long long>(us / 1000000),
                 static_cast<long long>(us % 1000000), text.c_str());
    // Flushed per line: readers look at the file while the guest runs.
    std::fflush(file_);
    if (std::ftell(file_) > kMaxHostLogBytes) {
      std::fclose(file_);
      std::error_code ec;
      std::filesystem::rename(path_, path_ + ".1", ec);
      open();
    }
  }

 private:
  void open() { file_ = std::fopen(path_.c_str(), "ae"); }
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace

struct SerialConsole::Impl {
  std::string path;
  std::size_t max_lines = 0;
  UniqueFd fd;
  std::thread reader;
  std::mutex write_mutex;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::deque<SerialLine> lines;
  uint64_t next_seq = 0;
  uint64_t dropped = 0;
  std::optional<Error> failure;  // set when the connection ended
  std::unique_ptr<HostLog> host_log;

  void add_line(std::string text) {
    while (!text.empty() && (text.back() == '\r' || text.back() == '\n')) text.pop_back();
    if (host_log) host_log->write(std::chrono::system_clock::now(), text);
    std::lock_guard lock(mutex);
    lines.push_back(SerialLine{next_seq++, std::chrono::steady_clock::now(), std::move(text)});
    while (lines.size() > max_lines) {
      lines.pop_front();
      ++dropped;
    }
    changed.notify_all();
  }

  void read_loop() {
    std::string partial;
    char buffer[4096];
    for (;;) {
      ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Error error =
            n == 0 ? Error(Errc::connection_lost, fmt::format("serial console {} was closed", path))
                   : errno_error("reading serial console " + path);
        if (!partial.empty()) add_line(std::move(partial));
        std::lock_guard lock(mutex);
        failure = std::move(error);
        changed.notify_all();
        return;
      }
      for (ssize_t i = 0; i < n; ++i) {
        if (buffer[i] == '\n') {
          add_line(std::move(partial));
          partial.clear();
        } else if (partial.size() < kMaxLineBytes) {
          partial.push_back(buffer[i]);
        }
      }
    }
  }

  // The first line with seq >= from_seq starting with prefix; the caller holds `mutex`.
  const SerialLine* find(std::string_view prefix, uint64_t from_seq) const {
    for (const SerialLine& line : lines) {
      if (line.seq >= from_seq && std::string_view(line.text).starts_with(prefix)) return &line;
    }
    return nullptr;
  }
};

SerialConsole::SerialConsole(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SerialConsole::~SerialConsole() {
  close();
}

Result<std::unique_ptr<SerialConsole>> SerialConsole::connect(const std::string& socket_path,
                                                              std::chrono::milliseconds timeout,
                                                              std::function<bool()> peer_alive,
                                                              std::size_t max_lines,
                                                              std::string host_log_path) {
  auto fd = connect_unix_socket_with_retry(socket_path, "serial console " + socket_path, timeout,
                                           peer_alive);
  if (!fd) return std::move(fd).error();
  auto impl = std::make_unique<Impl>();
  impl->path = socket_path;
  impl->max_lines = max_lines == 0 ? 1 : max_lines;
  impl->fd = std::move(fd).value();
  if (!host_log_path.empty()) impl->host_log = std::make_unique<HostLog>(std::move(host_log_path));
  Impl* raw = impl.get();
  impl->reader = std::thread([raw] { raw->read_loop(); });
  return std::unique_ptr<SerialConsole>(new SerialConsole(std::move(impl)));
}

Result<void> SerialConsole::send(std::string_view text) {
  std::lock_guard write_lock(impl_->write_mutex);
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->failure) return Error(impl_->failure->code(), impl_->failure->message());
  }
  while (!text.empty()) {
    ssize_t n = ::send(impl_->fd.get(), text.data(), text.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("writing serial console " + impl_->path);
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok();
}

Result<SerialLine> SerialConsole::wait_line(std::string_view prefix, uint64_t from_seq,
                                            std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  const SerialLine* found = nullptr;
  bool done = impl_->changed.wait_until(lock, std::chrono::steady_clock::now() + timeout, [&] {
    found = impl_->find(prefix, from_seq);
    return found != nullptr || impl_->failure.has_value();
  });
  if (found) return *found;
  std::string last = impl_->lines.empty() ? "(none)" : "'" + impl_->lines.back().text + "'";
  if (done) {
    return Error(impl_->failure->code(),
                 fmt::format("waiting for a line starting with '{}': {} (last line {})", prefix,
                             impl_->failure->message(), last));
  }
  return Error(Errc::timeout,
               fmt::format("serial console {}: no line starting with '{}' within {} ms (last line "
                           "{})",
                           impl_->path, prefix, timeout.count(), last));
}

Result<SerialLine> SerialConsole::command(std::string_view line, std::string_view reply_prefix,
                                          std::chrono::milliseconds timeout) {
  uint64_t from = next_seq();
  auto sent = send(std::string(line) + "\n");
  if (!sent) return std::move(sent).error().within(fmt::format("serial command '{}'", line));
  auto reply = wait_line(reply_prefix, from, timeout);
  if (!reply) return std::move(reply).error().within(fmt::format("serial command '{}'", line));
  return reply;
}

uint64_t SerialConsole::next_seq() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->next_seq;
}

std::vector<SerialLine> SerialConsole::lines_since(uint64_t seq) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<SerialLine> result;
  for (const SerialLine& line : impl_->lines) {
    if (line.seq >= seq) result.push_back(line);
  }
  return result;
}

std::vector<SerialLine> SerialConsole::tail(std::size_t count) const {
  std::lock_guard lock(impl_->mutex);
  std::size_t first = impl_->lines.size() > count ? impl_->lines.size() - count : 0;
  return std::vector<SerialLine>(impl_->lines.begin() + static_cast<std::ptrdiff_t>(first),
                                 impl_->lines.end());
}

uint64_t SerialConsole::dropped_lines() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->dropped;
}

bool SerialConsole::connected() const {
  std::lock_guard lock(impl_->mutex);
  return !impl_->failure.has_value();
}

const std::string& SerialConsole::socket_path() const {
  return impl_->path;
}

void SerialConsole::close() {
  if (!impl_ || !impl_->reader.joinable()) return;
  // shutdown() wakes the reader's blocking recv(), which then sees end of file.
  ::shutdown(impl_->fd.get(), SHUT_RDWR);
  impl_->reader.join();
  std::lock_guard write_lock(impl_->write_mutex);
  impl_->fd.reset();
}

}  // namespace ferry
