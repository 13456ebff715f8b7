// A ferry-sim-guest process with a NIC, started inside a network namespace for a test, and its
// control socket.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::ovs {

class SimGuestProcess {
 public:
  struct Options {
    std::string binary;  // ferry-sim-guest
    std::string netns;   // where its tap lives
    std::string dir;     // its control socket and log go here
    std::string name;    // distinguishes files of several guests
    std::string tap, mac, ip;
  };
  // Starts the guest and waits until its control socket answers.
  static Result<std::unique_ptr<SimGuestProcess>> start(const Options& options);
  // "quit" over the control socket, then SIGKILL by PID if it has not exited within 2 s; removes
  // its RAM file.
  ~SimGuestProcess();

  // One control command, e.g. {"cmd": "pause"}; the guest's reply.
  Result<nlohmann::json> control(const nlohmann::json& request);
  pid_t pid() const { return pid_; }
  std::string log() const;

 private:
  SimGuestProcess() = default;
  pid_t pid_ = -1;
  std::string control_path_;
  std::string ram_path_;
  std::string log_path_;
};

}  // namespace ferry::ovs
