// What a migration job reports while it runs and when it ends, with QEMU's query-migrate names
// where they mean the same thing, so existing tooling reads it without a mapping table.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

enum class MigrationStatus { setup, active, device, completed, failed, cancelled };

std::string_view migration_status_name(MigrationStatus status);  // "setup", "active", ...
Result<MigrationStatus> parse_migration_status(std::string_view name);

struct MigrationStats {
  MigrationStatus status = MigrationStatus::setup;
  std::string phase;  // finer than status, e.g. "precopy round 3", "switchover"
  uint32_t round = 0;
  uint64_t total = 0;             // guest RAM bytes
  uint64_t transferred = 0;       // bytes on the wire, record headers included
  uint64_t remaining = 0;         // bytes of dirty pages still to send
  uint64_t duplicate = 0;         // zero pages, sent as a flag (count)
  uint64_t normal = 0;            // pages sent with data (count)
  uint64_t normal_bytes = 0;      // payload bytes of those pages
  uint64_t dirty_pages_rate = 0;  // pages/s the guest dirtied in the last round
  double mbps = 0;                // megabits/s on the wire during the last round
  uint64_t dirty_sync_count = 0;  // dirty-log scans done
  std::chrono::milliseconds setup_time{0};
  std::chrono::milliseconds downtime{0};  // pause on the source to resume on the destination
  std::chrono::milliseconds expected_downtime{0};
  std::chrono::milliseconds total_time{0};
  uint64_t pages_per_second = 0;
  std::string precopy_decision;  // the reason of the last PrecopyDecision
  std::string error;             // why the job failed; reported only when status is failed

  bool operator==(const MigrationStats&) const = default;

  // Keys: status phase round total transferred remaining duplicate normal normal-bytes
  // dirty-pages-rate mbps dirty-sync-count setup-time downtime expected-downtime total-time
  // pages-per-second precopy-decision, and error when status is failed. Times are milliseconds.
  nlohmann::json to_json() const;

  // Every key but "error" is required; unknown keys are ignored so newer peers can add some.
  static Result<MigrationStats> from_json(const nlohmann::json& json);
};

}  // namespace ferry
