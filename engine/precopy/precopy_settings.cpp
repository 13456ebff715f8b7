#include "engine/precopy/precopy_settings.h"

#include <array>
#include <limits>
#include <string>

#include "engine/precopy/json_field.h"

namespace ferry {
namespace {

constexpr std::string_view kWhere = "precopy settings";
constexpr std::array<std::string_view, 6> kKeys = {"max-downtime-ms", "max-bandwidth", "max-rounds",
                                                   "stall-rounds",    "on-stall",      "compress"};
constexpr std::array<CompressMode, 5> kCompressModes = {CompressMode::automatic, CompressMode::none,
                                                        CompressMode::lz4, CompressMode::zstd,
                                                        CompressMode::delta};

Error invalid(std::string message) {
  return Error(Errc::invalid_argument, std::string(kWhere) + ": " + std::move(message));
}

}  // namespace

std::string_view stall_action_name(StallAction action) {
  switch (action) {
    case StallAction::abort:
      return "abort";
    case StallAction::force:
      return "force";
  }
  return "unknown";
}

std::string_view compress_mode_name(CompressMode mode) {
  switch (mode) {
    case CompressMode::automatic:
      return "auto";
    case CompressMode::none:
      return "none";
    case CompressMode::lz4:
      return "lz4";
    case CompressMode::zstd:
      return "zstd";
    case CompressMode::delta:
      return "delta";
  }
  return "unknown";
}

Result<CompressMode> parse_compress_mode(std::string_view name) {
  for (CompressMode mode : kCompressModes)
    if (compress_mode_name(mode) == name) return mode;
  return invalid("\"compress\" must be \"auto\", \"none\", \"lz4\", \"zstd\" or \"delta\", got \"" +
                 std::string(name) + "\"");
}

Result<void> validate(const PrecopySettings& settings) {
  if (settings.max_downtime < kMinMaxDowntime || settings.max_downtime > kMaxMaxDowntime) {
    return invalid("max-downtime-ms is " + std::to_string(settings.max_downtime.count()) +
                   " ms; it must be between " + std::to_string(kMinMaxDowntime.count()) + " and " +
                   std::to_string(kMaxMaxDowntime.count()) + " ms");
  }
  if (settings.max_bandwidth != 0 && settings.max_bandwidth < kMinMaxBandwidth) {
    return invalid("max-bandwidth is " + std::to_string(settings.max_bandwidth) +
                   " bytes/s; it must be 0 (unlimited) or at least " +
                   std::to_string(kMinMaxBandwidth) + " bytes/s");
  }
  if (settings.max_rounds < 1 || settings.max_rounds > kMaxMaxRounds) {
    return invalid("max-rounds is " + std::to_string(settings.max_rounds) +
                   "; it must be between 1 and " + std::to_string(kMaxMaxRounds));
  }
  if (settings.stall_rounds < 1 || settings.stall_rounds > settings.max_rounds) {
    return invalid("stall-rounds is " + std::to_string(settings.stall_rounds) +
                   "; it must be between 1 and max-rounds (" + std::to_string(settings.max_rounds) +
                   ")");
  }
  if (settings.on_stall != StallAction::abort && settings.on_stall != StallAction::force) {
    return invalid("on-stall has the unknown value " +
                   std::to_string(static_cast<int>(settings.on_stall)));
  }
  if (compress_mode_name(settings.compress) == "unknown") {
    return invalid("compress has the unknown value " +
                   std::to_string(static_cast<int>(settings.compress)));
  }
  return ok();
}

nlohmann::json precopy_settings_to_json(const PrecopySettings& settings) {
  nlohmann::json json = {
      {"max-downtime-ms", settings.max_downtime.count()},
      {"max-bandwidth", settings.max_bandwidth},
      {"max-rounds", settings.max_rounds},
      {"stall-rounds", settings.stall_rounds},
      {"on-stall", std::string(stall_action_name(settings.on_stall))},
  };
  if (settings.compress != CompressMode::automatic)
    json["compress"] = std::string(compress_mode_name(settings.compress));
  return json;
}

Result<PrecopySettings> precopy_settings_from_json(const nlohmann::json& json,
                                                   const PrecopySettings& base) {
  if (auto object = json_field::require_object(json, kWhere); !object) {
    return std::move(object).error();
  }
  for (const auto& [key, value] : json.items()) {
    bool known = false;
    for (std::string_view name : kKeys) known = known || key == name;
    if (!known) return invalid("unknown key \"" + key + "\"");
  }

  PrecopySettings settings = base;
  constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
  if (json.contains("max-downtime-ms")) {
    auto ms = json_field::read_unsigned(json, "max-downtime-ms", kWhere,
                                        static_cast<uint64_t>(kMaxMaxDowntime.count()));
    if (!ms) return std::move(ms).error();
    settings.max_downtime = std::chrono::milliseconds(*ms);
  }
  if (json.contains("max-bandwidth")) {
    auto bandwidth = json_field::read_unsigned(json, "max-bandwidth", kWhere);
    if (!bandwidth) return std::move(bandwidth).error();
    settings.max_bandwidth = *bandwidth;
  }
  if (json.contains("max-rounds")) {
    auto rounds = json_field::read_unsigned(json, "max-rounds", kWhere, kU32Max);
    if (!rounds) return std::move(rounds).error();
    settings.max_rounds = static_cast<uint32_t>(*rounds);
  }
  if (json.contains("stall-rounds")) {
    auto rounds = json_field::read_unsigned(json, "stall-rounds", kWhere, kU32Max);
    if (!rounds) return std::move(rounds).error();
    settings.stall_rounds = static_cast<uint32_t>(*rounds);
  }
  if (json.contains("on-stall")) {
    auto action = json_field::read_string(json, "on-stall", kWhere);
    if (!action) return std::move(action).error();
    if (*action == "abort") {
      settings.on_stall = StallAction::abort;
    } else if (*action == "force") {
      settings.on_stall = StallAction::force;
    } else {
      return invalid("\"on-stall\" must be \"abort\" or \"force\", got \"" + *action + "\"");
    }
  }
  if (json.contains("compress")) {
    auto name = json_field::read_string(json, "compress", kWhere);
    if (!name) return std::move(name).error();
    auto mode = parse_compress_mode(*name);
    if (!mode) return std::move(mode).error();
    settings.compress = *mode;
  }
  if (auto valid = validate(settings); !valid) return std::move(valid).error();
  return settings;
}

}  // namespace ferry
