// The engine's half of the userfaultfd handoff. The guest process is started with
//   LD_PRELOAD=<build>/libferry_uffd_preload.so  FERRY_UFFD_SOCK=<path>
// and the preload library's constructor creates a userfaultfd inside the guest and sends it to
// <path> over a unix socket (SCM_RIGHTS), before the guest's main() runs.
#pragma once

#include <chrono>
#include <string>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"

namespace ferry {

inline constexpr const char* kUffdSocketEnv = "FERRY_UFFD_SOCK";

class UffdReceiver {
 public:
  // Binds and listens on `socket_path` (replacing a stale socket file).
  static Result<UffdReceiver> listen(const std::string& socket_path);
  UffdReceiver(UffdReceiver&&) noexcept = default;
  UffdReceiver& operator=(UffdReceiver&&) noexcept = default;
  ~UffdReceiver();

  // Waits for the preload library to connect and send its descriptor. Errc::timeout when the guest
  // does not connect in time (e.g. it was started without the preload library).
  Result<UniqueFd> accept_fd(std::chrono::milliseconds timeout);
  const std::string& path() const { return path_; }

 private:
  UffdReceiver() = default;
  UniqueFd listener_;
  std::string path_;
};

// Where the preload library lives: beside the running executable (build/ or the install prefix).
std::string default_preload_library_path();

}  // namespace ferry
