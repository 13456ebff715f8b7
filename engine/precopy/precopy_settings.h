// The knobs of pre-copy: downtime budget, bandwidth cap, round limits and what to do on a stall.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

// What pre-copy does when it cannot reach the downtime budget (stall, hopeless, or max rounds).
enum class StallAction {
  abort,  // give up: the job fails with Errc::not_converging and the VM keeps running on the source
  force,  // stop-and-copy anyway, accepting a downtime above the budget
};

std::string_view stall_action_name(StallAction action);  // "abort" | "force"

// How the source encodes non-zero pages (docs/protocol.md, "Choosing an encoding"). Only
// encodings the destination announced in its HELLO are used; anything else is sent raw.
enum class CompressMode {
  automatic,  // "auto": lz4 or zstd only while the link, not the CPU, is the bottleneck
  none,       // raw
  lz4,
  zstd,
  delta,  // against the copy sent in an earlier round (bounded cache per stream), else raw
};

std::string_view compress_mode_name(CompressMode mode);  // "auto" | "none" | "lz4" | ...
// Errc::invalid_argument listing the accepted names.
Result<CompressMode> parse_compress_mode(std::string_view name);

struct PrecopySettings {
  std::chrono::milliseconds max_downtime{300};
  uint64_t max_bandwidth = 0;  // bytes per second, 0 = unlimited
  uint32_t max_rounds = 30;
  uint32_t stall_rounds = 5;  // K: give up when remaining has not shrunk for K consecutive rounds
  StallAction on_stall = StallAction::abort;
  CompressMode compress = CompressMode::automatic;

  bool operator==(const PrecopySettings&) const = default;
};

// Limits a valid configuration stays within; the upper ones catch unit mistakes (seconds for ms).
inline constexpr std::chrono::milliseconds kMinMaxDowntime{1};
inline constexpr std::chrono::milliseconds kMaxMaxDowntime{3'600'000};
inline constexpr uint64_t kMinMaxBandwidth = 4096;  // below one page per second nothing moves
inline constexpr uint32_t kMaxMaxRounds = 100'000;

Result<void> validate(const PrecopySettings& settings);

// {"max-downtime-ms": 300, "max-bandwidth": 0, "max-rounds": 30, "stall-rounds": 5,
//  "on-stall": "abort"}, plus "compress": "none" | "lz4" | "zstd" | "delta" when it is not the
// default "auto" (a reader that knows no compression setting sees the same document as before).
nlohmann::json precopy_settings_to_json(const PrecopySettings& settings);

// Keys missing from `json` keep their value from `base`, so a caller can change one knob of a
// running job by sending only that key. Unknown keys are rejected (a typo must not be silently
// ignored). The result is validated.
Result<PrecopySettings> precopy_settings_from_json(const nlohmann::json& json,
                                                   const PrecopySettings& base = {});

}  // namespace ferry
