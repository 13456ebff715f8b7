#include "tests/unit/ovs/sim_guest_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "engine/posix/unique_fd.h"

extern char** environ;

namespace ferry::ovs {
namespace {

using namespace std::chrono_literals;

bool exited(pid_t pid, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (true) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

Result<std::unique_ptr<SimGuestProcess>> SimGuestProcess::start(const Options& options) {
  std::unique_ptr<SimGuestProcess> guest(new SimGuestProcess());
  guest->control_path_ = options.dir + "/" + options.name + ".sock";
  guest->log_path_ = options.dir + "/" + options.name + ".log";
  guest->ram_path_ = "/dev/shm/ferry-t-nic-" + std::to_string(::getpid()) + "-" + options.name;
  // `ip netns exec` execs the guest in place: the PID we get is the guest's.
  const std::vector<std::string> argv = {"ip",
                                         "netns",
                                         "exec",
                                         options.netns,
                                         options.binary,
                                         "--ram",
                                         guest->ram_path_,
                                         "--control",
                                         guest->control_path_,
                                         "--memory",
                                         "4M",
                                         "--tap",
                                         options.tap,
                                         "--mac",
                                         options.mac,
                                         "--ip",
                                         options.ip};
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, guest->log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int spawned = ::posix_spawnp(&guest->pid_, "ip", &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return errno_error("start ferry-sim-guest " + options.name, spawned);

  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(guest->pid_, &status, WNOHANG) == guest->pid_) {
      guest->pid_ = -1;
      return Error(Errc::guest, "ferry-sim-guest " + options.name + " exited: " + guest->log());
    }
    if (auto status_reply = guest->control({{"cmd", "status"}}); status_reply) return guest;
    std::this_thread::sleep_for(20ms);
  }
  return Error(Errc::timeout,
               "ferry-sim-guest " + options.name +
                   " did not answer on its control socket within 10 s: " + guest->log());
}

SimGuestProcess::~SimGuestProcess() {
  if (pid_ > 0) {
    (void)control({{"cmd", "quit"}});
    if (!exited(pid_, 2s)) {
      ::kill(pid_, SIGKILL);
      (void)exited(pid_, 2s);
    }
  }
  ::unlink(ram_path_.c_str());
  ::unlink(control_path_.c_str());
  ::unlink(log_path_.c_str());
}

Result<nlohmann::json> SimGuestProcess::control(const nlohmann::json& request) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("control socket");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, control_path_.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return errno_error("connect to " + control_path_);
  }
  const std::string line = request.dump() + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return errno_error("write to " + control_path_);
  }
  std::string reply;
  char c = 0;
  while (::read(fd.get(), &c, 1) == 1 && c != '\n') reply += c;
  auto parsed = nlohmann::json::parse(reply, nullptr, false);
  if (parsed.is_discarded()) {
    return Error(Errc::protocol, "reply from " + control_path_ + " is not JSON: " + reply);
  }
  return parsed;
}

std::string SimGuestProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace ferry::ovs
