#include "engine/control/prometheus_metrics.h"

#include <map>

#include <fmt/format.h>

namespace ferry {
namespace {

// Label values escape backslash, double quote and newline.
std::string label_value(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

uint64_t number(const nlohmann::json& stats, const char* key) {
  const auto it = stats.find(key);
  return it != stats.end() && it->is_number() ? it->get<uint64_t>() : 0;
}

}  // namespace

std::string render_agent_metrics(const AgentMetricsInput& input) {
  const std::string host = label_value(input.host);
  std::map<std::string, uint64_t> by_state = {{"setup", 0},     {"active", 0}, {"device", 0},
                                              {"completed", 0}, {"failed", 0}, {"cancelled", 0}};
  uint64_t bytes = 0, rounds = 0;
  uint64_t histogram[std::size(kDowntimeBuckets)] = {};
  uint64_t downtime_count = 0;
  double downtime_sum = 0;
  std::string dirty_rates;
  for (const auto& migration : input.migrations) {
    const nlohmann::json stats = migration.value("stats", nlohmann::json::object());
    const std::string status = stats.value("status", "setup");
    ++by_state[status];
    bytes += number(stats, "transferred");
    rounds += number(stats, "dirty-sync-count");
    if (status == "completed" && stats.contains("downtime")) {
      const double seconds = static_cast<double>(number(stats, "downtime")) / 1000.0;
      for (size_t i = 0; i < std::size(kDowntimeBuckets); ++i)
        if (seconds <= kDowntimeBuckets[i]) ++histogram[i];
      ++downtime_count;
      downtime_sum += seconds;
    }
    if (!migration.value("finished", false) && (status == "active" || status == "device")) {
      dirty_rates += fmt::format(
          "ferry_migration_dirty_rate_bytes_per_second{{host=\"{}\",migration=\"{}\",vm=\"{}\"}} "
          "{}\n",
          host, label_value(migration.value("id", "")), label_value(migration.value("vm", "")),
          number(stats, "dirty-pages-rate") * 4096);
    }
  }

  std::string out;
  header(out, "ferry_vms", "gauge", "Guests this agent hosts.");
  out += fmt::format("ferry_vms{{host=\"{}\"}} {}\n", host, input.vms);
  header(out, "ferry_migrations", "gauge", "Migrations this agent sent, by state.");
  for (const auto& [state, count] : by_state)
    out += fmt::format("ferry_migrations{{host=\"{}\",state=\"{}\"}} {}\n", host, state, count);
  header(out, "ferry_migration_bytes_sent_total", "counter",
         "Bytes sent by this agent's migrations (records included).");
  out += fmt::format("ferry_migration_bytes_sent_total{{host=\"{}\"}} {}\n", host, bytes);
  header(out, "ferry_migration_rounds_total", "counter",
         "Dirty-log scans (pre-copy rounds) of this agent's migrations.");
  out += fmt::format("ferry_migration_rounds_total{{host=\"{}\"}} {}\n", host, rounds);
  header(out, "ferry_migration_downtime_seconds", "histogram",
         "Downtime of completed migrations: source pause to destination resume.");
  for (size_t i = 0; i < std::size(kDowntimeBuckets); ++i)
    out += fmt::format("ferry_migration_downtime_seconds_bucket{{host=\"{}\",le=\"{}\"}} {}\n",
                       host, kDowntimeBuckets[i], histogram[i]);
  out += fmt::format("ferry_migration_downtime_seconds_bucket{{host=\"{}\",le=\"+Inf\"}} {}\n",
                     host, downtime_count);
  out +=
      fmt::format("ferry_migration_downtime_seconds_sum{{host=\"{}\"}} {}\n", host, downtime_sum);
  out += fmt::format("ferry_migration_downtime_seconds_count{{host=\"{}\"}} {}\n", host,
                     downtime_count);
  header(out, "ferry_migration_dirty_rate_bytes_per_second", "gauge",
         "How fast each running migration's guest dirties its memory.");
  out += dirty_rates;
  header(out, "ferry_evacuations_running", "gauge", "Host evacuations in progress.");
  out +=
      fmt::format("ferry_evacuations_running{{host=\"{}\"}} {}\n", host, input.evacuations_running);
  return out;
}

}  // namespace ferry
