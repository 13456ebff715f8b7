// The boundary between the agent's HTTP plumbing (HttpApiServer) and its routes: a request as the
// handler sees it, the response it returns, and the streaming endpoints it may open.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry {

struct ApiRequest {
  std::string method;                        // "GET", "POST", ... as sent
  std::string path;                          // the target before '?', not percent-decoded
  std::map<std::string, std::string> query;  // percent-decoded; a repeated key keeps its last value
  nlohmann::json body;                       // null when the request has no body
};

struct ApiResponse {
  int status = 200;
  nlohmann::json body;
  // A body that is not JSON (Prometheus metrics): sent as is when content_type is set.
  std::string text;
  std::string content_type;
};

// A streaming endpoint: the server calls poll() about every 200 ms (and once at once) and writes
// each returned JSON value as one line (application/x-ndjson); when poll() says finished, it writes
// that batch and closes. poll() runs on an io thread and must not block for long.
struct EventStream {
  std::function<std::pair<std::vector<nlohmann::json>, bool /*finished*/>()> poll;
};

class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  // Runs on an io thread; may block for up to a few hundred ms. Called concurrently when the
  // io_context runs on several threads. An exception becomes a 500 response.
  virtual ApiResponse handle(const ApiRequest& request) = 0;
  // Returns a stream when the request names a streaming endpoint, nullopt otherwise (then
  // handle() is used).
  virtual std::optional<EventStream> open_stream(const ApiRequest& request) = 0;
};

}  // namespace ferry
