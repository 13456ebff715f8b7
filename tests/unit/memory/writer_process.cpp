#include "tests/unit/memory/writer_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace ferry::test {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

ScopedPath::ScopedPath(const std::string& dir, const std::string& stem) {
  static std::atomic<int> serial{0};
  path_ = dir + "/ferry-test-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + "-" +
          stem;
}

ScopedPath::~ScopedPath() {
  ::unlink(path_.c_str());
}

void create_sparse_file(const std::string& path, unsigned long long bytes) {
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) fail("create " + path);
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    ::close(fd);
    fail("ftruncate " + path);
  }
  ::close(fd);
}

WriterProcess::WriterProcess(const std::string& file, unsigned long long bytes,
                             const std::vector<std::string>& extra_env) {
  // A writer that died must fail the test with a message, not kill it with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) fail("pipe");
  if (::pipe2(out, O_CLOEXEC) != 0) fail("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);

  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    if (text.rfind("LD_PRELOAD=", 0) == 0 || text.rfind("FERRY_UFFD_", 0) == 0) continue;
    env.push_back(text);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);

  std::string program = FERRY_DIRTY_WRITER_PATH;
  std::string size = std::to_string(bytes);
  std::string file_arg = file;
  char* argv[] = {program.data(), file_arg.data(), size.data(), nullptr};
  const int rc = posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  to_child_ = in[1];
  from_child_ = out[0];
  if (rc != 0) {
    errno = rc;
    pid_ = -1;
    fail("posix_spawn " + program);
  }
}

WriterProcess::~WriterProcess() {
  kill_now();
  if (to_child_ >= 0) ::close(to_child_);
  if (from_child_ >= 0) ::close(from_child_);
}

void WriterProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string WriterProcess::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (const auto newline = buffered_.find('\n'); newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("dirty writer: no reply in time");
    pollfd entry{from_child_, POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) fail("poll");
    if (ready <= 0) continue;
    char data[4096];
    const ssize_t n = ::read(from_child_, data, sizeof data);
    if (n == 0) throw std::runtime_error("dirty writer: exited (pipe closed)");
    if (n < 0 && errno != EINTR && errno != EAGAIN) fail("read from dirty writer");
    if (n > 0) buffered_.append(data, static_cast<size_t>(n));
  }
}

std::string WriterProcess::command(const std::string& line, std::chrono::milliseconds timeout) {
  const std::string text = line + "\n";
  size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::write(to_child_, text.data() + sent, text.size() - sent);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write to dirty writer");
    sent += static_cast<size_t>(n);
  }
  return read_line(timeout);
}

std::string page_command(const std::string& verb, const std::vector<unsigned long long>& pages) {
  std::string line = verb;
  for (unsigned long long page : pages) line += " " + std::to_string(page);
  return line;
}

}  // namespace ferry::test
