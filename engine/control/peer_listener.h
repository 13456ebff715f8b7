// Accepts connections from other agents. The first record says what a connection is for:
// HELLO opens a control connection (then OFFER starts an incoming migration, or QUERY asks about
// a past one); STREAM_HELLO attaches a data connection to the incoming migration it names.
// With TLS every connection first completes the mutual handshake: a peer without a certificate
// from the pool CA is refused (and logged with its address) before it can send a single record.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/control/agent_config.h"
#include "engine/migration/destination_job.h"
#include "engine/transport/asio.h"
#include "engine/transport/peer_security.h"

namespace ferry {

class PeerListener {
 public:
  PeerListener(asio::io_context& io, AgentConfig config, DestinationContext context);

  // Loads the peer security (TLS files or --insecure; refuses neither) and installs it on the
  // io_context for the agent's outgoing peer connections, then binds config.listen; returns the
  // bound port (useful with port 0).
  Result<uint16_t> start();
  void stop();

  std::vector<nlohmann::json> incoming() const;

 private:
  awaitable<void> accept_loop();
  awaitable<void> serve(std::shared_ptr<RecordConnection> connection);
  std::shared_ptr<DestinationJob> find(const std::string& session) const;

  asio::io_context& io_;
  AgentConfig config_;
  DestinationContext context_;
  PeerSecurity security_ = PeerSecurity::insecure();  // replaced by start() with the configured one
  tcp::acceptor acceptor_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<DestinationJob>> sessions_;
};

}  // namespace ferry
