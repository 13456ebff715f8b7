#include "engine/vm/sim/guest_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>

extern char** environ;

namespace ferry::sim {
namespace {

std::string env_key(const std::string& entry) {
  return entry.substr(0, entry.find('='));
}

}  // namespace

Result<GuestProcess> GuestProcess::spawn(const Options& options) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    bool replaced = false;
    for (const auto& mine : options.env) replaced = replaced || env_key(mine) == env_key(entry);
    if (!replaced) env.push_back(std::move(entry));
  }
  env.insert(env.end(), options.env.begin(), options.env.end());

  std::vector<char*> argv{const_cast<char*>(options.binary.c_str())};
  for (const auto& a : options.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, options.stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int err =
      ::posix_spawn(&pid, options.binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return errno_error("start " + options.binary, err);
  GuestProcess process;
  process.pid_ = pid;
  return process;
}

GuestProcess::GuestProcess(GuestProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

GuestProcess::~GuestProcess() {
  if (pid_ > 0 && !status_) kill_and_reap();
}

std::optional<int> GuestProcess::poll_exit() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) status_ = status;
  return status_;
}

std::optional<int> GuestProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!poll_exit()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

int GuestProcess::kill_and_reap() {
  if (status_ || pid_ <= 0) return status_.value_or(0);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = status;
  return status;
}

std::string GuestProcess::describe_status(int wait_status) {
  if (WIFEXITED(wait_status)) return fmt::format("exited with status {}", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(wait_status),
                       ::strsignal(WTERMSIG(wait_status)));
  }
  return fmt::format("ended with wait status {:#x}", wait_status);
}

std::string last_lines_of(const std::string& path, int lines) {
  std::ifstream in(path);
  if (!in) return {};
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(std::move(line));
  std::string out;
  const std::size_t first = all.size() > static_cast<std::size_t>(lines) ? all.size() - lines : 0;
  for (std::size_t i = first; i < all.size(); ++i) {
    if (!out.empty()) out += " | ";
    out += all[i];
  }
  return out;
}

}  // namespace ferry::sim
