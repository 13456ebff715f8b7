#include "engine/precopy/migration_stats.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::set<std::string> kKeys = {"status",
                                     "phase",
                                     "round",
                                     "total",
                                     "transferred",
                                     "remaining",
                                     "duplicate",
                                     "normal",
                                     "normal-bytes",
                                     "dirty-pages-rate",
                                     "mbps",
                                     "dirty-sync-count",
                                     "setup-time",
                                     "downtime",
                                     "expected-downtime",
                                     "total-time",
                                     "pages-per-second",
                                     "precopy-decision"};

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) keys.insert(item.key());
  return keys;
}

// Every field set to a distinct non-default value, so a swapped or dropped field shows.
MigrationStats sample_stats() {
  MigrationStats stats;
  stats.status = MigrationStatus::active;
  stats.phase = "precopy round 3";
  stats.round = 3;
  stats.total = 4ull << 30;
  stats.transferred = 4'400'000'001;
  stats.remaining = 81920ull * 4096;
  stats.duplicate = 700'003;
  stats.normal = 350'004;
  stats.normal_bytes = 350'004ull * 4096;
  stats.dirty_pages_rate = 25'605;
  stats.mbps = 2345.75;
  stats.dirty_sync_count = 4;
  stats.setup_time = 17ms;
  stats.downtime = 0ms;
  stats.expected_downtime = 3200ms;
  stats.total_time = 5321ms;
  stats.pages_per_second = 300'006;
  stats.precopy_decision = "round 3: continuing";
  return stats;
}

TEST(MigrationStats, ToJsonHasExactlyTheQueryMigrateKeys) {
  const MigrationStats stats = sample_stats();
  const json encoded = stats.to_json();
  EXPECT_EQ(keys_of(encoded), kKeys);
  EXPECT_EQ(encoded["status"], "active");
  EXPECT_EQ(encoded["round"], 3);
  EXPECT_EQ(encoded["total"], 4ull << 30);
  EXPECT_EQ(encoded["normal-bytes"], 350'004ull * 4096);
  EXPECT_EQ(encoded["mbps"], 2345.75);
  EXPECT_EQ(encoded["expected-downtime"], 3200);
  EXPECT_EQ(encoded["setup-time"], 17);
  EXPECT_EQ(encoded["precopy-decision"], "round 3: continuing");
}

TEST(MigrationStats, ErrorIsReportedOnlyWhenFailed) {
  MigrationStats stats = sample_stats();
  stats.error = "precopy round 5: not converging";
  EXPECT_FALSE(stats.to_json().contains("error"));

  stats.status = MigrationStatus::failed;
  const json encoded = stats.to_json();
  std::set<std::string> with_error = kKeys;
  with_error.insert("error");
  EXPECT_EQ(keys_of(encoded), with_error);
  EXPECT_EQ(encoded["status"], "failed");
  EXPECT_EQ(encoded["error"], "precopy round 5: not converging");
}

TEST(MigrationStats, JsonRoundTripKeepsEveryField) {
  MigrationStats stats = sample_stats();
  auto decoded = MigrationStats::from_json(stats.to_json());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, stats);

  stats.status = MigrationStatus::failed;
  stats.error = "switchover: connection reset";
  decoded = MigrationStats::from_json(json::parse(stats.to_json().dump()));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, stats);

  for (MigrationStatus status :
       {MigrationStatus::setup, MigrationStatus::active, MigrationStatus::device,
        MigrationStatus::completed, MigrationStatus::cancelled}) {
    MigrationStats plain;
    plain.status = status;
    auto parsed = MigrationStats::from_json(plain.to_json());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message();
    EXPECT_EQ(*parsed, plain) << migration_status_name(status);
  }
}

TEST(MigrationStats, EveryKeyIsRequired) {
  const json full = sample_stats().to_json();
  for (const std::string& key : kKeys) {
    json partial = full;
    partial.erase(key);
    auto decoded = MigrationStats::from_json(partial);
    ASSERT_FALSE(decoded.ok()) << key;
    EXPECT_EQ(decoded.error().message(), "migration stats: missing key \"" + key + "\"");
  }
}

TEST(MigrationStats, FromJsonRejectsBadValues) {
  const json full = sample_stats().to_json();
  struct Case {
    const char* key;
    json value;
    const char* mentions;
  };
  const Case cases[] = {
      {"status", "paused", "unknown status \"paused\""},
      {"status", 3, "\"status\" must be a string"},
      {"round", -1, "\"round\" must be an unsigned integer"},
      {"round", 1ull << 32, "\"round\" must be an unsigned integer <= 4294967295"},
      {"total", "4 GiB", "\"total\" must be an unsigned integer"},
      {"mbps", "fast", "\"mbps\" must be a number"},
      {"downtime", 1.5, "\"downtime\" must be an unsigned integer"},
      {"precopy-decision", nullptr, "\"precopy-decision\" must be a string"},
      {"error", 42, "\"error\" must be a string"},
  };
  for (const Case& c : cases) {
    json bad = full;
    bad[c.key] = c.value;
    auto decoded = MigrationStats::from_json(bad);
    ASSERT_FALSE(decoded.ok()) << c.key;
    EXPECT_EQ(decoded.error().code(), Errc::invalid_argument);
    EXPECT_NE(decoded.error().message().find(c.mentions), std::string::npos)
        << decoded.error().message();
  }
  auto not_object = MigrationStats::from_json(json::array());
  ASSERT_FALSE(not_object.ok());
  EXPECT_NE(not_object.error().message().find("expected a JSON object"), std::string::npos);
}

TEST(MigrationStats, UnknownKeysAreIgnored) {
  json newer = sample_stats().to_json();
  newer["postcopy-requests"] = 12;
  auto decoded = MigrationStats::from_json(newer);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, sample_stats());
}

TEST(MigrationStats, StatusNames) {
  EXPECT_EQ(migration_status_name(MigrationStatus::device), "device");
  auto parsed = parse_migration_status("cancelled");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, MigrationStatus::cancelled);
  EXPECT_FALSE(parse_migration_status("Completed").ok());
}

}  // namespace
}  // namespace ferry
