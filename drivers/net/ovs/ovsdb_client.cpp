#include "drivers/net/ovs/ovsdb_client.h"

// Boost 1.74's Asio needs <utility> before <boost/asio.hpp> with g++ 12.
#include <utility>

#include <boost/asio.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "drivers/net/ovs/json_stream_splitter.h"
#include "drivers/net/ovs/ovsdb_remote.h"

namespace ferry::ovs {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string dump(const Json& message) {
  // Replace invalid UTF-8 instead of throwing: a port name is caller data.
  return message.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Error connect_error(const std::string& remote, const boost::system::error_code& ec) {
  const std::string what = fmt::format("connect to OVSDB server {}: {}", remote, ec.message());
  if (ec == asio::error::connection_refused || ec == asio::error::not_found ||
      ec == boost::system::errc::no_such_file_or_directory || ec == asio::error::host_unreachable ||
      ec == asio::error::network_unreachable || ec == asio::error::host_not_found) {
    return Error(Errc::unreachable, what);
  }
  return Error(Errc::io, what);
}

}  // namespace

// Everything that touches the socket runs on the I/O thread; other threads reach it by asio::post.
class OvsdbClient::Connection {
 public:
  Connection(OvsdbRemote remote, Options options)
      : remote_(std::move(remote)),
        remote_text_(remote_.to_string()),
        options_(std::move(options)),
        work_(asio::make_work_guard(io_)),
        socket_(io_),
        resolver_(io_),
        probe_timer_(io_),
        splitter_(options_.max_message_bytes) {}

  ~Connection() {
    asio::post(io_, [this] { close(Error(Errc::cancelled, "client closed"), false); });
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

  Result<void> open() {
    thread_ = std::thread([this] { io_.run(); });
    auto connected = std::make_shared<std::promise<Result<void>>>();
    auto future = connected->get_future();
    asio::post(io_, [this, connected] { start_connect(connected); });
    if (future.wait_for(options_.connect_timeout) != std::future_status::ready) {
      asio::post(io_, [this] { close(Error(Errc::timeout, "connect timed out"), false); });
      return Error(Errc::timeout,
                   fmt::format("connect to OVSDB server {}: no connection within {} ms",
                               remote_text_, options_.connect_timeout.count()));
    }
    return future.get();
  }

  // Sends one request and waits for its reply. `before_send` runs on the I/O thread right before
  // the request is queued, so state it sets up (a monitor's callback) is in place before any reply.
  Result<Json> request(std::string_view method, Json params, milliseconds timeout,
                       std::function<void()> before_send = {}) {
    if (std::this_thread::get_id() == thread_.get_id()) {
      return Error(Errc::internal,
                   fmt::format("ovsdb {} on {}: called from the client's I/O thread (an update "
                               "callback), which would wait for itself",
                               method, remote_text_));
    }
    const std::uint64_t id = next_id_++;
    std::string text = dump({{"method", method}, {"params", std::move(params)}, {"id", id}});
    auto reply = std::make_shared<std::promise<Result<Json>>>();
    auto future = reply->get_future();
    asio::post(io_, [this, id, reply, method = std::string(method), text = std::move(text),
                     before_send = std::move(before_send)]() mutable {
      if (closed_) {
        reply->set_value(request_error(method, *close_reason_));
        return;
      }
      if (before_send) before_send();
      pending_.emplace(id, Pending{method, reply});
      send(std::move(text));
    });
    if (future.wait_for(timeout) != std::future_status::ready) {
      asio::post(io_, [this, id] { pending_.erase(id); });
      return Error(Errc::timeout, fmt::format("ovsdb {} on {}: no reply within {} ms", method,
                                              remote_text_, timeout.count()));
    }
    return future.get();
  }

  // Runs `work` on the I/O thread (monitor bookkeeping).
  void post(std::function<void()> work) { asio::post(io_, std::move(work)); }

  void add_monitor(const Json& monitor_id, UpdateCallback on_update) {
    monitors_[monitor_id.dump()] = std::move(on_update);
  }
  void remove_monitor(const Json& monitor_id) { monitors_.erase(monitor_id.dump()); }

  const std::string& remote_text() const { return remote_text_; }
  const Options& options() const { return options_; }

  std::optional<Error> connection_error() const {
    std::lock_guard lock(state_mutex_);
    return public_close_reason_;
  }
  std::uint64_t server_echoes_answered() const { return server_echoes_answered_; }

  // Open_vSwitch.cur_cfg as last seen by the cur_cfg monitor.
  struct CurCfgWatch {
    std::mutex start_mutex;  // serializes starting the monitor
    bool monitoring = false;
    int monitor_attempt = 0;
    std::mutex mutex;
    std::condition_variable changed;
    std::optional<std::int64_t> value;
  };
  CurCfgWatch& cur_cfg() { return cur_cfg_; }

  void note_cur_cfg(const Json& table_updates) {
    const auto table = table_updates.find("Open_vSwitch");
    if (table == table_updates.end() || !table->is_object()) return;
    for (const auto& [uuid, row_update] : table->items()) {
      const auto row = row_update.find("new");
      if (row == row_update.end() || !row->is_object()) continue;
      const auto cur_cfg = row->find("cur_cfg");
      if (cur_cfg == row->end() || !cur_cfg->is_number_integer()) continue;
      std::lock_guard lock(cur_cfg_.mutex);
      // The initial monitor reply may be read after a newer update; cur_cfg only grows.
      cur_cfg_.value = std::max(cur_cfg_.value.value_or(cur_cfg->get<std::int64_t>()),
                                cur_cfg->get<std::int64_t>());
    }
    cur_cfg_.changed.notify_all();
  }

 private:
  struct Pending {
    std::string method;
    std::shared_ptr<std::promise<Result<Json>>> reply;
  };

  Error request_error(const std::string& method, const Error& reason) const {
    return Error(reason.code(),
                 fmt::format("ovsdb {} on {}: {}", method, remote_text_, reason.message()));
  }

  void start_connect(std::shared_ptr<std::promise<Result<void>>> connected) {
    if (remote_.kind == OvsdbRemote::Kind::unix_socket) {
      const asio::local::stream_protocol::endpoint endpoint(remote_.path);
      socket_.async_connect(endpoint, [this, connected](const boost::system::error_code& ec) {
        finish_connect(ec, connected);
      });
      return;
    }
    resolver_.async_resolve(remote_.host, std::to_string(remote_.port),
                            [this, connected](const boost::system::error_code& ec,
                                              asio::ip::tcp::resolver::results_type results) {
                              if (ec) return finish_connect(ec, connected);
                              std::vector<asio::generic::stream_protocol::endpoint> endpoints;
                              for (const auto& entry : results)
                                endpoints.emplace_back(entry.endpoint());
                              connect_tcp(std::move(endpoints), 0, connected);
                            });
  }

  // Tries the resolved addresses in order; the last failure is the one reported.
  void connect_tcp(std::vector<asio::generic::stream_protocol::endpoint> endpoints,
                   std::size_t index, std::shared_ptr<std::promise<Result<void>>> connected) {
    if (closed_) return finish_connect(asio::error::operation_aborted, connected);
    boost::system::error_code ignored;
    socket_.close(ignored);
    const auto endpoint = endpoints[index];
    socket_.async_connect(endpoint, [this, endpoints = std::move(endpoints), index,
                                     connected](const boost::system::error_code& ec) mutable {
      if (ec && ec != asio::error::operation_aborted && index + 1 < endpoints.size()) {
        return connect_tcp(std::move(endpoints), index + 1, connected);
      }
      if (!ec) socket_.set_option(asio::ip::tcp::no_delay(true), ignored_);
      finish_connect(ec, connected);
    });
  }

  void finish_connect(const boost::system::error_code& ec,
                      const std::shared_ptr<std::promise<Result<void>>>& connected) {
    if (closed_) {
      connected->set_value(Error(Errc::cancelled, "connect to " + remote_text_ + ": abandoned"));
      return;
    }
    if (ec) {
      Error error = connect_error(remote_text_, ec);
      close(error, false);
      connected->set_value(std::move(error));
      return;
    }
    last_received_ = Clock::now();
    start_read();
    arm_probe();
    connected->set_value(ok());
  }

  void start_read() {
    socket_.async_read_some(
        asio::buffer(read_buffer_), [this](const boost::system::error_code& ec, std::size_t n) {
          if (closed_) return;
          if (ec) {
            close(Error(Errc::connection_lost, ec == asio::error::eof
                                                   ? "the server closed the connection"
                                                   : "read failed: " + ec.message()),
                  true);
            return;
          }
          last_received_ = Clock::now();
          probe_sent_.reset();
          messages_.clear();
          auto framed = splitter_.feed(std::string_view(read_buffer_.data(), n), messages_);
          for (const std::string& message : messages_) {
            handle_message(message);
            if (closed_) return;
          }
          if (!framed) {
            close(std::move(framed).error(), true);
            return;
          }
          start_read();
        });
  }

  void handle_message(const std::string& text) {
    Json message = Json::parse(text, nullptr, false);
    if (message.is_discarded() || !message.is_object()) {
      close(Error(Errc::protocol,
                  "received a message that is not a JSON object: " + text.substr(0, 200)),
            true);
      return;
    }
    const auto method = message.find("method");
    if (method != message.end() && method->is_string()) {
      handle_server_request(method->get<std::string>(), message);
      return;
    }
    const auto id = message.find("id");
    if (id == message.end()) {
      close(Error(Errc::protocol,
                  "received a message with neither \"method\" nor \"id\": " + text.substr(0, 200)),
            true);
      return;
    }
    // Replies to our liveness probes carry string ids; receiving them was the point.
    if (!id->is_number_unsigned()) return;
    const auto pending = pending_.find(id->get<std::uint64_t>());
    if (pending == pending_.end()) return;  // its caller gave up waiting
    Pending call = std::move(pending->second);
    pending_.erase(pending);
    const auto error = message.find("error");
    if (error != message.end() && !error->is_null()) {
      call.reply->set_value(rpc_error(call.method + " on " + remote_text_, *error));
      return;
    }
    const auto result = message.find("result");
    call.reply->set_value(result != message.end() ? std::move(*result) : Json());
  }

  void handle_server_request(const std::string& method, const Json& message) {
    const auto id = message.find("id");
    const bool wants_reply = id != message.end() && !id->is_null();
    const auto params = message.find("params");
    if (method == "echo") {
      if (!wants_reply) return;
      send(dump({{"id", *id},
                 {"result", params != message.end() ? *params : Json::array()},
                 {"error", nullptr}}));
      ++server_echoes_answered_;
      return;
    }
    if (method == "update") {
      if (params == message.end() || !params->is_array() || params->size() != 2) {
        close(Error(Errc::protocol, "received an \"update\" without [monitor-id, table-updates]"),
              true);
        return;
      }
      const auto monitor = monitors_.find((*params)[0].dump());
      if (monitor != monitors_.end() && monitor->second) monitor->second((*params)[1]);
      return;
    }
    if (wants_reply) {
      send(dump({{"id", *id}, {"result", nullptr}, {"error", "unknown method"}}));
    }
    // Other notifications ("locked", "stolen") concern features this client does not use.
  }

  void send(std::string text) {
    if (closed_) return;
    write_queue_.push_back(std::move(text));
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(write_queue_.front()),
                      [this](const boost::system::error_code& ec, std::size_t) {
                        if (closed_) return;
                        if (ec) {
                          close(Error(Errc::connection_lost, "write failed: " + ec.message()),
                                true);
                          return;
                        }
                        write_queue_.pop_front();
                        if (write_queue_.empty()) {
                          writing_ = false;
                        } else {
                          write_next();
                        }
                      });
  }

  void arm_probe() {
    const milliseconds interval = options_.inactivity_probe;
    if (interval.count() <= 0 || closed_) return;
    probe_timer_.expires_after(std::max(interval / 4, milliseconds(10)));
    probe_timer_.async_wait([this, interval](const boost::system::error_code& ec) {
      if (ec || closed_) return;
      const auto now = Clock::now();
      if (probe_sent_) {
        if (now - *probe_sent_ >= interval) {
          close(Error(Errc::connection_lost,
                      fmt::format("no reply to our echo within {} ms", interval.count())),
                true);
          return;
        }
      } else if (now - last_received_ >= interval) {
        probe_sent_ = now;
        send(dump({{"method", "echo"},
                   {"params", Json::array({"ferry-probe"})},
                   {"id", "ferry-probe-" + std::to_string(++probes_sent_)}}));
      }
      arm_probe();
    });
  }

  // Ends the connection: every waiting request gets `reason`, later requests fail at once.
  void close(Error reason, bool notify) {
    if (closed_) return;
    closed_ = true;
    close_reason_ = reason;
    {
      std::lock_guard lock(state_mutex_);
      public_close_reason_ = Error(reason.code(), remote_text_ + ": " + reason.message());
    }
    boost::system::error_code ignored;
    socket_.close(ignored);
    resolver_.cancel();
    probe_timer_.cancel();
    for (auto& [id, call] : pending_) call.reply->set_value(request_error(call.method, reason));
    pending_.clear();
    monitors_.clear();
    write_queue_.clear();
    {
      // Taken so a waiter between its check and its wait cannot miss the notification.
      std::lock_guard lock(cur_cfg_.mutex);
    }
    cur_cfg_.changed.notify_all();
    if (notify && options_.on_disconnect) options_.on_disconnect(*public_close_reason_);
  }

  const OvsdbRemote remote_;
  const std::string remote_text_;
  const Options options_;

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::generic::stream_protocol::socket socket_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer probe_timer_;
  std::thread thread_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::uint64_t> server_echoes_answered_{0};

  // I/O thread only.
  bool closed_ = false;
  std::optional<Error> close_reason_;
  std::array<char, 65536> read_buffer_{};
  JsonStreamSplitter splitter_;
  std::vector<std::string> messages_;
  std::deque<std::string> write_queue_;
  bool writing_ = false;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::unordered_map<std::string, UpdateCallback> monitors_;
  Clock::time_point last_received_{};
  std::optional<Clock::time_point> probe_sent_;
  std::uint64_t probes_sent_ = 0;
  boost::system::error_code ignored_;

  mutable std::mutex state_mutex_;
  std::optional<Error> public_close_reason_;

  CurCfgWatch cur_cfg_;
};

Result<std::unique_ptr<OvsdbClient>> OvsdbClient::connect(std::string_view remote,
                                                          Options options) {
  auto parsed = parse_ovsdb_remote(remote);
  if (!parsed) return std::move(parsed).error();
  auto connection = std::make_unique<Connection>(std::move(parsed).value(), std::move(options));
  if (auto opened = connection->open(); !opened) return std::move(opened).error();
  return std::unique_ptr<OvsdbClient>(new OvsdbClient(std::move(connection)));
}

OvsdbClient::OvsdbClient(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}

OvsdbClient::~OvsdbClient() = default;

const std::string& OvsdbClient::remote() const {
  return connection_->remote_text();
}

bool OvsdbClient::connected() const {
  return !connection_->connection_error().has_value();
}

std::optional<Error> OvsdbClient::connection_error() const {
  return connection_->connection_error();
}

std::uint64_t OvsdbClient::server_echoes_answered() const {
  return connection_->server_echoes_answered();
}

Result<Json> OvsdbClient::call(std::string_view method, Json params) {
  return call(method, std::move(params), connection_->options().request_timeout);
}

Result<Json> OvsdbClient::call(std::string_view method, Json params, milliseconds timeout) {
  return connection_->request(method, std::move(params), timeout);
}

Result<std::vector<std::string>> OvsdbClient::list_dbs() {
  auto result = call("list_dbs", Json::array());
  if (!result) return std::move(result).error();
  std::vector<std::string> names;
  if (!result->is_array()) {
    return Error(Errc::protocol, "ovsdb list_dbs on " + remote() +
                                     ": expected an array of names, got " + result->dump());
  }
  for (const Json& name : *result) {
    if (!name.is_string()) {
      return Error(Errc::protocol, "ovsdb list_dbs on " + remote() + ": database name " +
                                       name.dump() + " is not a string");
    }
    names.push_back(name.get<std::string>());
  }
  return names;
}

Result<Json> OvsdbClient::get_schema(std::string_view db) {
  return call("get_schema", Json::array({db}));
}

Result<Json> OvsdbClient::transact(std::string_view db, Json operations,
                                   std::optional<TransactFailure>* failure) {
  if (failure) failure->reset();
  if (!operations.is_array()) {
    return Error(
        Errc::invalid_argument,
        fmt::format("transaction on {} at {}: operations must be a JSON array", db, remote()));
  }
  Json params = Json::array({db});
  for (const Json& operation : operations) params.push_back(operation);
  auto result = call("transact", std::move(params));
  if (!result) return std::move(result).error();
  const std::string where = fmt::format("{} at {}", db, remote());
  auto found = find_transact_failure(operations, *result);
  if (!found) return std::move(found).error().within("transaction on " + where);
  if (found->has_value()) {
    Error error = transact_error(where, **found);
    if (failure) *failure = std::move(*found);
    return error;
  }
  return result;
}

Result<Json> OvsdbClient::monitor(std::string_view db, const Json& monitor_id, Json requests,
                                  UpdateCallback on_update) {
  Connection* connection = connection_.get();
  auto result =
      connection_->request("monitor", Json::array({db, monitor_id, std::move(requests)}),
                           connection_->options().request_timeout,
                           [connection, monitor_id, on_update = std::move(on_update)]() mutable {
                             connection->add_monitor(monitor_id, std::move(on_update));
                           });
  if (!result) {
    connection->post([connection, monitor_id] { connection->remove_monitor(monitor_id); });
    return std::move(result).error();
  }
  return result;
}

Result<void> OvsdbClient::monitor_cancel(const Json& monitor_id) {
  Connection* connection = connection_.get();
  auto result = connection_->request(
      "monitor_cancel", Json::array({monitor_id}), connection_->options().request_timeout,
      [connection, monitor_id] { connection->remove_monitor(monitor_id); });
  if (!result) return std::move(result).error();
  return ok();
}

Result<void> OvsdbClient::echo() {
  static std::atomic<std::uint64_t> counter{0};
  const Json params = Json::array({"ferry-echo-" + std::to_string(++counter)});
  auto result = call("echo", params);
  if (!result) return std::move(result).error();
  if (*result != params) {
    return Error(Errc::protocol, "ovsdb echo on " + remote() + ": sent " + params.dump() +
                                     ", got back " + result->dump());
  }
  return ok();
}

Result<void> OvsdbClient::ensure_cur_cfg_monitor() {
  auto& watch = connection_->cur_cfg();
  std::lock_guard start(watch.start_mutex);
  if (watch.monitoring) return ok();
  Connection* connection = connection_.get();
  // A fresh id per attempt: a timed-out attempt may still have registered its id on the server.
  const Json monitor_id = "ferry-cur-cfg-" + std::to_string(++watch.monitor_attempt);
  auto initial = monitor("Open_vSwitch", monitor_id,
                         {{"Open_vSwitch", {{"columns", Json::array({"cur_cfg"})}}}},
                         [connection](const Json& updates) { connection->note_cur_cfg(updates); });
  if (!initial) return std::move(initial).error();
  connection->note_cur_cfg(*initial);
  watch.monitoring = true;
  return ok();
}

Result<void> OvsdbClient::wait_for_cur_cfg(std::int64_t next_cfg, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (auto started = ensure_cur_cfg_monitor(); !started) {
    return std::move(started).error().within(
        fmt::format("wait for ovs-vswitchd to apply configuration {}", next_cfg));
  }
  auto& watch = connection_->cur_cfg();
  std::unique_lock lock(watch.mutex);
  watch.changed.wait_until(
      lock, deadline, [&] { return (watch.value && *watch.value >= next_cfg) || !connected(); });
  if (watch.value && *watch.value >= next_cfg) return ok();
  if (auto lost = connection_error()) {
    return Error(lost->code(), fmt::format("wait for ovs-vswitchd to apply configuration {}: {}",
                                           next_cfg, lost->message()));
  }
  return Error(Errc::timeout,
               fmt::format("ovs-vswitchd did not apply configuration {} within {} ms "
                           "(Open_vSwitch.cur_cfg is {}): is ovs-vswitchd running and connected "
                           "to {}?",
                           next_cfg, timeout.count(),
                           watch.value ? std::to_string(*watch.value) : "unknown", remote()));
}

}  // namespace ferry::ovs
