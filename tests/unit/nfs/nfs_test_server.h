// One NFSv3 server (rpcbind + nfs-ganesha) for the driver tests, started by
// scripts/fixtures/nfs-server in a fresh directory under /tmp: /export is read-write,
// /export-ro read-only, both on 127.0.0.1.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "engine/error/error.h"

namespace ferry::nfs {

class NfsTestServer {
 public:
  // Why the server cannot run here (not root, ganesha or rpcbind missing), or nullopt.
  static std::optional<std::string> unavailable_reason();

  static Result<std::unique_ptr<NfsTestServer>> start();
  // Stops both daemons by PID and removes the directory.
  ~NfsTestServer();

  const std::string& dir() const { return dir_; }
  std::string export_dir() const { return dir_ + "/export"; }
  std::string readonly_export_dir() const { return dir_ + "/export-ro"; }
  pid_t ganesha_pid() const { return ganesha_pid_; }

 private:
  NfsTestServer() = default;

  std::string dir_;
  pid_t ganesha_pid_ = -1;
};

}  // namespace ferry::nfs
