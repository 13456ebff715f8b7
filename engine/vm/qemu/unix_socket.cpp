#include "engine/vm/qemu/unix_socket.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace ferry {

Result<UniqueFd> connect_unix_socket(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) {
    return Error(Errc::invalid_argument, fmt::format("unix socket path longer than {} bytes: {}",
                                                     sizeof(address.sun_path) - 1, path));
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket for " + path);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return errno_error("connect to " + path);
  }
  return fd;
}

Result<UniqueFd> connect_unix_socket_with_retry(const std::string& path, std::string_view what,
                                                std::chrono::milliseconds timeout,
                                                const std::function<bool()>& peer_alive) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Result<UniqueFd> fd = connect_unix_socket(path);
    if (fd.ok() || fd.error().code() == Errc::invalid_argument) return fd;
    if (peer_alive && !peer_alive()) {
      return Error(Errc::unreachable,
                   fmt::format("{}: QEMU exited before accepting a connection ({})", what,
                               fd.error().message()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(Errc::unreachable, fmt::format("{}: {} (gave up after {} ms)", what,
                                                  fd.error().message(), timeout.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace ferry
