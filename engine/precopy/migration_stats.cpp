#include "engine/precopy/migration_stats.h"

#include <array>
#include <limits>
#include <type_traits>
#include <utility>

#include "engine/precopy/json_field.h"

namespace ferry {
namespace {

constexpr std::string_view kWhere = "migration stats";

constexpr std::array<std::pair<MigrationStatus, std::string_view>, 6> kStatusNames = {{
    {MigrationStatus::setup, "setup"},
    {MigrationStatus::active, "active"},
    {MigrationStatus::device, "device"},
    {MigrationStatus::completed, "completed"},
    {MigrationStatus::failed, "failed"},
    {MigrationStatus::cancelled, "cancelled"},
}};

}  // namespace

std::string_view migration_status_name(MigrationStatus status) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) return name;
  }
  return "unknown";
}

Result<MigrationStatus> parse_migration_status(std::string_view name) {
  for (const auto& [value, known] : kStatusNames) {
    if (known == name) return value;
  }
  return Error(Errc::invalid_argument,
               std::string(kWhere) + ": unknown status \"" + std::string(name) +
                   "\" (expected setup, active, device, completed, failed or cancelled)");
}

nlohmann::json MigrationStats::to_json() const {
  nlohmann::json json = {
      {"status", std::string(migration_status_name(status))},
      {"phase", phase},
      {"round", round},
      {"total", total},
      {"transferred", transferred},
      {"remaining", remaining},
      {"duplicate", duplicate},
      {"normal", normal},
      {"normal-bytes", normal_bytes},
      {"dirty-pages-rate", dirty_pages_rate},
      {"mbps", mbps},
      {"dirty-sync-count", dirty_sync_count},
      {"setup-time", setup_time.count()},
      {"downtime", downtime.count()},
      {"expected-downtime", expected_downtime.count()},
      {"total-time", total_time.count()},
      {"pages-per-second", pages_per_second},
      {"precopy-decision", precopy_decision},
  };
  if (status == MigrationStatus::failed) json["error"] = error;
  return json;
}

Result<MigrationStats> MigrationStats::from_json(const nlohmann::json& json) {
  if (auto object = json_field::require_object(json, kWhere); !object) {
    return std::move(object).error();
  }
  MigrationStats stats;
  Result<void> failure = ok();

  // Each reader records the first failure and leaves its field untouched after that.
  auto read_string = [&](std::string_view key, std::string& field) {
    if (!failure) return;
    auto value = json_field::read_string(json, key, kWhere);
    if (!value) {
      failure = std::move(value).error();
      return;
    }
    field = std::move(value).value();
  };
  auto read_unsigned = [&](std::string_view key, auto& field) {
    if (!failure) return;
    using Field = std::remove_reference_t<decltype(field)>;
    auto value = json_field::read_unsigned(json, key, kWhere, std::numeric_limits<Field>::max());
    if (!value) {
      failure = std::move(value).error();
      return;
    }
    field = static_cast<Field>(*value);
  };
  auto read_ms = [&](std::string_view key, std::chrono::milliseconds& field) {
    if (!failure) return;
    auto value = json_field::read_unsigned(
        json, key, kWhere, std::numeric_limits<std::chrono::milliseconds::rep>::max());
    if (!value) {
      failure = std::move(value).error();
      return;
    }
    field = std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*value));
  };

  std::string status;
  read_string("status", status);
  read_string("phase", stats.phase);
  read_unsigned("round", stats.round);
  read_unsigned("total", stats.total);
  read_unsigned("transferred", stats.transferred);
  read_unsigned("remaining", stats.remaining);
  read_unsigned("duplicate", stats.duplicate);
  read_unsigned("normal", stats.normal);
  read_unsigned("normal-bytes", stats.normal_bytes);
  read_unsigned("dirty-pages-rate", stats.dirty_pages_rate);
  read_unsigned("dirty-sync-count", stats.dirty_sync_count);
  read_ms("setup-time", stats.setup_time);
  read_ms("downtime", stats.downtime);
  read_ms("expected-downtime", stats.expected_downtime);
  read_ms("total-time", stats.total_time);
  read_unsigned("pages-per-second", stats.pages_per_second);
  read_string("precopy-decision", stats.precopy_decision);
  if (failure && json.contains("error")) read_string("error", stats.error);
  if (!failure) return std::move(failure).error();

  auto mbps = json_field::read_number(json, "mbps", kWhere);
  if (!mbps) return std::move(mbps).error();
  stats.mbps = *mbps;

  auto parsed_status = parse_migration_status(status);
  if (!parsed_status) return std::move(parsed_status).error();
  stats.status = *parsed_status;
  return stats;
}

}  // namespace ferry
