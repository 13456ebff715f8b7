#include "engine/agent/uffd_handoff.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace ferry {

namespace {

constexpr size_t kMaxStatusLine = 512;
constexpr const char* kPreloadLibrary = "libferry_uffd_preload.so";

using Clock = std::chrono::steady_clock;

// Waits until `fd` is readable or the deadline passes; false on timeout.
Result<bool> wait_readable(int fd, Clock::time_point deadline, const std::string& what) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return errno_error("poll " + what);
  }
}

}  // namespace

Result<UffdReceiver> UffdReceiver::listen(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof address.sun_path) {
    return Error(Errc::invalid_argument, "uffd socket " + socket_path + ": path must be 1 to " +
                                             std::to_string(sizeof address.sun_path - 1) +
                                             " bytes long");
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size());

  struct stat st {};
  if (::lstat(socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error(Errc::invalid_argument,
                   "uffd socket " + socket_path + ": exists and is not a socket");
    }
    if (::unlink(socket_path.c_str()) != 0)
      return errno_error("unlink stale socket " + socket_path);
  }

  UffdReceiver receiver;
  receiver.listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!receiver.listener_.valid()) return errno_error("socket for " + socket_path);
  if (::bind(receiver.listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) !=
      0) {
    return errno_error("bind " + socket_path);
  }
  receiver.path_ = socket_path;  // from here on the destructor removes the socket file
  if (::listen(receiver.listener_.get(), 4) != 0) return errno_error("listen " + socket_path);
  return receiver;
}

UffdReceiver::~UffdReceiver() {
  if (listener_.valid() && !path_.empty()) ::unlink(path_.c_str());
}

Result<UniqueFd> UffdReceiver::accept_fd(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string where = "uffd socket " + path_;

  UniqueFd connection;
  while (!connection.valid()) {
    auto readable = wait_readable(listener_.get(), deadline, where);
    if (!readable) return std::move(readable).error();
    if (!*readable) {
      return Error(Errc::timeout,
                   where + ": no guest connected within " + std::to_string(timeout.count()) +
                       " ms (was it started with LD_PRELOAD=" + default_preload_library_path() +
                       " and " + kUffdSocketEnv + "=" + path_ + "?)");
    }
    connection = UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection.valid() && errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
      return errno_error("accept " + where);
    }
  }

  UniqueFd uffd;
  std::string line;
  bool complete = false;
  while (!complete) {
    auto readable = wait_readable(connection.get(), deadline, where);
    if (!readable) return std::move(readable).error();
    if (!*readable) {
      return Error(Errc::timeout, where + ": the guest connected but sent no status line within " +
                                      std::to_string(timeout.count()) + " ms");
    }
    char data[128];
    iovec iov{data, sizeof data};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t received = ::recvmsg(connection.get(), &message, MSG_CMSG_CLOEXEC);
    if (received < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return errno_error("recvmsg " + where);
    }
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
        if (!uffd.valid()) {
          uffd = UniqueFd(fd);
        } else {
          ::close(fd);  // only one descriptor is expected; do not leak extras
        }
      }
    }
    if (message.msg_flags & MSG_CTRUNC) {
      return Error(Errc::protocol, where + ": the guest sent more descriptors than expected");
    }
    if (received == 0) break;
    line.append(data, static_cast<size_t>(received));
    if (const auto newline = line.find('\n'); newline != std::string::npos) {
      line.resize(newline);
      complete = true;
    } else if (line.size() > kMaxStatusLine) {
      return Error(Errc::protocol, where + ": status line longer than " +
                                       std::to_string(kMaxStatusLine) + " bytes");
    }
  }

  if (!complete) {
    return Error(Errc::protocol, where +
                                     ": the guest closed the connection before its status "
                                     "line (got \"" +
                                     line + "\")");
  }
  if (line.rfind("ERR", 0) == 0) {
    const std::string what = line.size() > 4 ? line.substr(4) : "unspecified error";
    return Error(Errc::guest, where + ": the guest's preload library failed: " + what);
  }
  if (line != "OK") {
    return Error(Errc::protocol, where + ": unexpected status line \"" + line + "\"");
  }
  if (!uffd.valid()) {
    return Error(Errc::protocol, where + ": the guest said OK but sent no descriptor");
  }
  return uffd;
}

std::string default_preload_library_path() {
  char exe[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (length <= 0) return kPreloadLibrary;  // let the dynamic loader search for it
  std::string path(exe, static_cast<size_t>(length));
  const auto slash = path.rfind('/');
  return (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/" +
         kPreloadLibrary;
}

}  // namespace ferry
