// Which VM goes where when a host is emptied, and what is left when it cannot be. Pure: the caller
// starts the migrations and reports how they ended.
//
// Placement: the largest waiting VM first (large guests are the hard ones to fit), on the
// destination with the most free memory left after the moves already running or done there, never
// on one that refused this VM before. A destination whose free memory is unknown (its query
// failed) is tried after those known to have room. At most `concurrency` moves run at once.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry {

struct EvacueeVm {
  std::string name;
  uint64_t memory = 0;  // bytes of guest RAM
};

struct EvacuationTarget {
  std::string endpoint;                 // "HOST:PORT" of its agent
  std::optional<uint64_t> free_memory;  // as the destination reported it; nullopt: unknown
  std::string note;                     // why it is unknown
};

struct Placement {
  std::string vm;
  std::string endpoint;
};

enum class MoveOutcome {
  moved,    // the VM runs on the destination now
  refused,  // the destination refused or could not be reached before the VM was touched: try
            // another one
  failed,   // the move failed; the VM stays here (running) and is not tried again
};

class EvacuationPlan {
 public:
  // Memory a destination must keep beyond the guest's own (page tables, QEMU, the host itself).
  static constexpr uint64_t kHeadroom = uint64_t{256} << 20;

  EvacuationPlan(std::vector<EvacueeVm> vms, std::vector<EvacuationTarget> targets,
                 unsigned concurrency);

  // The next move to start now, or nullopt when `concurrency` moves run or no waiting VM fits
  // anywhere it was not refused. Marks the VM running and reserves its memory at the destination.
  std::optional<Placement> next();
  // How the move of `vm` ended; `reason` for refused and failed.
  void finished(const std::string& vm, MoveOutcome outcome, const std::string& reason);
  // Nothing more starts: every waiting VM stays here, with `reason`.
  void give_up_waiting(const std::string& reason);

  unsigned running() const;
  // Nothing waits that could still be placed, and nothing runs.
  bool done() const;
  bool host_empty() const;

  // Per VM: {"vm", "state": waiting|running|moved|failed|stuck, "destination", "reason",
  // "refused-by": {...}}.
  nlohmann::json to_json() const;

 private:
  struct Entry {
    EvacueeVm vm;
    enum class State { waiting, running, moved, failed } state = State::waiting;
    std::string destination;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> refusals;  // endpoint, why
  };
  struct Target {
    EvacuationTarget info;
    uint64_t committed = 0;  // memory of the moves running to it or done
  };
  std::optional<size_t> target_for(const Entry& entry) const;
  std::string why_stuck(const Entry& entry) const;

  std::vector<Entry> entries_;
  std::vector<Target> targets_;
  unsigned concurrency_;
};

}  // namespace ferry
