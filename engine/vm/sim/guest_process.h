// A child process started with posix_spawn, stdin/stdout on /dev/null and stderr in a log file.
// The destructor never leaves it running: SIGKILL and reap.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/error/error.h"

namespace ferry::sim {

class GuestProcess {
 public:
  struct Options {
    std::string binary;
    std::vector<std::string> args;  // without argv[0]
    std::vector<std::string> env;   // "KEY=VALUE", replacing the parent's value of KEY
    std::string stderr_path;        // created or truncated
  };

  static Result<GuestProcess> spawn(const Options& options);

  GuestProcess(GuestProcess&& other) noexcept;
  GuestProcess& operator=(GuestProcess&&) = delete;
  GuestProcess(const GuestProcess&) = delete;
  ~GuestProcess();

  pid_t pid() const { return pid_; }
  // The wait status once the process has exited (reaps it without blocking); nullopt while alive.
  std::optional<int> poll_exit();
  // Waits up to `timeout` for the exit; nullopt when it is still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGKILL, then reap. Returns the wait status.
  int kill_and_reap();

  // "exited with status 2", "killed by signal 9".
  static std::string describe_status(int wait_status);

 private:
  GuestProcess() = default;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The last `lines` lines of a text file ("" when it cannot be read), for error messages.
std::string last_lines_of(const std::string& path, int lines);

}  // namespace ferry::sim
