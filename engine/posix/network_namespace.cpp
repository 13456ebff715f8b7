#include "engine/posix/network_namespace.h"

#include <fcntl.h>
#include <sched.h>

#include <optional>
#include <thread>

#include "engine/posix/unique_fd.h"

namespace ferry {

Result<void> enter_network_namespace(const std::string& netns) {
  if (netns.empty()) return ok();
  if (netns.find('/') != std::string::npos || netns == "." || netns == "..") {
    return Error(Errc::invalid_argument,
                 "network namespace name \"" + netns + "\" must not contain '/'");
  }
  const std::string path = "/run/netns/" + netns;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    Error error = errno_error("open network namespace " + path);
    if (errno == ENOENT) return Error(Errc::not_found, error.message());
    return error;
  }
  if (::setns(fd.get(), CLONE_NEWNET) != 0) return errno_error("join network namespace " + path);
  return ok();
}

Result<void> run_in_network_namespace(const std::string& netns,
                                      const std::function<Result<void>()>& body) {
  if (netns.empty()) return body();
  std::optional<Result<void>> result;
  // setns() changes only the calling thread, so a thread of its own keeps the caller untouched.
  std::thread worker([&] {
    auto entered = enter_network_namespace(netns);
    result.emplace(entered ? body() : std::move(entered));
  });
  worker.join();
  return std::move(*result);
}

}  // namespace ferry
