// A client for QEMU's machine protocol (QMP) on a unix socket.
//
// Design: the client owns an io_context running on its own thread. One coroutine reads replies and
// events line by line, another writes queued commands (so a command that carries a descriptor with
// SCM_RIGHTS is sent whole, never interleaved with another). Callers use a synchronous facade
// (the Vm interface is synchronous): execute() queues the command and waits on a condition
// variable for its reply with a deadline. This keeps reading continuous, which QMP needs: events
// arrive at any time, also while no command is outstanding, and must not be lost or block QEMU.
// A blocking socket with poll-based deadlines would need the same reader thread anyway.
//
// Every call is thread-safe. Errors name the command and the socket:
//   Errc::rejected         QEMU answered with an error ("QMP command 'migrate' failed:
//   GenericError: ...") Errc::timeout          no reply before the deadline Errc::connection_lost
//   QEMU closed the socket (e.g. it exited); all waiting commands fail with it
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

struct QmpEvent {
  std::string name;          // "STOP", "RESUME", "MIGRATION", ...
  nlohmann::json data;       // the event's "data" member (null when absent)
  nlohmann::json timestamp;  // QEMU's {"seconds", "microseconds"}
};

class QmpClient {
 public:
  struct Options {
    // connect() retries until the socket exists and accepts, then waits for the greeting.
    std::chrono::milliseconds connect_timeout{10000};
    // Default deadline of execute() when the call gives none.
    std::chrono::milliseconds command_timeout{10000};
    // While connecting: returns false once the QEMU process is gone, to stop retrying early.
    std::function<bool()> peer_alive;
    // Events kept until taken; the oldest are dropped beyond this.
    std::size_t max_events = 1024;
  };

  // Connects, reads the greeting and negotiates capabilities (qmp_capabilities).
  static Result<std::unique_ptr<QmpClient>> connect(const std::string& socket_path,
                                                    Options options);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  const std::string& socket_path() const;
  // The greeting's "QMP" object (version, capabilities).
  const nlohmann::json& greeting() const;

  // Runs `command` and returns its "return" value. A zero timeout means Options::command_timeout.
  Result<nlohmann::json> execute(std::string_view command,
                                 const nlohmann::json& arguments = nlohmann::json::object(),
                                 std::chrono::milliseconds timeout = {});
  // Same, sending `fd` with the command (SCM_RIGHTS), as `getfd` and `add-fd` need. The descriptor
  // is duplicated: the caller keeps and closes its own.
  Result<nlohmann::json> execute_with_fd(std::string_view command, const nlohmann::json& arguments,
                                         int fd, std::chrono::milliseconds timeout = {});

  // Removes and returns the oldest queued event called `name`, waiting for one up to `timeout`.
  Result<QmpEvent> wait_event(std::string_view name, std::chrono::milliseconds timeout);
  // Removes and returns every queued event.
  std::vector<QmpEvent> take_events();

  // False once the connection is lost or closed.
  bool connected() const;
  // Closes the socket and stops the client's thread; pending commands fail. Idempotent.
  void close();

 private:
  struct Impl;
  explicit QmpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
