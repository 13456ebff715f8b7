// Programs a test runs: a command it waits for (output captured), or a background process it owns
// and stops by PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "engine/error/error.h"

namespace ferry::iscsi::test {

struct CommandOutput {
  int exit_status = -1;  // exit code, or 128 + signal
  std::string output;    // stdout and stderr interleaved
};

// Runs argv (argv[0] looked up in PATH) without a shell and waits. An Error only when it could not
// be started.
Result<CommandOutput> run_command(const std::vector<std::string>& argv);
// A non-zero exit becomes an Error quoting the command and its output.
Result<std::string> run_checked(const std::vector<std::string>& argv);

// True when `program` is an executable in PATH.
bool in_path(const std::string& program);

// A process started in the background with stdout/stderr to `log_path`; the destructor kills it
// (SIGKILL) and reaps it if stop() was not called.
class ChildProcess {
 public:
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                    const std::string& log_path);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // SIGTERM, then SIGKILL after `grace`; reaps it.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

}  // namespace ferry::iscsi::test
