// The agent's HTTP/1.1 + JSON server: accepts connections on a unix socket (and optionally TCP),
// parses requests with Boost.Beast and hands them to an ApiHandler. One coroutine per connection,
// keep-alive, 1 MiB request bodies, an idle deadline per request; streaming endpoints are written
// as chunked application/x-ndjson. Routes and their logic live in the handler, not here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/control/http/api_types.h"
#include "engine/error/error.h"
#include "engine/transport/asio.h"

namespace ferry {

namespace http_internal {
struct ServerState;  // shared by the server and its connections; outlives the server while they run
}

class HttpApiServer {
 public:
  static constexpr size_t kMaxBodyBytes = 1 << 20;
  static constexpr std::chrono::milliseconds kStreamPollInterval{200};

  // `handler` must outlive every connection: stop the server and the io_context (or let io.run()
  // return) before destroying it.
  HttpApiServer(asio::io_context& io, ApiHandler& handler);
  ~HttpApiServer();  // stop()s
  HttpApiServer(const HttpApiServer&) = delete;
  HttpApiServer& operator=(const HttpApiServer&) = delete;

  // Replaces a stale socket file (one nobody listens on); refuses a live one or a non-socket file.
  // The socket gets mode 0660 and is removed again by stop().
  Result<void> listen_unix(const std::string& socket_path);
  // "HOST:PORT"; port 0 picks a free port (see tcp_port()). No authentication: bind to loopback.
  Result<void> listen_tcp(const std::string& host_port);
  std::optional<uint16_t> tcp_port() const;  // of the last listen_tcp()

  // Closes listeners and open connections (asynchronously, on their executors); safe from any
  // thread; the handler is not called for requests that complete after this.
  void stop();

  // A connection that sends no complete request (or does not take a response) for this long is
  // closed. Default 30 s; applies to connections accepted afterwards.
  void set_idle_timeout(std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<http_internal::ServerState> state_;
};

}  // namespace ferry
