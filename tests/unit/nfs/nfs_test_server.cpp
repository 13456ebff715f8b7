#include "tests/unit/nfs/nfs_test_server.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "tests/unit/nfs/fixture_command.h"

#ifndef FERRY_NFS_SERVER_SCRIPT
#error "FERRY_NFS_SERVER_SCRIPT must name scripts/fixtures/nfs-server"
#endif

namespace ferry::nfs {

std::optional<std::string> NfsTestServer::unavailable_reason() {
  if (::geteuid() != 0)
    return "the NFS server fixture needs root (rpcbind binds port 111): skipped";
  for (const char* program : {"/usr/bin/ganesha.nfsd", "/usr/sbin/rpcbind", "/usr/sbin/rpcinfo"}) {
    if (::access(program, X_OK) != 0)
      return std::string(program) +
             " not found (apt-get install nfs-ganesha nfs-ganesha-vfs rpcbind): skipped";
  }
  if (::access("/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so", R_OK) != 0)
    return "ganesha's VFS FSAL is missing (apt-get install nfs-ganesha-vfs): skipped";
  return std::nullopt;
}

Result<std::unique_ptr<NfsTestServer>> NfsTestServer::start() {
  std::unique_ptr<NfsTestServer> server(new NfsTestServer());
  char dir[] = "/tmp/ferry-t-nfs-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return errno_error("mkdtemp /tmp/ferry-t-nfs-XXXXXX");
  server->dir_ = dir;
  auto started = run_fixture_command({FERRY_NFS_SERVER_SCRIPT, "start", server->dir_});
  if (!started) return std::move(started).error();
  std::istringstream lines(started.value());
  std::string key;
  long pid = -1;
  while (lines >> key) {
    if (key == "ganesha-pid") lines >> pid;
    std::getline(lines, key);
  }
  if (pid <= 0)
    return Error(Errc::internal, "nfs-server start printed no ganesha-pid: " + started.value());
  server->ganesha_pid_ = static_cast<pid_t>(pid);
  return server;
}

NfsTestServer::~NfsTestServer() {
  if (dir_.empty()) return;
  auto stopped = run_fixture_command({FERRY_NFS_SERVER_SCRIPT, "stop", dir_});
  if (!stopped) std::cerr << "NfsTestServer: " << stopped.error().message() << "\n";
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace ferry::nfs
