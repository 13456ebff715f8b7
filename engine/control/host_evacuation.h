// One evacuation of this host: every VM here moves to one of the given destinations, at most N at
// once, sharing a bandwidth budget, placed by EvacuationPlan (engine/evacuation) on what the
// destinations report (a host QUERY) and on how each move ends. A VM whose move fails stays here,
// running; one a destination refuses is tried on the next.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/evacuation/evacuation_plan.h"
#include "engine/transport/asio.h"

namespace ferry {

struct EvacuationRequest {
  std::vector<std::string> destinations;  // "HOST:PORT" of their agents
  unsigned concurrency = 2;
  uint64_t max_bandwidth = 0;  // bytes/s shared by the running moves; 0 = unlimited
  uint32_t streams = 2;
  nlohmann::json settings = nlohmann::json::object();  // pre-copy settings of every move

  // From the API body {"to": [...], "concurrency", "max-bandwidth", "streams", "settings"}.
  static Result<EvacuationRequest> from_json(const nlohmann::json& body);
};

class HostEvacuation : public std::enable_shared_from_this<HostEvacuation> {
 public:
  // How the evacuation reaches the rest of the agent (and is unit-testable without one).
  struct Hooks {
    std::function<std::vector<EvacueeVm>()> vms;  // the VMs here, not migrating
    // {"memory-available": bytes, ...} of a destination, or why it could not be asked.
    std::function<awaitable<Result<nlohmann::json>>(std::string endpoint)> query_host;
    // Starts a move; returns the migration id.
    std::function<Result<std::string>(const std::string& vm, const std::string& to,
                                      uint64_t max_bandwidth)>
        start_migration;
    // The migration's final description once it ended, nullopt while it runs.
    std::function<std::optional<nlohmann::json>(const std::string& id)> migration_result;
    std::function<void(const std::string& id, uint64_t max_bandwidth)> set_bandwidth;
    std::function<void(const std::string& id)> cancel_migration;
  };

  HostEvacuation(std::string id, std::string host, EvacuationRequest request, Hooks hooks);

  const std::string& id() const { return id_; }
  awaitable<void> run();
  // Starts nothing more and cancels the moves under way (their VMs stay here, running).
  void cancel();
  bool finished() const;
  // {"id", "host", "state": running|completed|incomplete, "destinations": [...], "vms": [...],
  //  "remaining": [names], "moved", "concurrency", "max-bandwidth"}; state "cancelled" after
  //  cancel().
  nlohmann::json describe() const;

 private:
  struct Move {
    std::string vm;
    std::string destination;
    std::string migration;
  };
  void share_bandwidth();

  const std::string id_;
  const std::string host_;
  const EvacuationRequest request_;
  Hooks hooks_;
  mutable std::mutex mutex_;
  std::optional<EvacuationPlan> plan_;
  std::vector<Move> running_;
  nlohmann::json results_ = nlohmann::json::object();  // vm -> figures of its move
  nlohmann::json targets_ = nlohmann::json::array();
  bool finished_ = false;
  bool cancelled_ = false;
  bool cancel_sent_ = false;
};

}  // namespace ferry
