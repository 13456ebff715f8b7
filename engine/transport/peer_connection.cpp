#include "engine/transport/peer_connection.h"

#include <string>

namespace ferry {

awaitable<Result<std::shared_ptr<RecordConnection>>> connect_peer(
    const PeerSecurity& security, std::string_view host_port, std::string_view label,
    std::chrono::milliseconds timeout) {
  // Copies first: the caller's strings need not outlive the first suspension.
  const PeerSecurity chosen = security;
  std::string name(label);
  const std::string target(host_port);
  auto socket = co_await connect_to(target, timeout);
  if (!socket) co_return std::move(socket).error();
  std::shared_ptr<RecordConnection> connection;
  if (chosen.uses_tls()) {
    connection = std::make_shared<RecordConnection>(std::move(*socket), chosen.tls_context(),
                                                    std::move(name));
    // The peer must be the host we meant, not just any member of the pool.
    auto address = parse_host_port(target);
    if (!address) co_return std::move(address).error();
    if (auto expected = connection->expect_peer_host(address->first); !expected) {
      connection->close();
      co_return std::move(expected).error();
    }
  } else
    connection = std::make_shared<RecordConnection>(std::move(*socket), std::move(name));
  auto shaken = co_await connection->handshake(RecordConnection::TlsRole::client, timeout);
  if (!shaken) {
    connection->close();
    co_return std::move(shaken).error();
  }
  co_return connection;
}

awaitable<Result<std::shared_ptr<RecordConnection>>> connect_peer(
    std::string_view host_port, std::string_view label, std::chrono::milliseconds timeout) {
  const auto executor = co_await asio::this_coro::executor;
  auto security = installed_peer_security(asio::query(executor, asio::execution::context));
  if (!security) {
    Error error = std::move(security).error();
    co_return std::move(error).within(label);
  }
  const PeerSecurity chosen = std::move(*security);
  co_return co_await connect_peer(chosen, host_port, label, timeout);
}

std::shared_ptr<RecordConnection> accepted_peer(const PeerSecurity& security, tcp::socket socket,
                                                std::string label) {
  if (security.uses_tls())
    return std::make_shared<RecordConnection>(std::move(socket), security.tls_context(),
                                              std::move(label));
  return std::make_shared<RecordConnection>(std::move(socket), std::move(label));
}

}  // namespace ferry
