// Serves one accepted connection: reads requests, calls the ApiHandler, writes JSON responses or an
// ndjson event stream, until the client leaves, the idle deadline passes or the server stops.
// Internal to engine/control/http; the coroutine must run on `strand`.
#pragma once

#include <memory>

#include "engine/control/http/server_state.h"
#include "engine/transport/asio.h"

namespace ferry::http_internal {

using UnixSocket = asio::local::stream_protocol::socket;

awaitable<void> serve_connection(std::shared_ptr<ServerState> state,
                                 std::shared_ptr<UnixSocket> socket, Strand strand);
awaitable<void> serve_connection(std::shared_ptr<ServerState> state,
                                 std::shared_ptr<tcp::socket> socket, Strand strand);

}  // namespace ferry::http_internal
