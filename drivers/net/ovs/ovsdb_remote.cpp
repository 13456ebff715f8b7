#include "drivers/net/ovs/ovsdb_remote.h"

#include <charconv>

#include <fmt/format.h>

namespace ferry::ovs {

namespace {

Error bad_remote(std::string_view text, std::string_view why) {
  return Error(Errc::invalid_argument, fmt::format("OVSDB remote \"{}\": {}", text, why));
}

}  // namespace

std::string OvsdbRemote::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  if (host.find(':') != std::string::npos) return fmt::format("tcp:[{}]:{}", host, port);
  return fmt::format("tcp:{}:{}", host, port);
}

Result<OvsdbRemote> parse_ovsdb_remote(std::string_view text) {
  OvsdbRemote remote;
  if (text.starts_with("/") || text.starts_with("unix:")) {
    remote.path = std::string(text.starts_with("/") ? text : text.substr(5));
    if (remote.path.empty()) return bad_remote(text, "empty socket path");
    // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
    if (remote.path.size() > 107) return bad_remote(text, "socket path longer than 107 bytes");
    return remote;
  }
  if (!text.starts_with("tcp:")) {
    return bad_remote(text, "expected unix:PATH, tcp:HOST:PORT or an absolute path");
  }
  remote.kind = OvsdbRemote::Kind::tcp;
  std::string_view rest = text.substr(4);
  std::string_view port_text;
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad_remote(text, "IPv6 address without ']'");
    remote.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.starts_with(":")) return bad_remote(text, "missing :PORT after the IPv6 address");
    port_text = rest.substr(1);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad_remote(text, "missing :PORT");
    remote.host = std::string(rest.substr(0, colon));
    if (remote.host.find(':') != std::string::npos) {
      return bad_remote(text, "an IPv6 address must be written in brackets: tcp:[ADDR]:PORT");
    }
    port_text = rest.substr(colon + 1);
  }
  if (remote.host.empty()) return bad_remote(text, "empty host");
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return bad_remote(text, fmt::format("port \"{}\" is not a number from 1 to 65535", port_text));
  }
  remote.port = static_cast<std::uint16_t>(port);
  return remote;
}

}  // namespace ferry::ovs
