// Test support: talks to an HTTP server with plain POSIX sockets, byte for byte, so tests can send
// what ApiClient never would (bad JSON, malformed requests, half-finished requests).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/posix/unique_fd.h"

namespace ferry::test {

UniqueFd connect_unix(const std::string& socket_path);  // invalid fd on failure
UniqueFd connect_tcp_loopback(uint16_t port);

bool write_all(int fd, std::string_view bytes);

// Reads until the peer closes, `timeout` passes, or `stop_after` (when not empty) has been seen.
std::string read_until(int fd, std::chrono::milliseconds timeout, std::string_view stop_after = {});

// Connects, writes `request` and returns everything the server sends until it closes.
std::string send_and_read(const std::string& socket_path, std::string_view request,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The status code of the first response in `raw` ("HTTP/1.1 404 Not Found" -> 404), -1 if none.
int status_of(std::string_view raw);
// Everything after the first blank line (the first response's body, chunked or not, undecoded).
std::string body_of(std::string_view raw);
// True when the header block of `raw` has this header line (case-insensitive name, exact value).
bool has_header(std::string_view raw, std::string_view name, std::string_view value);

}  // namespace ferry::test
