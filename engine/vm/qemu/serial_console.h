// The guest's serial console as QEMU exposes it on a unix socket (-chardev socket,server=on).
// A reader thread splits the output into lines and stamps each with the host's steady clock when
// it arrived, so a test can measure gaps in the guest's heartbeat (the pause a migration caused).
// Lines are kept in a bounded buffer (the oldest are dropped) and numbered: a caller notes
// next_seq(), sends a command, and waits for a reply line at or after that number.
// Optionally each line is also appended to a "host log" with the wall-clock time it arrived
// ("1718000000.123456 HB 12 3400"): another process (a test, an operator) can then measure the
// pause a migration caused across the source's and the destination's logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error/error.h"

namespace ferry {

struct SerialLine {
  uint64_t seq = 0;                          // 0 for the first line received
  std::chrono::steady_clock::time_point at;  // when its newline arrived at the host
  std::string text;                          // without "\r\n"
};

class SerialConsole {
 public:
  // `host_log_path`: empty for no host log. It is appended to; past 32 MiB it moves to
  // `host_log_path` + ".1" (replacing an older one) and starts again.
  static Result<std::unique_ptr<SerialConsole>> connect(const std::string& socket_path,
                                                        std::chrono::milliseconds timeout,
                                                        std::function<bool()> peer_alive = {},
                                                        std::size_t max_lines = 100000,
                                                        std::string host_log_path = {});
  ~SerialConsole();
  SerialConsole(const SerialConsole&) = delete;
  SerialConsole& operator=(const SerialConsole&) = delete;

  // Writes `text` to the guest's serial input as is.
  Result<void> send(std::string_view text);
  // The first line numbered >= `from_seq` that starts with `prefix`, waiting up to `timeout`.
  Result<SerialLine> wait_line(std::string_view prefix, uint64_t from_seq,
                               std::chrono::milliseconds timeout) const;
  // Sends `line` + "\n" and waits for the first later line that starts with `reply_prefix`.
  Result<SerialLine> command(std::string_view line, std::string_view reply_prefix,
                             std::chrono::milliseconds timeout);

  uint64_t next_seq() const;  // the number the next line will get
  std::vector<SerialLine> lines_since(uint64_t seq) const;
  std::vector<SerialLine> tail(std::size_t count) const;
  uint64_t dropped_lines() const;  // lines that fell out of the bounded buffer
  bool connected() const;
  const std::string& socket_path() const;

  // Disconnects and stops the reader; the received lines stay readable. Idempotent.
  void close();

 private:
  struct Impl;
  explicit SerialConsole(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
