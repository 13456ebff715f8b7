// One Open vSwitch "host" per test: a fresh network namespace with ovsdb-server and ovs-vswitchd
// (userspace datapath, bridge br-int) started by scripts/fixtures/ovs-host, all state in a temp
// dir.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "engine/error/error.h"

namespace ferry::ovs {

class OvsTestHost {
 public:
  // Why OVS tests cannot run on this machine (not root, Open vSwitch or ip missing), or nullopt.
  static std::optional<std::string> unavailable_reason();

  // Creates netns ferry-t-ovs-<pid> and a directory under /tmp, starts OVS there.
  static Result<std::unique_ptr<OvsTestHost>> start();
  // Stops the daemons by PID, deletes the namespace and the directory.
  ~OvsTestHost();

  const std::string& db_socket() const { return db_socket_; }
  std::string remote() const { return "unix:" + db_socket_; }
  const std::string& dir() const { return dir_; }
  const std::string& netns() const { return netns_; }
  // The PID in the daemon's pidfile ("ovsdb-server" or "ovs-vswitchd").
  Result<pid_t> daemon_pid(const std::string& daemon) const;

 private:
  OvsTestHost() = default;

  std::string netns_;
  std::string dir_;
  std::string db_socket_;
};

}  // namespace ferry::ovs
