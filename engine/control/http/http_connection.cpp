#include "engine/control/http/http_connection.h"

#include <array>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
// g++ 12 with sanitizers flags boost::optional inside Beast's parser as maybe-uninitialized
// (a false positive in the library header); keep our build warning-free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include "engine/control/http/api_error.h"
#include "engine/control/http/http_api_server.h"
#include "engine/control/http/request_target.h"

namespace ferry::http_internal {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using nlohmann::json;

// Invalid UTF-8 in a handler's strings must not turn a reply into an exception.
std::string to_text(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

template <typename Socket>
void close_quietly(Socket& socket) {
  error_code ignored;
  socket.close(ignored);
}

// Closes the socket when the peer makes no progress in time, which fails the pending read or
// write. Every call runs on the connection's strand; the generation number makes a wait that had
// already expired when the deadline was re-armed harmless.
class IdleDeadline {
 public:
  IdleDeadline(Strand strand, std::function<void()> on_expiry)
      : state_(std::make_shared<State>(std::move(strand), std::move(on_expiry))) {}
  ~IdleDeadline() { disarm(); }
  IdleDeadline(const IdleDeadline&) = delete;
  IdleDeadline& operator=(const IdleDeadline&) = delete;

  void arm(std::chrono::milliseconds timeout) {
    uint64_t generation = ++state_->generation;
    state_->timer.expires_after(timeout);
    state_->timer.async_wait([state = state_, generation](error_code ec) {
      if (!ec && generation == state->generation) state->on_expiry();
    });
  }
  void disarm() {
    ++state_->generation;
    state_->timer.cancel();
  }

 private:
  struct State {
    State(Strand strand, std::function<void()> expiry)
        : timer(std::move(strand)), on_expiry(std::move(expiry)) {}
    asio::steady_timer timer;
    uint64_t generation = 0;
    std::function<void()> on_expiry;
  };
  std::shared_ptr<State> state_;
};

// While an event stream runs, the client sends nothing; a read that completes means it closed
// (or misbehaves), so polling stops.
struct DisconnectWatch {
  explicit DisconnectWatch(Strand strand) : timer(std::move(strand)) {}
  asio::steady_timer timer;  // the stream's poll timer, cancelled when the client leaves
  bool client_gone = false;
  std::array<char, 512> scratch;
};

template <typename Socket>
void watch_for_disconnect(std::shared_ptr<Socket> socket, std::shared_ptr<DisconnectWatch> watch,
                          Strand strand) {
  auto& scratch = watch->scratch;
  socket->async_read_some(
      asio::buffer(scratch),
      asio::bind_executor(strand, [socket, watch, strand](error_code ec, size_t) mutable {
        if (ec) {
          watch->client_gone = true;
          watch->timer.cancel();
          return;
        }
        watch_for_disconnect(std::move(socket), std::move(watch), std::move(strand));
      }));
}

bool is_http_parse_error(const error_code& ec) {
  static const auto& category = http::make_error_code(http::error::bad_method).category();
  return ec.category() == category && ec != http::error::end_of_stream &&
         ec != http::error::partial_message;
}

ApiResponse parse_error_response(const error_code& ec) {
  if (ec == http::error::body_limit)
    return {413, api_error_body(Errc::invalid_argument,
                                fmt::format("request body is larger than {} bytes",
                                            HttpApiServer::kMaxBodyBytes))};
  if (ec == http::error::header_limit)
    return {431, api_error_body(Errc::invalid_argument, "request headers are too large")};
  return {400, api_error_body(Errc::invalid_argument,
                              fmt::format("malformed HTTP request: {}", ec.message()))};
}

// Turns what Beast parsed into an ApiRequest, or the 400 response that explains why not.
std::variant<ApiRequest, ApiResponse> to_api_request(
    const http::request<http::string_body>& message) {
  ApiRequest request;
  request.method = std::string(message.method_string());
  const std::string_view raw_target(message.target().data(), message.target().size());
  auto target = parse_request_target(raw_target);
  if (!target)
    return ApiResponse{400, api_error_body(std::move(target).error().within(
                                fmt::format("{} {}", request.method, raw_target)))};
  request.path = std::move(target->path);
  request.query = std::move(target->query);
  if (!message.body().empty()) {
    try {
      request.body = json::parse(message.body());
    } catch (const json::parse_error& e) {
      return ApiResponse{400, api_error_body(Errc::invalid_argument,
                                             fmt::format("body of {} {} is not valid JSON: {}",
                                                         request.method, request.path, e.what()))};
    }
  }
  return request;
}

std::string describe_exception(std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

ApiResponse sanitized(ApiResponse response, const ApiRequest& request) {
  if (response.status >= 100 && response.status <= 599) return response;
  return {500, api_error_body(Errc::internal,
                              fmt::format("{} {}: handler returned invalid HTTP status {}",
                                          request.method, request.path, response.status))};
}

template <typename Socket>
class Connection {
 public:
  Connection(std::shared_ptr<ServerState> state, std::shared_ptr<Socket> socket, Strand strand)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        strand_(std::move(strand)),
        idle_timeout_(state_->idle_timeout()),
        deadline_(strand_, [socket = socket_] { close_quietly(*socket); }) {}

  awaitable<void> run() {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(HttpApiServer::kMaxBodyBytes);
      error_code ec = co_await read_request(parser);
      if (ec) {
        if (is_http_parse_error(ec)) {
          // Built apart from the co_await: g++ 12 mishandles non-trivial temporaries there.
          const ApiResponse response = parse_error_response(ec);
          co_await write_json(response, 11, false);
        }
        co_return;
      }
      if (state_->stopped) co_return;
      auto& message = parser.get();
      bool keep_alive = message.keep_alive();
      unsigned version = message.version();

      auto parsed = to_api_request(message);
      if (auto* error = std::get_if<ApiResponse>(&parsed)) {
        if (!co_await write_json(*error, version, keep_alive) || !keep_alive) co_return;
        continue;
      }
      const auto& request = std::get<ApiRequest>(parsed);

      std::optional<EventStream> stream;
      ApiResponse response;
      try {
        stream = state_->handler.open_stream(request);
        if (!stream) response = sanitized(state_->handler.handle(request), request);
      } catch (...) {
        stream.reset();
        response = {500, api_error_body(Errc::internal,
                                        fmt::format("{} {}: {}", request.method, request.path,
                                                    describe_exception(std::current_exception())))};
      }
      if (stream) {
        co_await write_stream(std::move(*stream), request, version);
        co_return;
      }
      if (!co_await write_json(response, version, keep_alive) || !keep_alive) co_return;
    }
  }

  void close() {
    deadline_.disarm();
    error_code ignored;
    socket_->shutdown(asio::socket_base::shutdown_send, ignored);
    close_quietly(*socket_);
  }

 private:
  awaitable<error_code> read_request(http::request_parser<http::string_body>& parser) {
    error_code ec;
    deadline_.arm(idle_timeout_);
    co_await http::async_read_header(*socket_, buffer_, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // curl waits a second for this before sending a larger body on its own.
      http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
      co_await http::async_write(*socket_, go_on, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec && !parser.is_done())
      co_await http::async_read(*socket_, buffer_, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
    deadline_.disarm();
    co_return ec;
  }

  // Returns false when the response could not be written (the connection is then unusable).
  awaitable<bool> write_json(const ApiResponse& response, unsigned version, bool keep_alive) {
    http::response<http::string_body> message;
    message.version(version);
    message.result(static_cast<unsigned>(response.status));
    message.set(http::field::server, "ferry");
    const bool json = response.content_type.empty();
    message.set(http::field::content_type, json ? "application/json" : response.content_type);
    message.keep_alive(keep_alive);
    message.body() = json ? to_text(response.body) + "\n" : response.text;
    message.prepare_payload();
    error_code ec;
    deadline_.arm(idle_timeout_);
    co_await http::async_write(*socket_, message, asio::redirect_error(asio::use_awaitable, ec));
    deadline_.disarm();
    co_return !ec;
  }

  // Chunked so the client can tell a finished stream (last chunk) from a dropped connection.
  awaitable<void> write_stream(EventStream stream, const ApiRequest& request, unsigned version) {
    http::response<http::empty_body> header{http::status::ok, version};
    header.set(http::field::server, "ferry");
    header.set(http::field::content_type, "application/x-ndjson");
    header.keep_alive(false);
    header.chunked(true);
    http::response_serializer<http::empty_body> serializer{header};
    error_code ec;
    deadline_.arm(idle_timeout_);
    co_await http::async_write_header(*socket_, serializer,
                                      asio::redirect_error(asio::use_awaitable, ec));
    deadline_.disarm();
    if (ec) co_return;

    auto watch = std::make_shared<DisconnectWatch>(strand_);
    watch_for_disconnect(socket_, watch, strand_);
    for (;;) {
      std::vector<json> events;
      bool finished = false;
      try {
        if (!stream.poll) throw std::logic_error("the handler opened a stream without poll()");
        std::tie(events, finished) = stream.poll();
      } catch (...) {
        // The header is gone already: the failure becomes the stream's last line.
        events = {api_error_body(
            Errc::internal, fmt::format("{} {}: stream failed: {}", request.method, request.path,
                                        describe_exception(std::current_exception())))};
        finished = true;
      }
      if (!events.empty()) {
        std::string lines;
        for (const auto& event : events) {
          lines += to_text(event);
          lines += '\n';
        }
        deadline_.arm(idle_timeout_);
        co_await asio::async_write(*socket_, http::make_chunk(asio::buffer(lines)),
                                   asio::redirect_error(asio::use_awaitable, ec));
        deadline_.disarm();
        if (ec) co_return;
      }
      if (finished) break;
      if (watch->client_gone || state_->stopped) co_return;
      watch->timer.expires_after(HttpApiServer::kStreamPollInterval);
      co_await watch->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (watch->client_gone || state_->stopped) co_return;
    }
    deadline_.arm(idle_timeout_);
    co_await asio::async_write(*socket_, http::make_chunk_last(),
                               asio::redirect_error(asio::use_awaitable, ec));
    deadline_.disarm();
  }

  std::shared_ptr<ServerState> state_;
  std::shared_ptr<Socket> socket_;
  Strand strand_;
  std::chrono::milliseconds idle_timeout_;
  IdleDeadline deadline_;
  beast::flat_buffer buffer_;
};

template <typename Socket>
awaitable<void> serve(std::shared_ptr<ServerState> state, std::shared_ptr<Socket> socket,
                      Strand strand) {
  auto id =
      state->track([socket, strand] { asio::post(strand, [socket] { close_quietly(*socket); }); });
  if (!id) {
    close_quietly(*socket);
    co_return;
  }
  Connection<Socket> connection(state, socket, strand);
  try {
    co_await connection.run();
  } catch (const std::exception&) {
    // Only allocation failures can get here; dropping the connection is all we can do.
  }
  connection.close();
  state->untrack(*id);
}

}  // namespace

awaitable<void> serve_connection(std::shared_ptr<ServerState> state,
                                 std::shared_ptr<UnixSocket> socket, Strand strand) {
  return serve(std::move(state), std::move(socket), std::move(strand));
}

awaitable<void> serve_connection(std::shared_ptr<ServerState> state,
                                 std::shared_ptr<tcp::socket> socket, Strand strand) {
  return serve(std::move(state), std::move(socket), std::move(strand));
}

}  // namespace ferry::http_internal
