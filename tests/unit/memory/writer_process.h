// Test support: the ferry_dirty_writer helper as a child process, and files removed at scope end.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace ferry::test {

// A path under `dir` unique to this test process; the file (if any) is removed on destruction.
class ScopedPath {
 public:
  ScopedPath(const std::string& dir, const std::string& stem);
  ~ScopedPath();
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Creates a sparse file of `bytes` (no page allocated yet).
void create_sparse_file(const std::string& path, unsigned long long bytes);

// ferry_dirty_writer FILE BYTES with extra environment entries ("NAME=value"). Killed (SIGKILL)
// and reaped on destruction. Errors throw std::runtime_error (a failed test).
class WriterProcess {
 public:
  WriterProcess(const std::string& file, unsigned long long bytes,
                const std::vector<std::string>& extra_env);
  ~WriterProcess();
  WriterProcess(const WriterProcess&) = delete;
  WriterProcess& operator=(const WriterProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends one command line and returns the reply line.
  std::string command(const std::string& line,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::string read_line(std::chrono::milliseconds timeout);
  void kill_now();  // SIGKILL and reap now

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buffered_;
};

// "write 1 2 3" from a list of pages.
std::string page_command(const std::string& verb, const std::vector<unsigned long long>& pages);

}  // namespace ferry::test
