#include "bench/micro/tracked_guest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "engine/agent/uffd_handoff.h"
#include "engine/memory/page.h"
#include "engine/memory/uffd_dirty_log.h"

extern char** environ;

namespace ferry::bench {

namespace {

using namespace std::chrono_literals;

// Touching 1 GiB of fresh tmpfs takes 1-2 s here, much longer when other builds load the machine.
constexpr auto kReadyTimeout = 120s;
constexpr auto kCommandTimeout = 60s;
// The guest finds its RAM file at this descriptor.
constexpr int kGuestRamFd = 3;

// Creates the guest's RAM file and unlinks it at once: the descriptor keeps it alive, and a
// benchmark killed at any point leaves nothing behind in /dev/shm. The guest still shows the path
// (with " (deleted)") in /proc/PID/maps, where find_file_mapping looks for it.
Result<UniqueFd> create_unlinked_ram_file(const std::string& path, uint64_t bytes) {
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("create guest RAM file " + path);
  if (::unlink(path.c_str()) != 0) return errno_error("unlink guest RAM file " + path);
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0)
    return errno_error("ftruncate guest RAM file " + path + " to " + std::to_string(bytes));
  return fd;
}

// This process's environment without any preload settings of its own, plus `extra`.
std::vector<std::string> guest_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    if (text.rfind("LD_PRELOAD=", 0) == 0 || text.rfind("FERRY_UFFD_", 0) == 0) continue;
    env.push_back(text);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

Result<std::unique_ptr<TrackedGuest>> TrackedGuest::launch(uint64_t bytes) {
  // A guest that died must give an error, not end the benchmark with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  const std::string stem = "ferry-bench-" + std::to_string(::getpid());
  const std::string ram_path = "/dev/shm/" + stem + "-ram";
  const std::string socket_path = "/tmp/" + stem + "-uffd.sock";

  auto ram = create_unlinked_ram_file(ram_path, bytes);
  if (!ram) return std::move(ram).error();
  auto receiver = UffdReceiver::listen(socket_path);  // removes its socket file when destroyed
  if (!receiver) return std::move(receiver).error();

  int to_guest[2], from_guest[2];
  if (::pipe2(to_guest, O_CLOEXEC) != 0) return errno_error("pipe to the bench guest");
  std::unique_ptr<TrackedGuest> guest(new TrackedGuest());
  guest->bytes_ = bytes;
  guest->to_guest_ = UniqueFd(to_guest[1]);
  UniqueFd guest_stdin(to_guest[0]);
  if (::pipe2(from_guest, O_CLOEXEC) != 0) return errno_error("pipe from the bench guest");
  guest->from_guest_ = UniqueFd(from_guest[0]);
  UniqueFd guest_stdout(from_guest[1]);

  std::vector<std::string> env = guest_environment({
      std::string("LD_PRELOAD=") + FERRY_PRELOAD_PATH,
      std::string(kUffdSocketEnv) + "=" + socket_path,
      "FERRY_UFFD_THP_DISABLE=1",  // 4 KiB pages: a write dirties one page, as in the guest VMs
  });
  std::vector<char*> envp;
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string program = FERRY_BENCH_GUEST_PATH;
  std::string fd_arg = std::to_string(kGuestRamFd);
  std::string size_arg = std::to_string(bytes);
  std::string parent_arg = std::to_string(::getpid());
  char* argv[] = {program.data(), fd_arg.data(), size_arg.data(), parent_arg.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, guest_stdin.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, guest_stdout.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, ram->get(), kGuestRamFd);
  const int spawned =
      posix_spawn(&guest->pid_, program.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    guest->pid_ = -1;
    return errno_error("posix_spawn " + program, spawned);
  }
  guest_stdin.reset();
  guest_stdout.reset();  // so a guest that dies closes our end of the pipe

  auto uffd = receiver->accept_fd(10s);
  if (!uffd)
    return std::move(uffd).error().within("bench guest pid " + std::to_string(guest->pid_));
  guest->uffd_ = std::move(uffd).value();
  auto ready = guest->read_line(kReadyTimeout);
  if (!ready) return std::move(ready).error().within("waiting for READY");
  if (*ready != "READY") {
    return Error(Errc::guest, "bench guest pid " + std::to_string(guest->pid_) +
                                  ": expected READY, got \"" + *ready + "\"");
  }
  auto address = find_file_mapping(guest->pid_, ram_path, bytes);
  if (!address) return std::move(address).error();
  guest->address_ = *address;
  return guest;
}

TrackedGuest::~TrackedGuest() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

uint64_t TrackedGuest::pages() const {
  return bytes_ >> kPageShift;
}

Result<UniqueFd> TrackedGuest::dup_uffd() const {
  UniqueFd copy(::fcntl(uffd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!copy.valid())
    return errno_error("dup of the uffd of bench guest pid " + std::to_string(pid_));
  return copy;
}

Result<uint64_t> TrackedGuest::write_spread(uint64_t count) {
  const std::string command = "write " + std::to_string(count);
  if (auto sent = send(command); !sent) return std::move(sent).error();
  auto line = read_line(kCommandTimeout);
  if (!line) return std::move(line).error().within(command);
  unsigned long long written = 0;
  if (std::sscanf(line->c_str(), "OK %llu", &written) != 1) {
    return Error(Errc::guest, "bench guest pid " + std::to_string(pid_) + ": \"" + command +
                                  "\" answered \"" + *line + "\"");
  }
  return static_cast<uint64_t>(written);
}

Result<void> TrackedGuest::send(const std::string& line) {
  const std::string text = line + "\n";
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::write(to_guest_.get(), text.data() + sent, text.size() - sent);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return errno_error("send \"" + line + "\" to bench guest pid " + std::to_string(pid_));
    sent += static_cast<std::size_t>(n);
  }
  return ok();
}

Result<std::string> TrackedGuest::read_line(std::chrono::milliseconds timeout) {
  const std::string where = "bench guest pid " + std::to_string(pid_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (const auto newline = buffered_.find('\n'); newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Error(Errc::timeout,
                   where + ": no reply within " + std::to_string(timeout.count()) + " ms");
    }
    pollfd entry{from_guest_.get(), POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return errno_error("poll " + where);
    if (ready <= 0) continue;
    char data[512];
    const ssize_t n = ::read(from_guest_.get(), data, sizeof data);
    if (n == 0) return Error(Errc::guest, where + ": exited (its stdout closed)");
    if (n < 0 && errno != EINTR && errno != EAGAIN) return errno_error("read from " + where);
    if (n > 0) buffered_.append(data, static_cast<std::size_t>(n));
  }
}

}  // namespace ferry::bench
