// A TCP connection that carries ferry records (engine/wire framing), in plain TCP or inside TLS,
// with a deadline on every read and write. Reads and writes may run at the same time from
// different coroutines as long as all of them run on the connection's executor (a strand): see
// executor().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/error/error.h"
#include "engine/transport/asio.h"
#include "engine/wire/record.h"

namespace boost::asio::ssl {
class context;
}

namespace ferry {

struct Record {
  uint16_t type = 0;
  std::span<const std::byte> payload;  // valid until the next read()
};

// Always owned through a shared_ptr: close() may run later on the connection's strand and keeps
// the object alive until then.
class RecordConnection : public std::enable_shared_from_this<RecordConnection> {
 public:
  using Executor = asio::strand<asio::io_context::executor_type>;

  enum class TlsRole { client, server };

  // Plain TCP.
  RecordConnection(tcp::socket socket, std::string label);
  // TLS with `tls`'s identity and trust: call handshake() before any read or write.
  RecordConnection(tcp::socket socket, std::shared_ptr<asio::ssl::context> tls, std::string label);
  ~RecordConnection();

  // Runs the TLS handshake (nothing to do in plain TCP). A peer whose certificate the pool CA did
  // not sign, or that sent none, fails with Errc::rejected and OpenSSL's reason.
  awaitable<Result<void>> handshake(TlsRole role, std::chrono::milliseconds timeout);
  // TLS client: the peer's certificate must also name `host` (an IP address in its IP SANs, else
  // a DNS name), so that one pool member cannot answer for another's address. Before handshake().
  Result<void> expect_peer_host(const std::string& host);

  // Reads the next record, verifying its checksum; optional record types we do not know are
  // skipped.
  awaitable<Result<Record>> read(std::chrono::milliseconds timeout);

  // The same in steps, for a reader that places the payload itself (PAGES data straight into
  // guest memory): the next header (any type), then either read_payload() for the record as
  // read() returns it (checksum verified; the caller skips unknown optional types), or
  // read_into() until header.length bytes are read, the checksum then being the caller's
  // (wire::verify_crc over the pieces).
  awaitable<Result<wire::RecordHeader>> read_header(std::chrono::milliseconds timeout);
  awaitable<Result<Record>> read_payload(const wire::RecordHeader& header,
                                         std::chrono::milliseconds timeout);
  // Fills `buffers` completely, in order, from the current payload.
  awaitable<Result<void>> read_into(const wire::RecordHeader& header,
                                    std::span<const asio::mutable_buffer> buffers,
                                    std::chrono::milliseconds timeout);
  // Writes one record whose payload is the concatenation of `pieces` (scatter/gather, no copy).
  // The pieces must stay valid until the returned awaitable completes.
  awaitable<Result<void>> write_pieces(uint16_t type,
                                       std::span<const std::span<const std::byte>> pieces,
                                       std::chrono::milliseconds timeout);
  awaitable<Result<void>> write(uint16_t type, std::span<const std::byte> payload,
                                std::chrono::milliseconds timeout);

  // Writes a record that is already framed (header included), e.g. wire::PagesBuilder::record().
  awaitable<Result<void>> write_framed(std::span<const std::byte> record,
                                       std::chrono::milliseconds timeout);

  // Cancels pending operations and closes the socket; safe to call from any thread.
  void close();
  bool is_open() const { return socket_.is_open(); }
  bool uses_tls() const { return tls_ != nullptr; }
  // The subject of the certificate the peer presented ("CN=hosta"), empty in plain TCP.
  std::string peer_certificate_subject() const;
  // The address of our end ("10.0.0.2"): where the peer reached us. Empty when closed.
  std::string local_address() const;

  const Executor& executor() const { return executor_; }
  const std::string& label() const { return label_; }  // "control to 10.0.0.2:7460", for errors
  uint64_t bytes_written() const { return bytes_written_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct Tls;
  // Runs `operation` on the TLS stream or, in plain TCP, on the socket itself.
  template <typename Operation>
  auto on_stream(Operation operation);
  template <typename Start>
  awaitable<boost::system::error_code> with_deadline(asio::steady_timer& timer,
                                                     std::chrono::milliseconds timeout,
                                                     Start start);
  Error io_error(std::string_view what, const boost::system::error_code& ec) const;

  Executor executor_;
  tcp::socket socket_;  // in TLS, the layer under the TLS stream: deadlines and close() act on it
  std::unique_ptr<Tls> tls_;
  std::string label_;
  asio::steady_timer read_timer_;
  asio::steady_timer write_timer_;
  wire::Limits limits_;
  std::vector<std::byte> read_buffer_;
  uint64_t bytes_written_ = 0;
  uint64_t bytes_read_ = 0;
};

// Parses "HOST:PORT" ("127.0.0.1:7460", "[::1]:7460", "localhost:7460").
Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view text);

// Connects to "HOST:PORT" within `timeout`; Errc::unreachable / Errc::timeout name the address.
awaitable<Result<tcp::socket>> connect_to(std::string_view host_port,
                                          std::chrono::milliseconds timeout);

}  // namespace ferry
