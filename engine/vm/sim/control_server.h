// The simulated guest's control socket: a unix stream socket it listens on; each request is one
// JSON object per line and gets one reply line. Runs on the guest's main thread until a handler
// asks to quit or SIGTERM/SIGINT arrives.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"

namespace ferry::sim {

struct ControlReply {
  nlohmann::json reply;
  bool quit = false;  // stop serving after sending the reply
};

class ControlServer {
 public:
  using Handler = std::function<ControlReply(const nlohmann::json& request)>;

  // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (call it before starting other
  // threads, which inherit the mask) so that they arrive through a signalfd.
  static Result<UniqueFd> block_termination_signals();
  // Binds and listens on `path` (a stale socket file is replaced).
  static Result<ControlServer> listen(const std::string& path, UniqueFd signal_fd);

  ControlServer(ControlServer&& other) noexcept;
  ControlServer& operator=(ControlServer&&) = delete;
  ~ControlServer();

  // Serves until a handler returns quit or a termination signal arrives; removes the socket file.
  Result<void> serve(const Handler& handler);

 private:
  ControlServer() = default;
  std::string path_;
  UniqueFd listener_;
  UniqueFd signal_fd_;
};

}  // namespace ferry::sim
