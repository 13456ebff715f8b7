#include "tests/unit/nfs/fixture_command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "engine/posix/unique_fd.h"

namespace ferry::nfs {

Result<std::string> run_fixture_command(const std::vector<std::string>& argv) {
  std::string command;
  for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
  int fds[2];
  // Close-on-exec: the daemons a script starts must not keep our end of the pipe open.
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe2 for " + command);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork for " + command);
  if (pid == 0) {
    ::dup2(write_end.get(), STDOUT_FILENO);
    ::dup2(write_end.get(), STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  write_end.reset();
  std::string output;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n > 0) {
      output.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno_error("waitpid for " + command);
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code != 0)
    return Error(Errc::io, command + " exited with status " + std::to_string(code) + ": " + output);
  return output;
}

}  // namespace ferry::nfs
