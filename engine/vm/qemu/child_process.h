// A process ferry started (QEMU) and must reap: spawn with its output in a log file, poll, wait
// with a deadline, kill. Thread-safe: state() of a VM polls while another thread stops it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/error/error.h"

namespace ferry {

class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH) with this process's environment plus `extra_env` (which
  // overrides), stdin from /dev/null, stdout and stderr appended to `log_path`, and no other
  // descriptor inherited.
  static Result<std::unique_ptr<ChildProcess>> spawn(
      const std::vector<std::string>& argv,
      const std::vector<std::pair<std::string, std::string>>& extra_env,
      const std::string& log_path);
  // Kills and reaps the process if it still runs: ferry never leaves one behind.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps the process when it has exited; true while it runs.
  bool running();
  // The raw wait status once reaped.
  std::optional<int> wait_status();
  // "exited with status 1", "killed by signal 9", "running".
  std::string exit_description();
  // Waits up to `timeout` for the process to exit; true when it did.
  bool wait_for_exit(std::chrono::milliseconds timeout);
  // SIGKILL, then reap.
  void kill_and_reap();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  bool reap(bool block);  // with mutex_ held

  pid_t pid_;
  std::mutex mutex_;
  std::optional<int> status_;
};

}  // namespace ferry
