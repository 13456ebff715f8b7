// The destination side of one migration:
//   prepare (admit, allocate RAM files, ACCEPT or REJECT) -> receive rounds on N data streams ->
//   SWITCHOVER: load device state, start the guest paused, resume it, report RESUMED.
// Anything that fails before the guest resumes discards what was received: the RAM files are
// removed, a started guest is stopped, and the source is told why (ABORT), so it keeps its guest.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/migration/offer.h"
#include "engine/migration/phase.h"
#include "engine/resources/resource_set.h"
#include "engine/transport/record_connection.h"
#include "engine/vm/vm.h"

namespace ferry {

// RAM files of migrations still arriving start with this; no guest uses them yet.
inline constexpr const char* kIncomingRamPrefix = "ferry-in-";

struct DestinationContext {
  std::string host;     // this host's name, for reports
  std::string ram_dir;  // where RAM files are created (normally /dev/shm)
  std::chrono::milliseconds io_timeout{std::chrono::seconds(10)};
  // Refuses an OFFER this host cannot take (name taken, kind unknown, not enough memory).
  std::function<Result<void>(const Offer&)> admit;
  // Maps the OFFER's resources to this host's access (ResourceSet::prepare with the source's
  // facts) before any memory is allocated; unset: a VM with resources is refused.
  std::function<Result<std::shared_ptr<ResourceSet>>(const Offer&)> prepare_resources;
  // Prepares the guest that will run on the RAM files being received (before any page arrives),
  // using the resources' attachments ({"<id>": attach}).
  std::function<Result<std::unique_ptr<IncomingVm>>(const Offer&, const std::vector<RamRegionInfo>&,
                                                    const nlohmann::json& attachments)>
      prepare_incoming;
  // Takes over a guest that now runs here, with its resources (active).
  std::function<void(std::shared_ptr<Vm>, std::shared_ptr<ResourceSet>)> adopt;
  // What a QUERY for the empty session answers: this host's room for guests
  // ({"host", "memory-available", "vms"}), for a source placing VMs (evacuation).
  std::function<nlohmann::json()> host_report;
};

class DestinationJob : public std::enable_shared_from_this<DestinationJob> {
 public:
  enum class State { in_progress, resumed, aborted };

  DestinationJob(Offer offer, std::shared_ptr<RecordConnection> control,
                 DestinationContext context);
  ~DestinationJob();

  // Runs on control connection's executor.
  awaitable<void> run();
  // A data connection that named this job's session; any thread.
  void attach_stream(uint32_t index, uint32_t count, std::shared_ptr<RecordConnection> connection);

  State state() const { return state_; }
  std::string_view state_name() const;
  const Offer& offer() const { return offer_; }
  nlohmann::json describe() const;

 private:
  struct Impl;
  awaitable<Result<void>> run_phases();
  void fail_streams(const Error& error);
  void discard();

  Offer offer_;
  DestinationContext context_;
  std::atomic<State> state_{State::in_progress};
  std::atomic<Phase> phase_{Phase::prepare};
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
