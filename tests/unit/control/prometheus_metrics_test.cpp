#include "engine/control/prometheus_metrics.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace ferry {
namespace {

// The text format's sample lines: name{labels} value, every family introduced by HELP and TYPE.
struct Parsed {
  std::map<std::string, double> samples;  // "name{labels}" -> value
  std::set<std::string> typed;
  std::vector<std::string> bad_lines;
};

Parsed parse(const std::string& text) {
  Parsed parsed;
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$)");
  const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|histogram)$)");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type)) {
      parsed.typed.insert(m[1]);
    } else if (line.rfind("# HELP ", 0) == 0) {
      continue;
    } else if (std::regex_match(line, m, sample)) {
      std::string family = m[1];
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (family.size() > std::strlen(suffix) && family.ends_with(suffix) &&
            !parsed.typed.count(family))
          family = family.substr(0, family.size() - std::strlen(suffix));
      if (!parsed.typed.count(family)) parsed.bad_lines.push_back("untyped: " + line);
      parsed.samples[std::string(m[1]) + std::string(m[2])] = std::stod(m[3]);
    } else {
      parsed.bad_lines.push_back(line);
    }
  }
  return parsed;
}

nlohmann::json migration(const std::string& id, const std::string& status, uint64_t downtime,
                         uint64_t bytes, uint64_t rounds, bool finished) {
  return {{"id", id},
          {"vm", "vm-" + id},
          {"finished", finished},
          {"stats",
           {{"status", status},
            {"downtime", downtime},
            {"transferred", bytes},
            {"dirty-sync-count", rounds},
            {"dirty-pages-rate", 1000}}}};
}

TEST(PrometheusMetrics, CountsStatesBytesRoundsAndDowntimes) {
  AgentMetricsInput input;
  input.host = "host \"a\"";
  input.vms = 3;
  input.evacuations_running = 1;
  input.migrations = {migration("m1", "completed", 40, 1000, 3, true),
                      migration("m2", "completed", 250, 2000, 5, true),
                      migration("m3", "failed", 0, 500, 1, true),
                      migration("m4", "active", 0, 700, 2, false)};
  const std::string text = render_agent_metrics(input);
  const Parsed p = parse(text);
  EXPECT_TRUE(p.bad_lines.empty()) << p.bad_lines.front() << "\n" << text;
  const std::string h = "host=\"host \\\"a\\\"\"";
  EXPECT_EQ(p.samples.at("ferry_vms{" + h + "}"), 3);
  EXPECT_EQ(p.samples.at("ferry_migrations{" + h + ",state=\"completed\"}"), 2);
  EXPECT_EQ(p.samples.at("ferry_migrations{" + h + ",state=\"failed\"}"), 1);
  EXPECT_EQ(p.samples.at("ferry_migrations{" + h + ",state=\"active\"}"), 1);
  EXPECT_EQ(p.samples.at("ferry_migration_bytes_sent_total{" + h + "}"), 4200);
  EXPECT_EQ(p.samples.at("ferry_migration_rounds_total{" + h + "}"), 11);
  EXPECT_EQ(p.samples.at("ferry_migration_downtime_seconds_bucket{" + h + ",le=\"0.025\"}"), 0);
  EXPECT_EQ(p.samples.at("ferry_migration_downtime_seconds_bucket{" + h + ",le=\"0.05\"}"), 1);
  EXPECT_EQ(p.samples.at("ferry_migration_downtime_seconds_bucket{" + h + ",le=\"0.3\"}"), 2);
  EXPECT_EQ(p.samples.at("ferry_migration_downtime_seconds_bucket{" + h + ",le=\"+Inf\"}"), 2);
  EXPECT_EQ(p.samples.at("ferry_migration_downtime_seconds_count{" + h + "}"), 2);
  EXPECT_NEAR(p.samples.at("ferry_migration_downtime_seconds_sum{" + h + "}"), 0.29, 1e-9);
  EXPECT_EQ(p.samples.at("ferry_migration_dirty_rate_bytes_per_second{" + h +
                         ",migration=\"m4\",vm=\"vm-m4\"}"),
            4096000);
  EXPECT_EQ(p.samples.count("ferry_migration_dirty_rate_bytes_per_second{" + h +
                            ",migration=\"m1\",vm=\"vm-m1\"}"),
            0u)
      << "finished moves have no dirty rate";
  EXPECT_EQ(p.samples.at("ferry_evacuations_running{" + h + "}"), 1);
}

TEST(PrometheusMetrics, AnIdleAgentStillReportsEveryFamily) {
  AgentMetricsInput input;
  input.host = "b";
  const Parsed p = parse(render_agent_metrics(input));
  EXPECT_TRUE(p.bad_lines.empty());
  for (const char* family :
       {"ferry_vms", "ferry_migrations", "ferry_migration_bytes_sent_total",
        "ferry_migration_rounds_total", "ferry_migration_downtime_seconds",
        "ferry_migration_dirty_rate_bytes_per_second", "ferry_evacuations_running"})
    EXPECT_TRUE(p.typed.count(family)) << family;
  EXPECT_EQ(p.samples.at("ferry_migration_downtime_seconds_count{host=\"b\"}"), 0);
}

}  // namespace
}  // namespace ferry
