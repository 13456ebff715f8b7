// Two in-process endpoints on loopback: an accepting "destination" and a connecting "source".
#include <gtest/gtest.h>

#include <optional>

#include <boost/asio/ssl.hpp>

#include "engine/transport/peer_connection.h"
#include "engine/transport/pool_certificates.h"

namespace ferry {
namespace {
using namespace std::chrono_literals;

struct Identity {
  pki::KeyAndCertificate ca;
  pki::KeyAndCertificate host;
};

Identity make_identity(const pki::KeyAndCertificate& ca, std::string_view host) {
  auto cert = pki::create_host_certificate(ca, host, {"127.0.0.1"}, 30);
  EXPECT_TRUE(cert) << cert.error().message();
  return {ca, *cert};
}

const pki::KeyAndCertificate& pool_ca() {
  static const auto ca = *pki::create_pool_ca("test pool", 30);
  return ca;
}
const pki::KeyAndCertificate& foreign_ca() {
  static const auto ca = *pki::create_pool_ca("another pool", 30);
  return ca;
}

PeerSecurity security_of(const Identity& id, std::string_view extra_trust = {}) {
  auto security = PeerSecurity::tls_from_pem(id.ca.certificate_pem + std::string(extra_trust),
                                             id.host.certificate_pem, id.host.key_pem);
  EXPECT_TRUE(security) << security.error().message();
  return *security;
}

constexpr uint16_t kPing = 0x7001;  // any mandatory type the wire layer lets through unread

class TlsHandshake : public ::testing::Test {
 protected:
  // Serves one connection: handshake, then echoes one record. Keeps the outcome.
  void serve(const PeerSecurity& security) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, serve_one(security), asio::detached);
  }

  awaitable<void> serve_one(PeerSecurity security) {
    auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
    auto connection = accepted_peer(security, std::move(socket), "peer 127.0.0.1");
    auto shaken = co_await connection->handshake(RecordConnection::TlsRole::server, 5s);
    if (!shaken) {
      server_error_ = shaken.error();
      connection->close();
      co_return;
    }
    server_peer_ = connection->peer_certificate_subject();
    auto record = co_await connection->read(5s);
    if (!record) {
      server_error_ = record.error();
      co_return;
    }
    const std::vector<std::byte> payload(record->payload.begin(), record->payload.end());
    auto echoed = co_await connection->write(record->type, payload, 5s);
    if (!echoed) server_error_ = echoed.error();
  }

  // Connects, sends a record and reads the echo.
  awaitable<Result<std::string>> exchange(std::shared_ptr<RecordConnection> connection) {
    const std::string text = "hello pool";
    auto sent = co_await connection->write(kPing, std::as_bytes(std::span(text)), 5s);
    if (!sent) co_return std::move(sent).error();
    auto back = co_await connection->read(5s);
    if (!back) co_return std::move(back).error();
    co_return std::string(reinterpret_cast<const char*>(back->payload.data()),
                          back->payload.size());
  }

  Result<std::string> run_client(const PeerSecurity& security) {
    std::optional<Result<std::string>> outcome;
    const std::string where = "127.0.0.1:" + std::to_string(port_);
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          auto connected = co_await connect_peer(security, where, "test connection", 5s);
          if (!connected) {
            outcome.emplace(std::move(connected).error());
            co_return;
          }
          auto connection = std::move(*connected);
          auto answer = co_await exchange(connection);
          outcome.emplace(std::move(answer));
          connection->close();
        },
        asio::detached);
    io_.run();
    return std::move(*outcome);
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::optional<Error> server_error_;
  std::string server_peer_;
};

TEST_F(TlsHandshake, PoolMembersTalk) {
  serve(security_of(make_identity(pool_ca(), "hostb")));
  auto answer = run_client(security_of(make_identity(pool_ca(), "hosta")));
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(*answer, "hello pool");
  EXPECT_FALSE(server_error_) << server_error_->message();
  EXPECT_NE(server_peer_.find("CN=hosta"), std::string::npos);
}

TEST_F(TlsHandshake, ServerRefusesACertificateFromAnotherCa) {
  serve(security_of(make_identity(pool_ca(), "hostb")));
  // The intruder trusts the pool CA (so it would accept the server) but its own certificate
  // comes from another CA.
  auto intruder = security_of(make_identity(foreign_ca(), "intruder"), pool_ca().certificate_pem);
  auto answer = run_client(intruder);
  EXPECT_FALSE(answer);
  ASSERT_TRUE(server_error_);
  EXPECT_EQ(server_error_->code(), Errc::rejected);
  EXPECT_NE(server_error_->message().find("certificate verify failed"), std::string::npos)
      << server_error_->message();
  EXPECT_NE(server_error_->message().find("CN=intruder"), std::string::npos)
      << server_error_->message();
  EXPECT_NE(server_error_->message().find("peer 127.0.0.1"), std::string::npos);
}

TEST_F(TlsHandshake, ServerRefusesAClientWithoutCertificate) {
  serve(security_of(make_identity(pool_ca(), "hostb")));
  auto anonymous = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
  anonymous->add_certificate_authority(asio::buffer(pool_ca().certificate_pem));
  anonymous->set_verify_mode(asio::ssl::verify_peer);
  std::optional<Result<std::string>> outcome;
  asio::co_spawn(
      io_,
      [&]() -> awaitable<void> {
        const std::string where = "127.0.0.1:" + std::to_string(port_);
        auto socket = co_await connect_to(where, 5s);
        if (!socket) {
          outcome.emplace(std::move(socket).error());
          co_return;
        }
        auto connection =
            std::make_shared<RecordConnection>(std::move(*socket), anonymous, "anonymous");
        auto shaken = co_await connection->handshake(RecordConnection::TlsRole::client, 5s);
        if (!shaken) {
          outcome.emplace(std::move(shaken).error());
          co_return;
        }
        auto answer = co_await exchange(connection);
        outcome.emplace(std::move(answer));
        connection->close();
      },
      asio::detached);
  io_.run();
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(*outcome);
  ASSERT_TRUE(server_error_);
  EXPECT_EQ(server_error_->code(), Errc::rejected);
  EXPECT_NE(server_error_->message().find("did not return a certificate"), std::string::npos)
      << server_error_->message();
}

TEST_F(TlsHandshake, ClientRefusesAServerFromAnotherCa) {
  serve(security_of(make_identity(foreign_ca(), "impostor"), pool_ca().certificate_pem));
  auto answer = run_client(security_of(make_identity(pool_ca(), "hosta")));
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code(), Errc::rejected);
  EXPECT_NE(answer.error().message().find("CN=impostor"), std::string::npos)
      << answer.error().message();
}

TEST_F(TlsHandshake, ServerRefusesPlainTcpAndSaysSo) {
  serve(security_of(make_identity(pool_ca(), "hostb")));
  auto answer = run_client(PeerSecurity::insecure());
  EXPECT_FALSE(answer);
  ASSERT_TRUE(server_error_);
  EXPECT_NE(server_error_->message().find("--insecure"), std::string::npos)
      << server_error_->message();
}

TEST_F(TlsHandshake, PlainTcpStillWorksWhenBothSidesChoseIt) {
  serve(PeerSecurity::insecure());
  auto answer = run_client(PeerSecurity::insecure());
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(*answer, "hello pool");
}

// Deadlines and close() reach operations inside TLS too.
class TlsConnectionLifetime : public TlsHandshake {
 protected:
  // A server that completes the handshake and then stays silent until `quiet` ends.
  awaitable<void> silent_server(PeerSecurity security) {
    auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
    auto connection = accepted_peer(security, std::move(socket), "silent");
    (void)co_await connection->handshake(RecordConnection::TlsRole::server, 5s);
    asio::steady_timer quiet(co_await asio::this_coro::executor, 3s);
    boost::system::error_code ignored;
    co_await quiet.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    connection->close();
  }

  void start_silent(const PeerSecurity& security) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, silent_server(security), asio::detached);
  }
};

TEST_F(TlsConnectionLifetime, ReadDeadlineAndCloseWakeAPendingRead) {
  start_silent(security_of(make_identity(pool_ca(), "hostb")));
  auto client = security_of(make_identity(pool_ca(), "hosta"));
  std::optional<Result<Record>> timed_out, closed;
  std::chrono::steady_clock::duration close_wait{};
  asio::co_spawn(
      io_,
      [&]() -> awaitable<void> {
        const std::string where = "127.0.0.1:" + std::to_string(port_);
        auto connected = co_await connect_peer(client, where, "to silent", 5s);
        if (!connected) co_return;
        auto connection = std::move(*connected);
        auto first = co_await connection->read(100ms);
        timed_out.emplace(std::move(first));
        asio::steady_timer soon(co_await asio::this_coro::executor, 50ms);
        soon.async_wait([connection](const boost::system::error_code&) { connection->close(); });
        const auto start = std::chrono::steady_clock::now();
        auto second = co_await connection->read(10s);
        close_wait = std::chrono::steady_clock::now() - start;
        closed.emplace(std::move(second));
      },
      asio::detached);
  io_.run();
  ASSERT_TRUE(timed_out && closed);
  ASSERT_FALSE(*timed_out);
  EXPECT_EQ(timed_out->error().code(), Errc::timeout) << timed_out->error().message();
  ASSERT_FALSE(*closed);
  EXPECT_EQ(closed->error().code(), Errc::connection_lost) << closed->error().message();
  EXPECT_LT(close_wait, 2s);
}

}  // namespace
}  // namespace ferry
