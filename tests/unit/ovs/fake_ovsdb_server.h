// A scripted OVSDB peer for client tests: listens on a unix socket or loopback TCP, accepts one
// client, and lets the test read the client's messages and write any bytes back.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "drivers/net/ovs/json_stream_splitter.h"
#include "engine/posix/unique_fd.h"

namespace ferry::ovs {

class FakeOvsdbServer {
 public:
  // A unix socket in a fresh directory under /tmp, both removed by the destructor.
  static std::unique_ptr<FakeOvsdbServer> listen_unix();
  // 127.0.0.1 on a port the kernel picks.
  static std::unique_ptr<FakeOvsdbServer> listen_tcp();
  ~FakeOvsdbServer();

  std::string remote() const { return remote_; }
  bool accept_client(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The next complete JSON message the client sent, or nullopt on timeout or when it closed.
  std::optional<nlohmann::json> read_message(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the client closed its end within `timeout`.
  bool client_closed(std::chrono::milliseconds timeout);
  void send(std::string_view bytes);
  void send_byte_by_byte(std::string_view bytes);
  void close_client() { client_.reset(); }

 private:
  FakeOvsdbServer() = default;

  UniqueFd listener_;
  UniqueFd client_;
  std::string dir_;
  std::string remote_;
  JsonStreamSplitter splitter_;
  std::deque<std::string> received_;
};

}  // namespace ferry::ovs
