// The simulated guest process's core: its RAM, its writer thread and its control commands.
// Commands (one JSON object each; see engine/vm/sim/README.md for the replies):
//   status, pause, resume, verify, set-rate {mib}, device-state, quit.
// With a NIC, "status" also reports it under "nic" (see TapEndpoint::status), and pause/resume
// stop and start its answers together with the memory writer.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/vm/sim/control_server.h"
#include "engine/vm/sim/guest_ram.h"
#include "engine/vm/sim/guest_state.h"
#include "engine/vm/sim/page_writer.h"
#include "engine/vm/sim/tap_endpoint.h"

namespace ferry::sim {

// The guest's NIC: a queue of an existing tap, answering ARP, ping and UDP echo while running.
struct NicOptions {
  std::string tap;
  NicAddress address;
};

struct GuestOptions {
  std::string ram_path;
  GuestState state;     // writes > 0 only when resuming
  bool resume = false;  // the RAM file holds migrated contents: map it, do not refill, start paused
  std::optional<NicOptions> nic;
};

class SimGuest {
 public:
  // Fresh start: creates and fills the RAM file, then writes at the state's rate.
  // Resume: maps the existing RAM file and waits, paused, for "resume".
  static Result<std::unique_ptr<SimGuest>> start(const GuestOptions& options);

  ControlReply handle(const nlohmann::json& request);

  double fill_seconds() const { return fill_seconds_; }

 private:
  SimGuest(GuestRam ram, GuestState state, double fill_seconds, std::unique_ptr<TapEndpoint> nic);
  void run();
  void pause();
  nlohmann::json status() const;
  nlohmann::json device_state() const;
  nlohmann::json verify();

  GuestRam ram_;
  GuestState initial_;  // everything but writes and rate is fixed for the guest's life
  double fill_seconds_;
  std::unique_ptr<PageWriter> writer_;
  std::unique_ptr<TapEndpoint> nic_;  // null without --tap
};

}  // namespace ferry::sim
