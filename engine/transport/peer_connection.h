// Connections between agents, made the way the agent's PeerSecurity says: TLS (handshake done,
// the peer's certificate checked against the pool CA) or, with --insecure, plain TCP.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "engine/error/error.h"
#include "engine/transport/asio.h"
#include "engine/transport/peer_security.h"
#include "engine/transport/record_connection.h"

namespace ferry {

// Connects to the agent at HOST:PORT; `label` names the connection in errors ("control
// connection to 10.0.0.2:7460"). A refused or unverifiable certificate fails with Errc::rejected.
awaitable<Result<std::shared_ptr<RecordConnection>>> connect_peer(
    const PeerSecurity& security, std::string_view host_port, std::string_view label,
    std::chrono::milliseconds timeout);
// The same, with the PeerSecurity installed on the calling coroutine's io_context.
awaitable<Result<std::shared_ptr<RecordConnection>>> connect_peer(
    std::string_view host_port, std::string_view label, std::chrono::milliseconds timeout);

// Wraps a socket a listener accepted; with TLS, its handshake() must succeed before any record.
std::shared_ptr<RecordConnection> accepted_peer(const PeerSecurity& security, tcp::socket socket,
                                                std::string label);

}  // namespace ferry
