#include "tests/unit/iscsi/iscsi_test_target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "engine/posix/unique_fd.h"
#include "tests/unit/iscsi/fixture_process.h"

namespace ferry::iscsi::test {

namespace {

std::atomic<int> instances{0};

}  // namespace

Result<int> free_loopback_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket for a free port");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return errno_error("bind 127.0.0.1:0");
  socklen_t length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return errno_error("getsockname");
  return static_cast<int>(ntohs(address.sin_port));
}

std::optional<std::string> IscsiTestTarget::unavailable_reason() {
  if (::geteuid() != 0) return "needs root (tgtd's management socket lives in /var/run/tgtd)";
  if (!in_path("tgtd") || !in_path("tgtadm")) return "tgt is not installed (apt-get install tgt)";
  if (::access(FERRY_ISCSI_TARGET_SCRIPT, X_OK) != 0)
    return std::string("fixture script ") + FERRY_ISCSI_TARGET_SCRIPT + " is missing";
  return std::nullopt;
}

Result<std::unique_ptr<IscsiTestTarget>> IscsiTestTarget::start() {
  std::unique_ptr<IscsiTestTarget> target(new IscsiTestTarget());
  const int instance = instances++;
  target->dir_ =
      "/tmp/ferry-iscsi-test-" + std::to_string(::getpid()) + "-" + std::to_string(instance);
  // Control numbers are machine-wide (and a short in tgtd): derive one from our PID so parallel
  // test runs differ.
  target->control_ = 1000 + (::getpid() % 7000) * 4 + instance % 4;
  auto port = free_loopback_port();
  if (!port) return std::move(port).error();
  target->portal_ = "127.0.0.1:" + std::to_string(port.value());
  std::error_code ignored;
  std::filesystem::remove_all(target->dir_, ignored);
  auto started = run_checked({FERRY_ISCSI_TARGET_SCRIPT, "start", target->dir_,
                              std::to_string(target->control_), target->portal_});
  target->started_ = true;  // stop also cleans up after a half-done start
  if (!started) return std::move(started).error();
  return target;
}

IscsiTestTarget::~IscsiTestTarget() {
  if (started_)
    (void)run_command({FERRY_ISCSI_TARGET_SCRIPT, "stop", dir_, std::to_string(control_)});
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

Result<void> IscsiTestTarget::add_target(int tid, const std::string& iqn) {
  auto added = run_checked({FERRY_ISCSI_TARGET_SCRIPT, "target", dir_, std::to_string(control_),
                            std::to_string(tid), iqn});
  if (!added) return std::move(added).error();
  return ok();
}

Result<void> IscsiTestTarget::add_lun(int tid, int lun, const std::string& size) {
  auto added = run_checked({FERRY_ISCSI_TARGET_SCRIPT, "lun", dir_, std::to_string(control_),
                            std::to_string(tid), std::to_string(lun), size});
  if (!added) return std::move(added).error();
  return ok();
}

Result<std::string> IscsiTestTarget::show() const {
  return run_checked({"tgtadm", "-C", std::to_string(control_), "--lld", "iscsi", "--mode",
                      "target", "--op", "show"});
}

Result<pid_t> IscsiTestTarget::pid() const {
  std::ifstream file(dir_ + "/tgtd.pid");
  pid_t pid = 0;
  if (!(file >> pid) || pid <= 0) return Error(Errc::not_found, "no PID in " + dir_ + "/tgtd.pid");
  return pid;
}

}  // namespace ferry::iscsi::test
