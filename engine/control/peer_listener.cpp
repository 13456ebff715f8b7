#include "engine/control/peer_listener.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/migration/control_channel.h"
#include "engine/transport/peer_connection.h"
#include "engine/transport/record_connection.h"
#include "engine/wire/control_records.h"
#include "engine/wire/data_records.h"

namespace ferry {

namespace {
constexpr size_t kRememberedSessions = 64;
}

PeerListener::PeerListener(asio::io_context& io, AgentConfig config, DestinationContext context)
    : io_(io), config_(std::move(config)), context_(std::move(context)), acceptor_(io) {}

Result<uint16_t> PeerListener::start() {
  auto security = PeerSecurity::configure(config_.tls, config_.insecure);
  if (!security) return std::move(security).error();
  security_ = std::move(*security);
  install_peer_security(io_, security_);
  if (security_.uses_tls())
    spdlog::info("peers: {}", security_.description());
  else
    spdlog::warn("peers: {}: any host that reaches {} can send or take VMs",
                 security_.description(), config_.listen);
  auto parsed = parse_host_port(config_.listen);
  if (!parsed) return std::move(parsed).error();
  boost::system::error_code ec;
  auto address = asio::ip::make_address(parsed->first == "*" ? "0.0.0.0" : parsed->first, ec);
  if (ec)
    return Error(Errc::invalid_argument, fmt::format("--listen {}: '{}' is not an IP address",
                                                     config_.listen, parsed->first));
  tcp::endpoint endpoint(address, parsed->second);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(Errc::io, fmt::format("listening on {}: {}", config_.listen, ec.message()));
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return acceptor_.local_endpoint().port();
}

void PeerListener::stop() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
}

std::vector<nlohmann::json> PeerListener::incoming() const {
  std::lock_guard lock(mutex_);
  std::vector<nlohmann::json> out;
  for (const auto& [session, job] : sessions_) out.push_back(job->describe());
  return out;
}

std::shared_ptr<DestinationJob> PeerListener::find(const std::string& session) const {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session);
  return it == sessions_.end() ? nullptr : it->second;
}

awaitable<void> PeerListener::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      spdlog::warn("accepting a peer connection: {}", ec.message());
      continue;
    }
    std::string peer = "peer";
    if (auto remote = socket.remote_endpoint(ec); !ec)
      peer = fmt::format("peer {}:{}", remote.address().to_string(), remote.port());
    auto connection = accepted_peer(security_, std::move(socket), peer);
    auto executor = connection->executor();
    asio::co_spawn(executor, serve(std::move(connection)), asio::detached);
  }
}

awaitable<void> PeerListener::serve(std::shared_ptr<RecordConnection> connection) {
  // Before any record, so a peer outside the pool never gets to offer or send memory.
  auto shaken =
      co_await connection->handshake(RecordConnection::TlsRole::server, config_.io_timeout);
  if (!shaken) {
    spdlog::warn("refused {}", shaken.error().message());
    connection->close();
    co_return;
  }
  if (connection->uses_tls())
    spdlog::debug("{}: TLS peer {}", connection->label(), connection->peer_certificate_subject());
  auto first = co_await connection->read(config_.io_timeout);
  if (!first) {
    spdlog::warn("{}: {}", connection->label(), first.error().message());
    co_return;
  }

  if (first->type == static_cast<uint16_t>(wire::RecordType::stream_hello)) {
    auto hello = wire::decode_stream_hello(first->payload);
    if (!hello) {
      spdlog::warn("{}: {}", connection->label(), hello.error().message());
      co_return;
    }
    auto job = find(hello->session);
    if (!job || job->state() != DestinationJob::State::in_progress) {
      spdlog::warn("{}: data connection for unknown session {}", connection->label(),
                   hello->session);
      co_return;
    }
    job->attach_stream(hello->stream_index, hello->stream_count, std::move(connection));
    co_return;
  }

  if (first->type != static_cast<uint16_t>(wire::RecordType::hello)) {
    spdlog::warn("{}: expected HELLO or STREAM_HELLO, got {}", connection->label(),
                 wire::record_type_name(first->type));
    co_return;
  }
  auto theirs = wire::decode_hello(first->payload);
  if (!theirs) {
    spdlog::warn("{}: {}", connection->label(), theirs.error().message());
    co_return;
  }
  ControlChannel channel(*connection, config_.io_timeout);
  auto version = co_await channel.answer_hello(*theirs, context_.host, config_.protocol_version);
  if (!version) {
    spdlog::warn("{}: {}", connection->label(), version.error().message());
    co_return;
  }

  auto next = co_await channel.read(config_.io_timeout);
  if (!next) {
    spdlog::warn("{}: {}", connection->label(), next.error().message());
    co_return;
  }
  if (next->type == static_cast<uint16_t>(wire::RecordType::query)) {
    auto query = wire::decode_query(next->payload);
    if (!query) co_return;
    nlohmann::json status;
    if (query->session.empty()) {
      // A host query: how much room this host has for guests.
      status = context_.host_report ? context_.host_report() : nlohmann::json::object();
      status["session"] = "";
      status["state"] = "host";
    } else {
      auto job = find(query->session);
      status = {{"session", query->session},
                {"state", job ? std::string(job->state_name()) : "unknown"}};
    }
    (void)co_await channel.send_json(wire::RecordType::status, status);
    co_return;
  }
  if (next->type != static_cast<uint16_t>(wire::RecordType::offer)) {
    spdlog::warn("{}: expected OFFER or QUERY, got {}", connection->label(),
                 wire::record_type_name(next->type));
    co_return;
  }
  auto offer_json = ControlChannel::parse_json(next->payload, "OFFER");
  auto offer = offer_json ? Offer::from_json(*offer_json) : Result<Offer>(offer_json.error());
  if (!offer) {
    spdlog::warn("{}: {}", connection->label(), offer.error().message());
    (void)co_await channel.send_reject(offer.error());
    co_return;
  }
  if (find(offer->session)) {
    const Error in_use(Errc::protocol, "session id already in use");
    (void)co_await channel.send_reject(in_use);
    co_return;
  }
  spdlog::info("{}: incoming migration of {} ({} streams, session {})", connection->label(),
               offer->vm_name, offer->streams, offer->session);
  auto job = std::make_shared<DestinationJob>(std::move(*offer), std::move(connection), context_);
  {
    std::lock_guard lock(mutex_);
    // Keep a bounded history of finished sessions so that QUERY can answer after the fact.
    while (sessions_.size() >= kRememberedSessions) {
      auto victim = sessions_.end();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
        if (it->second->state() != DestinationJob::State::in_progress) victim = it;
      if (victim == sessions_.end()) break;
      sessions_.erase(victim);
    }
    sessions_[job->offer().session] = job;
  }
  co_await job->run();
}

}  // namespace ferry
