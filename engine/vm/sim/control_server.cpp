#include "engine/vm/sim/control_server.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <utility>

#include <fmt/format.h>

#include "engine/vm/sim/line_buffer.h"

namespace ferry::sim {
namespace {

constexpr std::size_t kMaxLine = 1 << 20;

struct Client {
  UniqueFd fd;
  LineBuffer input;
};

bool send_line(int fd, const std::string& line) {
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

nlohmann::json error_reply(std::string message) {
  return {{"ok", false}, {"error", std::move(message)}};
}

// Reads what the client sent and answers every complete line. False when the client is gone
// (closed, failed, or sent a line too long to be a request).
bool serve_client(Client& client, const ControlServer::Handler& handler, bool& quit) {
  char buffer[65536];
  ssize_t n = ::read(client.fd.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  client.input.append(std::string_view(buffer, static_cast<std::size_t>(n)));
  while (auto line = client.input.pop_line()) {
    if (line->empty()) continue;
    ControlReply reply;
    auto request = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) {
      reply.reply = error_reply("control: request is not a JSON object: " + line->substr(0, 200));
    } else {
      reply = handler(request);
    }
    if (!send_line(client.fd.get(), reply.reply.dump() + "\n")) return false;
    if (reply.quit) {
      quit = true;
      return true;
    }
  }
  if (client.input.pending() > kMaxLine) {
    send_line(
        client.fd.get(),
        error_reply(fmt::format("control: request longer than {} bytes", kMaxLine)).dump() + "\n");
    return false;
  }
  return true;
}

}  // namespace

Result<UniqueFd> ControlServer::block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return errno_error("block termination signals", err);
  }
  UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) return errno_error("signalfd for SIGTERM/SIGINT/SIGHUP");
  return fd;
}

Result<ControlServer> ControlServer::listen(const std::string& path, UniqueFd signal_fd) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return Error(Errc::invalid_argument,
                 fmt::format("control socket path {} is longer than {} bytes", path,
                             sizeof(address.sun_path) - 1));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener.valid()) return errno_error("create control socket " + path);
  ::unlink(path.c_str());
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return errno_error("bind control socket " + path);
  }
  if (::listen(listener.get(), 16) != 0) return errno_error("listen on control socket " + path);
  ControlServer server;
  server.path_ = path;
  server.listener_ = std::move(listener);
  server.signal_fd_ = std::move(signal_fd);
  return server;
}

ControlServer::ControlServer(ControlServer&& other) noexcept
    : path_(std::exchange(other.path_, {})),
      listener_(std::move(other.listener_)),
      signal_fd_(std::move(other.signal_fd_)) {}

ControlServer::~ControlServer() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

Result<void> ControlServer::serve(const Handler& handler) {
  std::list<Client> clients;
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back({listener_.get(), POLLIN, 0});
    fds.push_back({signal_fd_.valid() ? signal_fd_.get() : -1, POLLIN, 0});
    for (const Client& c : clients) fds.push_back({c.fd.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll control socket " + path_);
    }
    if (fds[1].revents & POLLIN) return ok();  // SIGTERM and friends: leave cleanly
    if (fds[0].revents & POLLIN) {
      UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (fd.valid()) clients.push_back({std::move(fd), {}});
    }
    std::size_t i = 2;
    bool quit = false;
    for (auto it = clients.begin(); it != clients.end() && i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!serve_client(*it, handler, quit)) {
          it = clients.erase(it);
          continue;
        }
        if (quit) return ok();
      }
      ++it;
    }
  }
}

}  // namespace ferry::sim
