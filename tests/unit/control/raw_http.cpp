#include "tests/unit/control/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace ferry::test {

UniqueFd connect_unix(const std::string& socket_path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return {};
  return fd;
}

UniqueFd connect_tcp_loopback(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return {};
  return fd;
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string read_until(int fd, std::chrono::milliseconds timeout, std::string_view stop_after) {
  std::string received;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!stop_after.empty() && received.find(stop_after) != std::string::npos) return received;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return received;
    pollfd waiting{fd, POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) return received;
    char buffer[4096];
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return received;
    received.append(buffer, static_cast<size_t>(n));
  }
}

std::string send_and_read(const std::string& socket_path, std::string_view request,
                          std::chrono::milliseconds timeout) {
  UniqueFd fd = connect_unix(socket_path);
  if (!fd.valid() || !write_all(fd.get(), request)) return {};
  return read_until(fd.get(), timeout);
}

int status_of(std::string_view raw) {
  if (raw.substr(0, 5) != "HTTP/") return -1;
  auto space = raw.find(' ');
  if (space == std::string_view::npos || space + 4 > raw.size()) return -1;
  return std::stoi(std::string(raw.substr(space + 1, 3)));
}

std::string body_of(std::string_view raw) {
  auto blank = raw.find("\r\n\r\n");
  if (blank == std::string_view::npos) return {};
  return std::string(raw.substr(blank + 4));
}

bool has_header(std::string_view raw, std::string_view name, std::string_view value) {
  auto lower = [](std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  };
  std::string head = lower(raw.substr(0, raw.find("\r\n\r\n"))) + "\r\n";
  return head.find("\r\n" + lower(name) + ": " + lower(value) + "\r\n") != std::string::npos;
}

}  // namespace ferry::test
