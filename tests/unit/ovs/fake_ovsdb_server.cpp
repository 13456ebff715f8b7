#include "tests/unit/ovs/fake_ovsdb_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>

namespace ferry::ovs {

namespace {

bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&entry, 1, static_cast<int>(timeout.count())) == 1;
}

}  // namespace

std::unique_ptr<FakeOvsdbServer> FakeOvsdbServer::listen_unix() {
  std::unique_ptr<FakeOvsdbServer> server(new FakeOvsdbServer());
  char dir[] = "/tmp/ferry-t-ovsdb-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return nullptr;
  }
  server->dir_ = dir;
  const std::string path = server->dir_ + "/db.sock";
  server->listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  if (::bind(server->listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
          0 ||
      ::listen(server->listener_.get(), 4) != 0) {
    ADD_FAILURE() << "listen on " << path << ": " << std::strerror(errno);
    return nullptr;
  }
  server->remote_ = "unix:" + path;
  return server;
}

std::unique_ptr<FakeOvsdbServer> FakeOvsdbServer::listen_tcp() {
  std::unique_ptr<FakeOvsdbServer> server(new FakeOvsdbServer());
  server->listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(server->listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
          0 ||
      ::listen(server->listener_.get(), 4) != 0 ||
      ::getsockname(server->listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "listen on 127.0.0.1: " << std::strerror(errno);
    return nullptr;
  }
  server->remote_ = "tcp:127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  return server;
}

FakeOvsdbServer::~FakeOvsdbServer() {
  client_.reset();
  listener_.reset();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool FakeOvsdbServer::accept_client(std::chrono::milliseconds timeout) {
  if (!wait_readable(listener_.get(), timeout)) return false;
  client_ = UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return client_.valid();
}

std::optional<nlohmann::json> FakeOvsdbServer::read_message(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received_.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !client_.valid() || !wait_readable(client_.get(), left)) {
      return std::nullopt;
    }
    char buffer[65536];
    const ssize_t n = ::read(client_.get(), buffer, sizeof(buffer));
    if (n <= 0) return std::nullopt;
    std::vector<std::string> messages;
    auto fed = splitter_.feed(std::string_view(buffer, static_cast<std::size_t>(n)), messages);
    EXPECT_TRUE(fed.ok()) << "the client sent bytes that are not JSON messages";
    for (auto& message : messages) received_.push_back(std::move(message));
  }
  std::string text = std::move(received_.front());
  received_.pop_front();
  return nlohmann::json::parse(text);
}

bool FakeOvsdbServer::client_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wait_readable(client_.get(), left)) return false;
    char buffer[4096];
    const ssize_t n = ::read(client_.get(), buffer, sizeof(buffer));
    if (n <= 0) return true;  // EOF or reset
  }
}

void FakeOvsdbServer::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(client_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      ADD_FAILURE() << "fake OVSDB server: send failed: " << std::strerror(errno);
      return;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void FakeOvsdbServer::send_byte_by_byte(std::string_view bytes) {
  for (char c : bytes) send(std::string_view(&c, 1));
}

}  // namespace ferry::ovs
