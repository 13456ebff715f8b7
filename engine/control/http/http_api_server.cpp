#include "engine/control/http/http_api_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <utility>

#include <fmt/format.h>

#include "engine/control/http/http_connection.h"
#include "engine/transport/record_connection.h"

namespace ferry {

using boost::system::error_code;
using http_internal::ServerState;
using http_internal::Strand;

namespace {

template <typename Acceptor>
awaitable<void> accept_loop(std::shared_ptr<ServerState> state, std::shared_ptr<Acceptor> acceptor,
                            Strand strand) {
  for (;;) {
    error_code ec;
    auto socket = co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (state->stopped || !acceptor->is_open()) co_return;
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning on the error.
      asio::steady_timer pause(strand, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto connection_strand = asio::make_strand(state->io);
    auto shared_socket = std::make_shared<decltype(socket)>(std::move(socket));
    asio::co_spawn(
        connection_strand,
        http_internal::serve_connection(state, std::move(shared_socket), connection_strand),
        asio::detached);
  }
}

// Starts accepting on `acceptor`; stop() closes it on its strand.
template <typename Acceptor>
Result<void> start_accepting(const std::shared_ptr<ServerState>& state,
                             std::shared_ptr<Acceptor> acceptor, std::string_view where) {
  auto strand = asio::make_strand(state->io);
  auto id = state->track([acceptor, strand] {
    asio::post(strand, [acceptor] {
      error_code ignored;
      acceptor->close(ignored);
    });
  });
  if (!id) return Error(Errc::cancelled, fmt::format("{}: the API server is stopped", where));
  asio::co_spawn(strand, accept_loop(state, std::move(acceptor), strand), asio::detached);
  return ok();
}

// A socket file nobody listens on is left behind by an agent that died; a live one belongs to
// another agent, which we must not take over.
Result<void> remove_stale_socket(asio::io_context& io, const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return ok();
    return errno_error(fmt::format("API socket {}", path));
  }
  if (!S_ISSOCK(info.st_mode))
    return Error(
        Errc::invalid_argument,
        fmt::format("API socket {}: the path exists and is not a socket; not replacing it", path));
  asio::local::stream_protocol::socket probe(io);
  error_code ec;
  probe.connect(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec)
    return Error(Errc::io,
                 fmt::format("API socket {}: another process (another ferry agent?) is listening "
                             "there",
                             path));
  if (ec != asio::error::connection_refused)
    return Error(Errc::io,
                 fmt::format("API socket {}: probing the existing socket: {}", path, ec.message()));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return errno_error(fmt::format("removing stale API socket {}", path));
  return ok();
}

}  // namespace

HttpApiServer::HttpApiServer(asio::io_context& io, ApiHandler& handler)
    : state_(std::make_shared<ServerState>(io, handler)) {}

HttpApiServer::~HttpApiServer() {
  stop();
}

Result<void> HttpApiServer::listen_unix(const std::string& socket_path) {
  std::string where = fmt::format("API socket {}", socket_path);
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un::sun_path))
    return Error(Errc::invalid_argument,
                 fmt::format("{}: a unix socket path must have 1 to {} bytes", where,
                             sizeof(sockaddr_un::sun_path) - 1));
  if (state_->stopped)
    return Error(Errc::cancelled, fmt::format("{}: the API server is stopped", where));
  if (auto removed = remove_stale_socket(state_->io, socket_path); !removed) return removed;

  using Protocol = asio::local::stream_protocol;
  auto acceptor = std::make_shared<Protocol::acceptor>(state_->io);
  error_code ec;
  acceptor->open(Protocol(), ec);
  if (!ec) acceptor->bind(Protocol::endpoint(socket_path), ec);
  if (ec) return errno_error(fmt::format("binding {}", where), ec.value());
  // Group access lets a toolstack user in without opening the socket to everyone.
  if (::chmod(socket_path.c_str(), 0660) != 0)
    return errno_error(fmt::format("chmod 0660 {}", where));
  struct stat info {};
  if (::stat(socket_path.c_str(), &info) != 0) return errno_error(where);
  {
    std::lock_guard lock(state_->mutex);
    state_->socket_files.push_back({socket_path, info.st_dev, info.st_ino});
  }
  acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return errno_error(fmt::format("listening on {}", where), ec.value());
  return start_accepting(state_, std::move(acceptor), where);
}

Result<void> HttpApiServer::listen_tcp(const std::string& host_port) {
  std::string where = fmt::format("API listener {}", host_port);
  auto parsed = parse_host_port(host_port);
  if (!parsed) return std::move(parsed).error().within("API listener");
  if (state_->stopped)
    return Error(Errc::cancelled, fmt::format("{}: the API server is stopped", where));

  tcp::resolver resolver(state_->io);
  error_code ec;
  auto endpoints =
      resolver.resolve(parsed->first, std::to_string(parsed->second), tcp::resolver::passive, ec);
  if (ec || endpoints.empty())
    return Error(Errc::invalid_argument,
                 fmt::format("{}: cannot resolve '{}': {}", where, parsed->first, ec.message()));
  tcp::endpoint endpoint = endpoints.begin()->endpoint();

  auto acceptor = std::make_shared<tcp::acceptor>(state_->io);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return errno_error(fmt::format("binding {}", where), ec.value());
  {
    std::lock_guard lock(state_->mutex);
    state_->tcp_port = acceptor->local_endpoint().port();
  }
  return start_accepting(state_, std::move(acceptor), where);
}

std::optional<uint16_t> HttpApiServer::tcp_port() const {
  std::lock_guard lock(state_->mutex);
  return state_->tcp_port;
}

void HttpApiServer::stop() {
  std::map<uint64_t, std::function<void()>> closers;
  std::vector<ServerState::SocketFile> socket_files;
  {
    std::lock_guard lock(state_->mutex);
    state_->stopped = true;
    closers.swap(state_->closers);
    socket_files.swap(state_->socket_files);
  }
  for (auto& [id, close] : closers) close();
  for (const auto& file : socket_files) {
    // Another agent may have replaced the file since; leave its socket alone.
    struct stat info {};
    if (::lstat(file.path.c_str(), &info) == 0 && info.st_dev == file.device &&
        info.st_ino == file.inode)
      ::unlink(file.path.c_str());
  }
}

void HttpApiServer::set_idle_timeout(std::chrono::milliseconds timeout) {
  state_->idle_timeout_ms = timeout.count();
}

}  // namespace ferry
