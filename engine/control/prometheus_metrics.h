// The agent's /metrics in the Prometheus text exposition format (0.0.4). Pure: built from the
// migration records' descriptions, so it is unit-tested without an agent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry {

struct AgentMetricsInput {
  std::string host;
  uint64_t vms = 0;
  uint64_t evacuations_running = 0;
  // MigrationRecord::describe() of every migration this agent sent: {"finished", "stats": {...}}.
  std::vector<nlohmann::json> migrations;
};

// ferry_vms, ferry_migrations{state}, ferry_migration_bytes_sent_total,
// ferry_migration_rounds_total, ferry_migration_downtime_seconds (histogram of completed moves),
// ferry_migration_dirty_rate_bytes_per_second{migration} (running moves),
// ferry_evacuations_running.
std::string render_agent_metrics(const AgentMetricsInput& input);

// Upper bounds (seconds) of the downtime histogram's buckets, +Inf implied.
inline constexpr double kDowntimeBuckets[] = {0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0};

}  // namespace ferry
