// The source side of one migration, as an explicit sequence of phases:
//   negotiate -> prepare -> precopy rounds -> stop-and-copy -> switchover -> commit
// Any failure before the destination reports RESUMED rolls back: the destination is told to abort,
// and the guest (resumed if it was paused) keeps running here. A lost connection after SWITCHOVER
// is settled by asking the destination (QUERY) what happened, never by guessing.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/migration/phase.h"
#include "engine/precopy/migration_stats.h"
#include "engine/precopy/precopy_settings.h"
#include "engine/resources/resource_set.h"
#include "engine/transport/asio.h"
#include "engine/vm/vm.h"

namespace ferry {

struct MigrationRequest {
  std::string destination;  // HOST:PORT of the destination agent
  PrecopySettings settings;
  uint32_t streams = 2;
  bool verify = false;
  std::string source_host;  // how this host names itself to the destination
  std::chrono::milliseconds io_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds prepare_timeout{std::chrono::seconds(60)};
  uint16_t protocol_version = 0;  // 0 = every version we speak; tests force one
  // The VM's disks and NICs on this host (null or empty: none). The job gives up their ownership
  // at switchover, takes it back if the guest stays here, and releases them after commit.
  std::shared_ptr<ResourceSet> resources;
};

struct MigrationOutcome {
  bool ok = false;
  std::optional<Error> error;
  Phase failed_phase = Phase::done;
  std::string vm_location;  // "destination", "source", or "unknown (paused on source)"
  nlohmann::json stats;     // MigrationStats::to_json() plus "verification" when verified
};

class SourceJob : public std::enable_shared_from_this<SourceJob> {
 public:
  using ProgressFn = std::function<void(const nlohmann::json& stats)>;

  SourceJob(asio::io_context& io, std::shared_ptr<Vm> vm, MigrationRequest request,
            ProgressFn progress);
  ~SourceJob();

  awaitable<MigrationOutcome> run();

  // Safe from any thread while the job runs.
  void cancel();
  Result<void> update_settings(const PrecopySettings& settings);
  nlohmann::json snapshot() const;
  Phase phase() const { return phase_; }
  const std::string& session() const { return session_; }

 private:
  struct Impl;
  awaitable<Result<void>> run_phases();
  awaitable<void> roll_back(const Error& error, MigrationOutcome& outcome);
  awaitable<Result<bool>> ask_destination_outcome();
  // Polls the disk copy into the statistics; with `until_ready`, waits (cancellably) until every
  // copy has caught up. True when it had to wait.
  awaitable<Result<bool>> wait_for_disk_copy(bool until_ready);
  void publish();

  asio::io_context& io_;
  std::shared_ptr<Vm> vm_;
  MigrationRequest request_;
  ProgressFn progress_;
  std::string session_;
  std::atomic<Phase> phase_{Phase::negotiate};
  std::atomic<bool> cancelled_{false};
  std::unique_ptr<Impl> impl_;
  mutable std::mutex stats_mutex_;
  MigrationStats stats_;
};

}  // namespace ferry
