// A client for OVSDB (RFC 7047 JSON-RPC) over a unix socket or TCP, as used by ovsdb-server.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "drivers/net/ovs/ovsdb_reply.h"
#include "engine/error/error.h"

namespace ferry::ovs {

using Json = nlohmann::json;

// A synchronous facade over one connection, with its own Asio I/O thread. Why synchronous: the
// resource driver's steps (prepare, activate, ...) are blocking calls with deadlines, so callers
// want "do this, tell me if it worked" without adopting coroutines. Why a thread anyway: the server
// talks without being asked (monitor updates, "echo" probes that must be answered or it drops us),
// so the socket is read continuously, not only while a call waits.
//
// Thread safety: every public method may be called from any thread, concurrently. Update callbacks
// run on the I/O thread in stream order; they must not call this client's request methods (such a
// call fails with Errc::internal instead of deadlocking) and should return quickly.
class OvsdbClient {
 public:
  // Receives the <table-updates> object of each "update" notification for one monitor.
  using UpdateCallback = std::function<void(const Json& table_updates)>;

  struct Options {
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds request_timeout{5000};  // default deadline of every request
    // When nothing arrives for this long we send our own "echo"; no reply within another interval
    // closes the connection as lost (like ovsdb-server's inactivity probe). Zero disables it.
    std::chrono::milliseconds inactivity_probe{5000};
    std::size_t max_message_bytes = std::size_t{64} << 20;
    // Called once, on the I/O thread, when the connection is lost or fails.
    std::function<void(const Error&)> on_disconnect;
  };

  // Connects to "unix:PATH", "tcp:HOST:PORT" or an absolute socket path. Errc::unreachable when
  // nothing listens there, Errc::timeout when the connection does not complete within
  // connect_timeout.
  static Result<std::unique_ptr<OvsdbClient>> connect(std::string_view remote, Options options);
  static Result<std::unique_ptr<OvsdbClient>> connect(std::string_view remote) {
    return connect(remote, Options{});
  }

  ~OvsdbClient();
  OvsdbClient(const OvsdbClient&) = delete;
  OvsdbClient& operator=(const OvsdbClient&) = delete;

  // Any JSON-RPC method; returns the reply's "result". Errors: Errc::timeout (no reply in time),
  // Errc::connection_lost, or the server's JSON-RPC error (see rpc_error()).
  Result<Json> call(std::string_view method, Json params);
  Result<Json> call(std::string_view method, Json params, std::chrono::milliseconds timeout);

  Result<std::vector<std::string>> list_dbs();
  Result<Json> get_schema(std::string_view db);

  // Runs `operations` (a JSON array built with op::…) as one transaction and returns the result
  // array. A failed operation or commit is an Error naming the operation's index and kind, with the
  // server's "error" and "details"; when `failure` is given it also receives them for the caller to
  // inspect.
  Result<Json> transact(std::string_view db, Json operations,
                        std::optional<TransactFailure>* failure = nullptr);

  // Starts monitor `monitor_id` (any JSON value, unique on this connection) on `requests`
  // ({table: {"columns": [...]}, ...}, RFC 7047 §4.1.5) and returns the initial <table-updates>.
  // Later changes go to `on_update`, registered before the request is sent so none is missed.
  Result<Json> monitor(std::string_view db, const Json& monitor_id, Json requests,
                       UpdateCallback on_update);
  Result<void> monitor_cancel(const Json& monitor_id);

  // Round trip to the server: proves the connection and the server's main loop are alive.
  Result<void> echo();

  // Waits until Open_vSwitch.cur_cfg >= next_cfg, i.e. ovs-vswitchd has applied the configuration a
  // transaction marked by incrementing next_cfg. Uses a monitor on cur_cfg started on first use.
  Result<void> wait_for_cur_cfg(std::int64_t next_cfg,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The remote in OVS notation, for messages: "unix:/run/openvswitch/db.sock".
  const std::string& remote() const;
  bool connected() const;
  // Why the connection ended, once it has.
  std::optional<Error> connection_error() const;
  // How many "echo" requests from the server this client has answered.
  std::uint64_t server_echoes_answered() const;

 private:
  class Connection;
  explicit OvsdbClient(std::unique_ptr<Connection> connection);

  Result<void> ensure_cur_cfg_monitor();

  std::unique_ptr<Connection> connection_;
};

}  // namespace ferry::ovs
