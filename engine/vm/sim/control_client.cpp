#include "engine/vm/sim/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ferry::sim {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

Result<ControlClient> ControlClient::connect(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    return Error(Errc::invalid_argument,
                 fmt::format("control socket path {} is longer than {} bytes", socket_path,
                             sizeof(address.sun_path) - 1));
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("create socket for " + socket_path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return errno_error("connect to guest control socket " + socket_path);
  }
  ControlClient client;
  client.path_ = socket_path;
  client.fd_ = std::move(fd);
  return client;
}

Result<nlohmann::json> ControlClient::request(const nlohmann::json& request,
                                              std::chrono::milliseconds timeout) {
  const std::string cmd = request.value("cmd", "?");
  auto where = [&](std::string what) {
    return fmt::format("guest control {} '{}': {}", path_, cmd, what);
  };
  if (!fd_.valid()) {
    auto reconnected = connect(path_);
    if (!reconnected) return std::move(reconnected).error().within(where("reconnect"));
    fd_ = std::move(reconnected->fd_);
    input_ = LineBuffer();
  }
  auto fail = [&](Error error) -> Result<nlohmann::json> {
    fd_.reset();
    return error;
  };
  const auto deadline = Clock::now() + timeout;

  const std::string line = request.dump() + "\n";
  std::string_view rest = line;
  while (!rest.empty()) {
    pollfd p{fd_.get(), POLLOUT, 0};
    int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail(errno_error(where("poll")));
    if (ready == 0)
      return fail(Error(Errc::timeout,
                        where(fmt::format("no room to send within {} ms", timeout.count()))));
    ssize_t n = ::send(fd_.get(), rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return fail(errno_error(where("send")));
    rest.remove_prefix(static_cast<std::size_t>(n));
  }

  for (;;) {
    if (auto reply_line = input_.pop_line()) {
      auto reply = nlohmann::json::parse(*reply_line, nullptr, /*allow_exceptions=*/false);
      if (reply.is_discarded() || !reply.is_object() || !reply.contains("ok")) {
        return fail(Error(Errc::protocol, where("reply is not a JSON object with 'ok': " +
                                                reply_line->substr(0, 200))));
      }
      return reply;
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail(errno_error(where("poll")));
    if (ready == 0) {
      return fail(
          Error(Errc::timeout, where(fmt::format("no reply within {} ms", timeout.count()))));
    }
    char buffer[4096];
    ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return fail(errno_error(where("receive")));
    if (n == 0) return fail(Error(Errc::connection_lost, where("the guest closed the connection")));
    input_.append(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
}

}  // namespace ferry::sim
