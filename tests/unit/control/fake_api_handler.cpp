#include "tests/unit/control/fake_api_handler.h"

#include <memory>
#include <stdexcept>
#include <thread>

#include "engine/control/http/api_error.h"

namespace ferry::test {

ApiResponse FakeApiHandler::handle(const ApiRequest& request) {
  ++handle_calls;
  if (request.path == "/v1/vms" && request.method == "GET")
    return {200, {{"vms", {"web-1", "db-1"}}}};
  if (request.path == "/v1/echo")
    return {200,
            {{"method", request.method},
             {"path", request.path},
             {"query", request.query},
             {"body", request.body}}};
  if (request.path == "/v1/throw") throw std::runtime_error("boom");
  if (request.path == "/v1/slow") {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return {200, nlohmann::json::object()};
  }
  if (request.path == "/v1/bad-status") return {42, nlohmann::json::object()};
  return {404, api_error_body(Errc::not_found, "no endpoint " + request.path)};
}

std::optional<EventStream> FakeApiHandler::open_stream(const ApiRequest& request) {
  if (request.method != "GET") return std::nullopt;
  auto next = std::make_shared<int>(0);
  if (request.path == "/v1/events")
    return EventStream{[next] {
      int seq = (*next)++;
      return std::make_pair(std::vector<nlohmann::json>{{{"seq", seq}}}, seq == 4);
    }};
  if (request.path == "/v1/forever")
    return EventStream{[this, next] {
      ++forever_polls;
      return std::make_pair(std::vector<nlohmann::json>{{{"seq", (*next)++}}}, false);
    }};
  if (request.path == "/v1/quiet")
    return EventStream{[this] {
      ++quiet_polls;
      return std::make_pair(std::vector<nlohmann::json>{}, false);
    }};
  if (request.path == "/v1/stream-throws")
    return EventStream{[next]() -> std::pair<std::vector<nlohmann::json>, bool> {
      if ((*next)++ > 0) throw std::runtime_error("event source vanished");
      return {{{{"seq", 0}}}, false};
    }};
  return std::nullopt;
}

}  // namespace ferry::test
