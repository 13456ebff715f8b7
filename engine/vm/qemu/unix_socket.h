// Connecting to the unix sockets QEMU listens on (QMP, serial console).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"

namespace ferry {

// One attempt: a blocking, close-on-exec stream socket connected to `path`.
Result<UniqueFd> connect_unix_socket(const std::string& path);

// QEMU creates its sockets while it starts: retries until `path` accepts, `timeout` passes, or
// `peer_alive` (when given) says the process is gone. `what` names the socket in errors.
Result<UniqueFd> connect_unix_socket_with_retry(const std::string& path, std::string_view what,
                                                std::chrono::milliseconds timeout,
                                                const std::function<bool()>& peer_alive);

}  // namespace ferry
