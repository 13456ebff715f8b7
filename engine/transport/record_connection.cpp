#include "engine/transport/record_connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <charconv>

#include <fmt/format.h>
#include <boost/asio/ssl.hpp>

#include "engine/transport/openssl_text.h"

namespace ferry {

namespace {
using boost::system::error_code;

bool is_tls_error(const error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec.category() == asio::ssl::error::get_stream_category();
}

Errc errc_for(const error_code& ec) {
  if (ec == asio::error::timed_out) return Errc::timeout;
  // A peer that closes without TLS close_notify: records carry their own lengths, so nothing can
  // be cut short unnoticed; it is a closed connection like any other.
  if (ec == asio::ssl::error::stream_truncated) return Errc::connection_lost;
  // An alert from the peer after the handshake (TLS 1.3 refuses a client certificate here).
  if (is_tls_error(ec)) return Errc::rejected;
  if (ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
      ec == asio::error::bad_descriptor)
    return Errc::connection_lost;
  if (ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
      ec == asio::error::network_unreachable)
    return Errc::unreachable;
  return Errc::io;
}

std::string describe(const error_code& ec) {
  if (ec == asio::error::eof) return "connection closed by peer";
  if (ec == asio::error::timed_out) return "timed out";
  if (ec == asio::error::operation_aborted) return "connection closed";
  if (ec == asio::ssl::error::stream_truncated) return "connection closed by peer";
  if (is_tls_error(ec)) return "TLS: " + ec.message();
  return ec.message();
}
}  // namespace

// The TLS stream runs over the connection's own socket (by reference), so deadlines and close()
// work the same in both modes.
struct RecordConnection::Tls {
  Tls(tcp::socket& socket, std::shared_ptr<asio::ssl::context> tls_context)
      : context(std::move(tls_context)), stream(socket, *context) {}

  std::shared_ptr<asio::ssl::context> context;
  asio::ssl::stream<tcp::socket&> stream;
  // Why the peer's certificate failed, noted during the handshake (OpenSSL's own message is
  // just "certificate verify failed").
  std::string verify_failure;
};

RecordConnection::RecordConnection(tcp::socket socket, std::string label)
    : executor_(asio::make_strand(
          static_cast<asio::io_context&>(socket.get_executor().context()).get_executor())),
      socket_(executor_),
      label_(std::move(label)),
      read_timer_(executor_),
      write_timer_(executor_) {
  // Re-home the socket on our strand so its timers and operations never race.
  error_code ignored;
  if (socket.is_open()) {
    auto protocol = socket.local_endpoint(ignored).protocol();
    socket_.assign(protocol, socket.release(ignored), ignored);
  }
  socket_.set_option(tcp::no_delay(true), ignored);
}

RecordConnection::RecordConnection(tcp::socket socket, std::shared_ptr<asio::ssl::context> tls,
                                   std::string label)
    : RecordConnection(std::move(socket), std::move(label)) {
  tls_ = std::make_unique<Tls>(socket_, std::move(tls));
  Tls* state = tls_.get();
  tls_->stream.set_verify_callback([state](bool preverified, asio::ssl::verify_context& context) {
    if (!preverified && state->verify_failure.empty()) {
      X509_STORE_CTX* store = context.native_handle();
      const X509* leaf = X509_STORE_CTX_get0_cert(store);
      const X509* failing = X509_STORE_CTX_get_current_cert(store);
      state->verify_failure = fmt::format(
          "{} (peer certificate {}{})",
          X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)), certificate_subject(leaf),
          failing && failing != leaf ? ", at " + certificate_subject(failing) : "");
    }
    return preverified;
  });
}

RecordConnection::~RecordConnection() = default;

template <typename Operation>
auto RecordConnection::on_stream(Operation operation) {
  return tls_ ? operation(tls_->stream) : operation(socket_);
}

awaitable<Result<void>> RecordConnection::handshake(TlsRole role,
                                                    std::chrono::milliseconds timeout) {
  if (!tls_) co_return ok();
  const auto type =
      role == TlsRole::client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  error_code ec = co_await with_deadline(
      read_timer_, timeout, [&](auto token) { return tls_->stream.async_handshake(type, token); });
  if (!ec) co_return ok();
  if (!is_tls_error(ec)) co_return io_error("TLS handshake", ec);
  std::string reason = ec.message();
  if (!tls_->verify_failure.empty()) reason += ": " + tls_->verify_failure;
  const int lib_reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  if (role == TlsRole::server &&
      (lib_reason == SSL_R_WRONG_VERSION_NUMBER || lib_reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
       lib_reason == SSL_R_HTTP_REQUEST))
    reason += " (the peer does not speak TLS: an agent started with --insecure?)";
  co_return Error(Errc::rejected, fmt::format("{}: TLS handshake refused: {}", label_, reason));
}

Result<void> RecordConnection::expect_peer_host(const std::string& host) {
  if (!tls_) return ok();
  SSL* ssl = tls_->stream.native_handle();
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  // An IP address is checked against the certificate's IP SANs, a name against its DNS SANs.
  const int set = ec ? SSL_set1_host(ssl, host.c_str())
                     : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  if (set != 1)
    return Error(
        Errc::invalid_argument,
        fmt::format("{}: cannot check the peer's certificate against \"{}\"", label_, host));
  return ok();
}

std::string RecordConnection::local_address() const {
  boost::system::error_code ec;
  const auto endpoint = socket_.local_endpoint(ec);
  return ec ? std::string() : endpoint.address().to_string();
}

std::string RecordConnection::peer_certificate_subject() const {
  if (!tls_) return {};
  X509* peer = SSL_get0_peer_certificate(tls_->stream.native_handle());
  return peer ? certificate_subject(peer) : std::string();
}

void RecordConnection::close() {
  asio::dispatch(executor_, [self = shared_from_this()] {
    error_code ignored;
    self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
    self->socket_.close(ignored);
    self->read_timer_.cancel();
    self->write_timer_.cancel();
  });
}

Error RecordConnection::io_error(std::string_view what, const error_code& ec) const {
  return Error(errc_for(ec), fmt::format("{}: {}: {}", label_, what, describe(ec)));
}

template <typename Start>
awaitable<error_code> RecordConnection::with_deadline(asio::steady_timer& timer,
                                                      std::chrono::milliseconds timeout,
                                                      Start start) {
  auto expired = std::make_shared<bool>(false);
  timer.expires_after(timeout);
  // The handler may run after this frame is gone (operation_aborted): it touches only `expired`
  // and, when the deadline really passed, the socket that still exists then.
  timer.async_wait([this, expired](const error_code& ec) {
    if (ec) return;
    *expired = true;
    error_code ignored;
    socket_.cancel(ignored);
  });
  error_code ec;
  co_await start(asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  if (*expired) ec = asio::error::timed_out;
  co_return ec;
}

awaitable<Result<Record>> RecordConnection::read(std::chrono::milliseconds timeout) {
  for (;;) {
    auto header = co_await read_header(timeout);
    if (!header) co_return std::move(header).error();
    auto record = co_await read_payload(*header, timeout);
    if (!record) co_return record;
    if (wire::is_optional_type(header->type) && !wire::is_known_type(header->type)) continue;
    co_return record;
  }
}

awaitable<Result<wire::RecordHeader>> RecordConnection::read_header(
    std::chrono::milliseconds timeout) {
  std::array<std::byte, wire::kHeaderSize> header_bytes;
  error_code ec = co_await with_deadline(read_timer_, timeout, [&](auto token) {
    return on_stream(
        [&](auto& stream) { return asio::async_read(stream, asio::buffer(header_bytes), token); });
  });
  if (ec) co_return io_error("reading record header", ec);
  auto header = wire::decode_header(header_bytes, limits_);
  if (!header) co_return std::move(header).error().within(label_);
  bytes_read_ += wire::kHeaderSize;
  co_return *header;
}

awaitable<Result<Record>> RecordConnection::read_payload(const wire::RecordHeader& header,
                                                         std::chrono::milliseconds timeout) {
  read_buffer_.resize(header.length);
  const std::array<asio::mutable_buffer, 1> buffers{asio::buffer(read_buffer_)};
  if (auto read = co_await read_into(header, buffers, timeout); !read)
    co_return std::move(read).error();
  if (auto crc = wire::verify_crc(header, read_buffer_); !crc)
    co_return std::move(crc).error().within(label_);
  co_return Record{header.type, std::span<const std::byte>(read_buffer_)};
}

awaitable<Result<void>> RecordConnection::read_into(const wire::RecordHeader& header,
                                                    std::span<const asio::mutable_buffer> buffers,
                                                    std::chrono::milliseconds timeout) {
  const std::size_t size = asio::buffer_size(buffers);
  if (size == 0) co_return ok();
  error_code ec = co_await with_deadline(read_timer_, timeout, [&](auto token) {
    return on_stream([&](auto& stream) { return asio::async_read(stream, buffers, token); });
  });
  if (ec)
    co_return io_error(fmt::format("reading {} payload ({} bytes)",
                                   wire::record_type_name(header.type), header.length),
                       ec);
  bytes_read_ += size;
  co_return ok();
}

awaitable<Result<void>> RecordConnection::write(uint16_t type, std::span<const std::byte> payload,
                                                std::chrono::milliseconds timeout) {
  // A coroutine, not a forwarding function: `pieces` must live in this frame while we wait.
  const std::array<std::span<const std::byte>, 1> pieces{payload};
  co_return co_await write_pieces(type, pieces, timeout);
}

awaitable<Result<void>> RecordConnection::write_pieces(
    uint16_t type, std::span<const std::span<const std::byte>> pieces,
    std::chrono::milliseconds timeout) {
  std::array<asio::const_buffer, 9> buffers;
  if (pieces.size() > buffers.size() - 1)
    co_return Error(Errc::internal, "record written in too many pieces");
  const size_t n = pieces.size();
  size_t length = 0;
  for (auto piece : pieces) length += piece.size();
  auto header = wire::encode_header(type, 0, pieces);
  buffers[0] = asio::buffer(header);
  for (size_t i = 0; i < n; ++i) buffers[i + 1] = asio::buffer(pieces[i].data(), pieces[i].size());
  error_code ec = co_await with_deadline(write_timer_, timeout, [&](auto token) {
    return on_stream([&](auto& stream) {
      return asio::async_write(stream, std::span(buffers.data(), n + 1), token);
    });
  });
  if (ec)
    co_return io_error(fmt::format("writing {} ({} bytes)", wire::record_type_name(type), length),
                       ec);
  bytes_written_ += wire::kHeaderSize + length;
  co_return ok();
}

awaitable<Result<void>> RecordConnection::write_framed(std::span<const std::byte> record,
                                                       std::chrono::milliseconds timeout) {
  error_code ec = co_await with_deadline(write_timer_, timeout, [&](auto token) {
    return on_stream([&](auto& stream) {
      return asio::async_write(stream, asio::buffer(record.data(), record.size()), token);
    });
  });
  if (ec) co_return io_error(fmt::format("writing a {}-byte record", record.size()), ec);
  bytes_written_ += record.size();
  co_return ok();
}

Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size())
    return Error(Errc::invalid_argument,
                 fmt::format("'{}' is not HOST:PORT (e.g. 10.0.0.2:7460)", text));
  std::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto port_text = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return Error(Errc::invalid_argument, fmt::format("'{}': bad port '{}'", text, port_text));
  return std::pair<std::string, uint16_t>{std::string(host), static_cast<uint16_t>(port)};
}

awaitable<Result<tcp::socket>> connect_to(std::string_view host_port,
                                          std::chrono::milliseconds timeout) {
  auto parsed = parse_host_port(host_port);
  if (!parsed) co_return std::move(parsed).error();
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  error_code ec;
  const std::string service = std::to_string(parsed->second);
  auto endpoints = co_await resolver.async_resolve(parsed->first, service,
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec)
    co_return Error(Errc::unreachable, fmt::format("resolving {}: {}", host_port, ec.message()));
  // Shared with the timer's handler, which may run after this frame has returned.
  auto socket = std::make_shared<tcp::socket>(executor);
  asio::steady_timer timer(executor);
  auto expired = std::make_shared<bool>(false);
  timer.expires_after(timeout);
  timer.async_wait([socket, expired](const error_code& e) {
    if (e) return;
    *expired = true;
    error_code ignored;
    socket->close(ignored);
  });
  co_await asio::async_connect(*socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  if (*expired)
    co_return Error(Errc::timeout, fmt::format("connecting to {}: no answer within {} ms",
                                               host_port, timeout.count()));
  if (ec)
    co_return Error(errc_for(ec) == Errc::io ? Errc::unreachable : errc_for(ec),
                    fmt::format("connecting to {}: {}", host_port, ec.message()));
  co_return std::move(*socket);
}

}  // namespace ferry
