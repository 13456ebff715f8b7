// Where an OVSDB server listens, in Open vSwitch's own notation. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/error/error.h"

namespace ferry::ovs {

struct OvsdbRemote {
  enum class Kind { unix_socket, tcp };

  Kind kind = Kind::unix_socket;
  std::string path;  // unix_socket
  std::string host;  // tcp: a name, an IPv4 address or an IPv6 address without brackets
  std::uint16_t port = 0;

  // Back in OVS notation: "unix:/run/openvswitch/db.sock", "tcp:127.0.0.1:6640", "tcp:[::1]:6640".
  std::string to_string() const;
};

// Accepts "unix:PATH", "tcp:HOST:PORT", "tcp:[IPV6]:PORT" and, as ovs-vsctl does, a bare absolute
// PATH.
Result<OvsdbRemote> parse_ovsdb_remote(std::string_view text);

}  // namespace ferry::ovs
