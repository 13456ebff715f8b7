#include "tests/unit/ovs/ovs_test_host.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/unit/ovs/test_command.h"

#ifndef FERRY_OVS_HOST_SCRIPT
#error "FERRY_OVS_HOST_SCRIPT must name scripts/fixtures/ovs-host"
#endif

namespace ferry::ovs {

namespace {

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  // Daemons live in sbin, which a non-login PATH may lack.
  dirs += ":/usr/sbin:/sbin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

std::optional<std::string> OvsTestHost::unavailable_reason() {
  if (::geteuid() != 0) return "OVS tests need root (network namespaces, OVS daemons): skipped";
  for (const char* program : {"ovsdb-server", "ovs-vswitchd", "ovsdb-tool", "ovs-vsctl", "ip"}) {
    if (!on_path(program)) {
      return std::string(program) + " not found (apt-get install openvswitch-switch): skipped";
    }
  }
  return std::nullopt;
}

Result<std::unique_ptr<OvsTestHost>> OvsTestHost::start() {
  std::unique_ptr<OvsTestHost> host(new OvsTestHost());
  host->netns_ = "ferry-t-ovs-" + std::to_string(::getpid());
  // A namespace with our PID can only be left over from a dead process that had the same PID.
  if (std::filesystem::exists("/run/netns/" + host->netns_)) {
    (void)run_command({"ip", "netns", "del", host->netns_});
  }
  if (auto made = run_checked({"ip", "netns", "add", host->netns_}); !made) {
    host->netns_.clear();
    return std::move(made).error();
  }
  char dir[] = "/tmp/ferry-t-ovs-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return errno_error("mkdtemp /tmp/ferry-t-ovs-XXXXXX");
  host->dir_ = dir;
  auto started =
      run_checked({FERRY_OVS_HOST_SCRIPT, "start", "ferry-test-host", host->netns_, host->dir_});
  if (!started) return std::move(started).error();
  // The script prints the socket path on its last line; daemons may have logged before it.
  std::string output = *started;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  host->db_socket_ = output.substr(output.rfind('\n') + 1);
  if (!std::filesystem::exists(host->db_socket_)) {
    return Error(Errc::internal, "ovs-host start printed \"" + host->db_socket_ +
                                     "\", which is not a socket; output: " + *started);
  }
  return host;
}

OvsTestHost::~OvsTestHost() {
  if (!dir_.empty()) {
    auto stopped = run_checked({FERRY_OVS_HOST_SCRIPT, "stop", dir_});
    if (!stopped) std::cerr << "OvsTestHost: " << stopped.error().message() << "\n";
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  if (!netns_.empty()) {
    auto deleted = run_checked({"ip", "netns", "del", netns_});
    if (!deleted) std::cerr << "OvsTestHost: " << deleted.error().message() << "\n";
  }
}

Result<pid_t> OvsTestHost::daemon_pid(const std::string& daemon) const {
  const std::string pidfile = dir_ + "/" + daemon + ".pid";
  std::ifstream in(pidfile);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return Error(Errc::not_found, "no PID in " + pidfile);
  }
  return static_cast<pid_t>(pid);
}

}  // namespace ferry::ovs
