// Test support: an ApiHandler with a few fixed routes, counting how often it is called.
#pragma once

#include <atomic>
#include <optional>

#include "engine/control/http/api_types.h"

namespace ferry::test {

// Routes:
//   GET  /v1/vms            200 {"vms":["web-1","db-1"]}
//   *    /v1/echo           200 {"method","path","query","body"} of the request
//   *    /v1/missing        404 {"error":{"code":"not_found",...}}
//   *    /v1/throw          throws std::runtime_error("boom")
//   *    /v1/slow           sleeps 500 ms, then 200 {}
//   *    /v1/bad-status     status 42
// Streams (GET):
//   /v1/events              {"seq":0..4}, one per poll; finished with the fifth
//   /v1/forever             {"seq":n} on every poll, never finished
//   /v1/quiet               nothing on every poll, never finished
//   /v1/stream-throws       {"seq":0}, then poll() throws
class FakeApiHandler : public ApiHandler {
 public:
  ApiResponse handle(const ApiRequest& request) override;
  std::optional<EventStream> open_stream(const ApiRequest& request) override;

  std::atomic<int> handle_calls{0};
  std::atomic<int> forever_polls{0};
  std::atomic<int> quiet_polls{0};
};

}  // namespace ferry::test
