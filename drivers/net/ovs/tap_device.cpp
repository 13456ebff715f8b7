#include "drivers/net/ovs/tap_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ferry::ovs {

const short kTapFlags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;

namespace {

Result<ifreq> interface_request(const std::string& name) {
  ifreq request{};
  if (name.empty() || name.size() >= sizeof(request.ifr_name)) {
    return Error(Errc::invalid_argument,
                 fmt::format("interface name \"{}\" must have 1..{} characters", name,
                             sizeof(request.ifr_name) - 1));
  }
  std::memcpy(request.ifr_name, name.c_str(), name.size() + 1);
  return request;
}

// Opens /dev/net/tun and attaches it to tap `name` (creating the device when it does not exist).
Result<UniqueFd> attach(const std::string& name) {
  auto request = interface_request(name);
  if (!request) return std::move(request).error();
  request->ifr_flags = kTapFlags;
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open /dev/net/tun for tap " + name);
  if (::ioctl(fd.get(), TUNSETIFF, &*request) != 0) {
    if (errno == EINVAL) {
      return Error(Errc::invalid_argument,
                   fmt::format("attach to tap {}: a device of that name exists and is not a "
                               "multi-queue tap without packet info (or has other flags)",
                               name));
    }
    return errno_error("attach to tap " + name + " (TUNSETIFF)");
  }
  return fd;
}

Result<void> set_up(const std::string& name) {
  auto request = interface_request(name);
  if (!request) return std::move(request).error();
  UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket_fd.valid()) return errno_error("socket for setting " + name + " up");
  if (::ioctl(socket_fd.get(), SIOCGIFFLAGS, &*request) != 0) {
    return errno_error("read flags of " + name + " (SIOCGIFFLAGS)");
  }
  if (request->ifr_flags & IFF_UP) return ok();
  request->ifr_flags = static_cast<short>(request->ifr_flags | IFF_UP);
  if (::ioctl(socket_fd.get(), SIOCSIFFLAGS, &*request) != 0) {
    return errno_error("set " + name + " up (SIOCSIFFLAGS)");
  }
  return ok();
}

}  // namespace

bool interface_exists(const std::string& name) {
  return ::if_nametoindex(name.c_str()) != 0;
}

Result<bool> create_persistent_tap(const std::string& name) {
  const bool existed = interface_exists(name);
  auto fd = attach(name);
  if (!fd) return std::move(fd).error();
  if (::ioctl(fd->get(), TUNSETPERSIST, 1) != 0) {
    return errno_error("make tap " + name + " persistent (TUNSETPERSIST)");
  }
  // Up from the start: the kernel drops what a down tap is given. The port stays in quarantine
  // until activate, so being up carries nothing yet.
  if (auto up = set_up(name); !up) return std::move(up).error();
  return !existed;
}

Result<void> delete_persistent_tap(const std::string& name) {
  if (!interface_exists(name)) return ok();
  auto fd = attach(name);
  if (!fd) return std::move(fd).error().within("delete tap " + name);
  if (::ioctl(fd->get(), TUNSETPERSIST, 0) != 0) {
    return errno_error("delete tap " + name + " (TUNSETPERSIST 0)");
  }
  return ok();
}

Result<UniqueFd> open_tap_queue(const std::string& name) {
  if (!interface_exists(name)) {
    return Error(Errc::not_found,
                 fmt::format("tap {} does not exist in this network namespace", name));
  }
  return attach(name);
}

Result<void> send_frames(int fd, const std::string& name,
                         const std::vector<std::vector<std::uint8_t>>& frames) {
  for (const auto& frame : frames) {
    const ssize_t written = ::write(fd, frame.data(), frame.size());
    if (written < 0) return errno_error("write a frame to tap " + name);
    if (static_cast<std::size_t>(written) != frame.size()) {
      return Error(Errc::io, fmt::format("write a frame to tap {}: {} of {} bytes written", name,
                                         written, frame.size()));
    }
  }
  return ok();
}

}  // namespace ferry::ovs
