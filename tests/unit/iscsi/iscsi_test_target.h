// A tgtd for one test, started by scripts/fixtures/iscsi-target on a free loopback port with its
// own control number, LUNs backed by files in a temp dir; stopped (by PID) and removed by the
// destructor.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "engine/error/error.h"

namespace ferry::iscsi::test {

class IscsiTestTarget {
 public:
  // Why the target cannot run here (not root, tgt not installed), or nullopt.
  static std::optional<std::string> unavailable_reason();

  static Result<std::unique_ptr<IscsiTestTarget>> start();
  ~IscsiTestTarget();

  // A target `tid` named `iqn` open to every initiator, and a LUN backed by a `size` file.
  Result<void> add_target(int tid, const std::string& iqn);
  Result<void> add_lun(int tid, int lun, const std::string& size);

  const std::string& portal() const { return portal_; }  // "127.0.0.1:PORT"
  int control() const { return control_; }
  const std::string& dir() const { return dir_; }
  // tgtadm's view of the targets (I_T nexuses list the initiator names logged in).
  Result<std::string> show() const;
  // The tgtd PID from its pidfile.
  Result<pid_t> pid() const;

 private:
  IscsiTestTarget() = default;

  std::string dir_;
  std::string portal_;
  int control_ = 0;
  bool started_ = false;
};

// A loopback TCP port nothing listens on right now.
Result<int> free_loopback_port();

}  // namespace ferry::iscsi::test
