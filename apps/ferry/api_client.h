// The ferry command line's side of the agent API: HTTP/1.1 + JSON over the agent's unix socket,
// synchronous, one connection per call.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

struct ApiReply {
  int status;
  nlohmann::json body;  // null when the agent sent no body
};

class ApiClient {
 public:
  explicit ApiClient(std::string socket_path,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Any HTTP status is a reply (check status); errors are for no agent, a timeout, a broken
  // connection or a body that is not JSON. `path` may carry a query string. A null body sends none.
  Result<ApiReply> call(const std::string& method, const std::string& path,
                        const nlohmann::json& body = nullptr);

  // Reads a streaming endpoint, calling on_line for each JSON line until the server closes or
  // on_line returns false. The timeout covers connecting and the response header only: a stream
  // may stay quiet for long. A non-2xx answer becomes the Error its JSON body describes.
  Result<void> stream(const std::string& path,
                      const std::function<bool(const nlohmann::json&)>& on_line);

  const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ferry
