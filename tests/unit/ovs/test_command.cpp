#include "tests/unit/ovs/test_command.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "engine/posix/unique_fd.h"

extern char** environ;

namespace ferry::ovs {

namespace {

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

}  // namespace

Result<CommandOutput> run_command(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return errno_error("pipe for " + joined(argv));
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return errno_error("start " + joined(argv), spawned);
  write_end.reset();  // so the read sees EOF once the child (and its children) close theirs

  CommandOutput result;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(read_end.get(), buffer, sizeof(buffer));
    if (n > 0) {
      result.output.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno_error("wait for " + joined(argv));
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Result<std::string> run_checked(const std::vector<std::string>& argv) {
  auto result = run_command(argv);
  if (!result) return std::move(result).error();
  if (result->exit_status != 0) {
    return Error(Errc::io, joined(argv) + " exited with status " +
                               std::to_string(result->exit_status) + ": " + result->output);
  }
  return std::move(result->output);
}

}  // namespace ferry::ovs
