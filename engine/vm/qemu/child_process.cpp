#include "engine/vm/qemu/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace ferry {

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& extra_env,
    const std::string& log_path) {
  if (argv.empty()) return Error(Errc::invalid_argument, "spawn: empty command line");

  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry; ++entry) {
    std::string_view text(*entry);
    auto equals = text.find('=');
    if (equals != std::string_view::npos) {
      environment[std::string(text.substr(0, equals))] = std::string(text.substr(equals + 1));
    }
  }
  for (const auto& [key, value] : extra_env) environment[key] = value;
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : environment) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> argvp;
  for (auto& s : argv_copy) argvp.push_back(s.data());
  argvp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // Descriptors of other VMs' sockets must not leak into this one.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, argvp[0], &actions, nullptr, argvp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return errno_error(fmt::format("start {} (log {})", argv[0], log_path), err);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  if (running()) kill_and_reap();
}

bool ChildProcess::reap(bool block) {
  if (status_) return true;
  int status = 0;
  for (;;) {
    pid_t result = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (result == pid_) {
      status_ = status;
      return true;
    }
    if (result < 0 && errno == EINTR) continue;
    if (result < 0) {
      // ECHILD: someone else reaped it; it is gone either way.
      status_ = -1;
      return true;
    }
    return false;
  }
}

bool ChildProcess::running() {
  std::lock_guard lock(mutex_);
  return !reap(false);
}

std::optional<int> ChildProcess::wait_status() {
  std::lock_guard lock(mutex_);
  reap(false);
  return status_;
}

std::string ChildProcess::exit_description() {
  auto status = wait_status();
  if (!status) return "running";
  if (*status == -1) return "exited (status unknown)";
  if (WIFEXITED(*status)) return fmt::format("exited with status {}", WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(*status),
                       ::strsignal(WTERMSIG(*status)));
  }
  return fmt::format("ended with wait status {}", *status);
}

bool ChildProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!running()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ChildProcess::kill_and_reap() {
  std::lock_guard lock(mutex_);
  if (reap(false)) return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

}  // namespace ferry
