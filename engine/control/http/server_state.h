// What HttpApiServer shares with its accept loops and connections: the handler, the stop flag and
// a way to close every open listener and connection. Internal to engine/control/http.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/control/http/api_types.h"
#include "engine/transport/asio.h"

namespace ferry::http_internal {

using Strand = asio::strand<asio::io_context::executor_type>;

struct ServerState {
  ServerState(asio::io_context& io_context, ApiHandler& api_handler)
      : io(io_context), handler(api_handler) {}

  // Registers a function that closes a listener or connection (by posting to its strand); returns
  // nullopt once the server is stopped, and the caller closes at once instead.
  std::optional<uint64_t> track(std::function<void()> closer) {
    std::lock_guard lock(mutex);
    if (stopped) return std::nullopt;
    closers.emplace(next_id, std::move(closer));
    return next_id++;
  }
  void untrack(uint64_t id) {
    std::lock_guard lock(mutex);
    closers.erase(id);
  }
  std::chrono::milliseconds idle_timeout() const {
    return std::chrono::milliseconds(idle_timeout_ms.load());
  }

  asio::io_context& io;
  ApiHandler& handler;
  std::atomic<bool> stopped{false};
  std::atomic<int64_t> idle_timeout_ms{30'000};

  // A socket file this server created, removed by stop() only if it is still the same file.
  struct SocketFile {
    std::string path;
    dev_t device;
    ino_t inode;
  };

  std::mutex mutex;  // guards the members below
  uint64_t next_id = 0;
  std::map<uint64_t, std::function<void()>> closers;
  std::vector<SocketFile> socket_files;
  std::optional<uint16_t> tcp_port;
};

}  // namespace ferry::http_internal
