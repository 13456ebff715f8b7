#include "apps/ferry/api_client.h"

#include <sys/un.h>

#include <limits>
#include <utility>

#include <fmt/format.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "engine/control/http/api_error.h"
#include "engine/transport/asio.h"

namespace ferry {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using Protocol = asio::local::stream_protocol;

// Responses larger than this are not something the agent sends; stop before eating all memory.
constexpr uint64_t kMaxReplyBytes = 64ull << 20;

std::string excerpt(std::string_view text) {
  constexpr size_t kMax = 200;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "...";
}

// One connection to the agent. Every operation runs asynchronously on a private io_context so
// basic_stream can enforce the deadline, and returns once it has completed.
class AgentConnection {
 public:
  AgentConnection(const std::string& socket_path, std::chrono::milliseconds timeout)
      : socket_path_(socket_path), timeout_(timeout), stream_(io_) {}

  Result<void> connect() {
    if (socket_path_.empty() || socket_path_.size() >= sizeof(sockaddr_un::sun_path))
      return Error(Errc::invalid_argument,
                   fmt::format("agent socket path '{}' must have 1 to {} bytes", socket_path_,
                               sizeof(sockaddr_un::sun_path) - 1));
    stream_.expires_after(timeout_);
    error_code ec = run([&](auto handler) {
      stream_.async_connect(Protocol::endpoint(socket_path_), std::move(handler));
    });
    if (!ec) return ok();
    // A missing file, or a file left by an agent that died, both mean nobody is there.
    if (ec == asio::error::not_found || ec == boost::system::errc::no_such_file_or_directory ||
        ec == asio::error::connection_refused)
      return Error(Errc::unreachable,
                   fmt::format("no agent at {} (is `ferry agent` running with this --state-dir?)",
                               socket_path_));
    if (ec == beast::error::timeout)
      return Error(Errc::timeout,
                   fmt::format("connecting to the agent at {}: no answer within {} ms",
                               socket_path_, timeout_.count()));
    return Error(Errc::unreachable,
                 fmt::format("connecting to the agent at {}: {}", socket_path_, ec.message()));
  }

  Result<void> send(http::request<http::string_body>& request, std::string_view what) {
    stream_.expires_after(timeout_);
    error_code ec =
        run([&](auto handler) { http::async_write(stream_, request, std::move(handler)); });
    if (ec) return transfer_error(ec, what, "sending the request");
    return ok();
  }

  template <typename Parser>
  Result<void> read_header(Parser& parser, std::string_view what) {
    stream_.expires_after(timeout_);
    error_code ec = run([&](auto handler) {
      http::async_read_header(stream_, buffer_, parser, std::move(handler));
    });
    if (ec) return transfer_error(ec, what, "waiting for the answer");
    return ok();
  }

  Result<void> read_whole(http::response_parser<http::string_body>& parser, std::string_view what) {
    stream_.expires_after(timeout_);
    error_code ec =
        run([&](auto handler) { http::async_read(stream_, buffer_, parser, std::move(handler)); });
    if (ec) return transfer_error(ec, what, "waiting for the answer");
    return ok();
  }

  // Appends to `out` whatever body bytes arrive next (at least one socket read's worth).
  Result<void> read_some_body(http::response_parser<http::buffer_body>& parser, std::string& out,
                              std::string_view what) {
    char chunk[16 * 1024];
    auto& body = parser.get().body();
    body.data = chunk;
    body.size = sizeof(chunk);
    error_code ec = run(
        [&](auto handler) { http::async_read_some(stream_, buffer_, parser, std::move(handler)); });
    out.append(chunk, sizeof(chunk) - body.size);
    if (ec && ec != http::error::need_buffer) return transfer_error(ec, what, "reading the stream");
    return ok();
  }

  void expires_never() { stream_.expires_never(); }

 private:
  template <typename Start>
  error_code run(Start start) {
    error_code result = asio::error::would_block;
    start([&result](error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  Error transfer_error(const error_code& ec, std::string_view what, std::string_view doing) {
    if (ec == beast::error::timeout)
      return Error(Errc::timeout, fmt::format("{}: {}: no answer from the agent at {} within {} ms",
                                              what, doing, socket_path_, timeout_.count()));
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::broken_pipe)
      return Error(
          Errc::connection_lost,
          fmt::format("{}: {}: the agent at {} closed the connection", what, doing, socket_path_));
    if (ec.category() == http::make_error_code(http::error::bad_version).category())
      return Error(Errc::protocol, fmt::format("{}: {}: the agent at {} sent malformed HTTP: {}",
                                               what, doing, socket_path_, ec.message()));
    return Error(Errc::connection_lost, fmt::format("{}: {}: {}", what, doing, ec.message()));
  }

  std::string socket_path_;
  std::chrono::milliseconds timeout_;
  asio::io_context io_;
  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_;
};

http::request<http::string_body> make_request(const std::string& method, const std::string& path,
                                              const nlohmann::json& body) {
  http::request<http::string_body> request;
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown)
    request.method_string(method);
  else
    request.method(verb);
  request.target(path);
  request.version(11);
  request.set(http::field::host, "localhost");
  request.set(http::field::user_agent, "ferry");
  if (!body.is_null()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  request.keep_alive(false);
  request.prepare_payload();
  return request;
}

Result<nlohmann::json> parse_body(std::string_view text, std::string_view what, int status) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return nlohmann::json();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error&) {
    return Error(Errc::protocol,
                 fmt::format("{}: the agent answered HTTP {} with a body that is not JSON: {}",
                             what, status, excerpt(text)));
  }
}

}  // namespace

ApiClient::ApiClient(std::string socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

Result<ApiReply> ApiClient::call(const std::string& method, const std::string& path,
                                 const nlohmann::json& body) {
  const std::string what = method + " " + path;
  AgentConnection connection(socket_path_, timeout_);
  if (auto connected = connection.connect(); !connected) return std::move(connected).error();
  auto request = make_request(method, path, body);
  if (auto sent = connection.send(request, what); !sent) return std::move(sent).error();
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  if (auto read = connection.read_whole(parser, what); !read) return std::move(read).error();
  int status = static_cast<int>(parser.get().result_int());
  auto json = parse_body(parser.get().body(), what, status);
  if (!json) return std::move(json).error();
  return ApiReply{status, std::move(*json)};
}

Result<void> ApiClient::stream(const std::string& path,
                               const std::function<bool(const nlohmann::json&)>& on_line) {
  const std::string what = "GET " + path;
  AgentConnection connection(socket_path_, timeout_);
  if (auto connected = connection.connect(); !connected) return std::move(connected).error();
  auto request = make_request("GET", path, nullptr);
  request.set(http::field::accept, "application/x-ndjson");
  if (auto sent = connection.send(request, what); !sent) return std::move(sent).error();

  http::response_parser<http::buffer_body> parser;
  // Not boost::none: Beast 1.74 compares the Content-Length against an empty optional and fails.
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  if (auto read = connection.read_header(parser, what); !read) return std::move(read).error();
  const int status = static_cast<int>(parser.get().result_int());

  std::string pending;
  if (status < 200 || status >= 300) {
    // An error answer is one JSON document; read it whole (under the deadline) and report it.
    while (!parser.is_done() && pending.size() <= kMaxReplyBytes)
      if (auto read = connection.read_some_body(parser, pending, what); !read)
        return std::move(read).error();
    auto body = parse_body(pending, what, status);
    if (!body) return std::move(body).error();
    if (auto error = error_from_api_body(*body))
      return std::move(*error).within(fmt::format("{} (HTTP {})", what, status));
    return Error(Errc::protocol,
                 fmt::format("{}: the agent answered HTTP {}: {}", what, status, excerpt(pending)));
  }

  connection.expires_never();
  size_t line_number = 0;
  // Returns false once on_line asked to stop.
  auto deliver = [&](std::string_view line) -> Result<bool> {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return true;
    nlohmann::json event;
    try {
      event = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error&) {
      return Error(Errc::protocol, fmt::format("{}: line {} of the event stream is not JSON: {}",
                                               what, line_number, excerpt(line)));
    }
    return on_line(event);
  };
  for (;;) {
    bool finished = parser.is_done();
    if (!finished)
      if (auto read = connection.read_some_body(parser, pending, what); !read)
        return std::move(read).error();
    size_t start = 0;
    for (size_t newline; (newline = pending.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      auto more = deliver(std::string_view(pending).substr(start, newline - start));
      if (!more) return std::move(more).error();
      if (!*more) return ok();
    }
    pending.erase(0, start);
    if (finished) break;
  }
  if (!pending.empty())
    if (auto more = deliver(pending); !more) return std::move(more).error();
  return ok();
}

}  // namespace ferry
