// The engine's side of the simulated guest's control socket: one JSON request line, one reply line,
// each exchange within a deadline. Not thread-safe (SimVm serializes its use).
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"
#include "engine/vm/sim/line_buffer.h"

namespace ferry::sim {

class ControlClient {
 public:
  // One connection attempt; Errc::unreachable / not_found while the guest is not listening yet.
  static Result<ControlClient> connect(const std::string& socket_path);

  // Sends `request` and returns the reply object. A reply {"ok":false,"error":...} is returned as
  // is: the caller decides. On timeout or a broken connection the connection is closed, so a late
  // reply cannot be taken for the answer to a later request.
  Result<nlohmann::json> request(const nlohmann::json& request, std::chrono::milliseconds timeout);

  bool connected() const { return fd_.valid(); }
  const std::string& path() const { return path_; }

 private:
  ControlClient() = default;
  std::string path_;
  UniqueFd fd_;
  LineBuffer input_;
};

}  // namespace ferry::sim
