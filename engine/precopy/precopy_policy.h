// Decides after each pre-copy round whether to copy another round, stop the VM and copy the rest,
// or give up. Pure: no clocks, no I/O; the caller measures and reports. Not thread-safe: one policy
// per job, called from the job's own sequence.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "engine/precopy/precopy_settings.h"

namespace ferry {

// What one round did, as measured by the source.
struct RoundReport {
  uint32_t round = 0;       // 0 = the full pass
  uint64_t pages_sent = 0;  // pages of any encoding, zero pages included
  uint64_t bytes_sent = 0;  // bytes on the wire
  std::chrono::nanoseconds duration{0};
  // Dirty pages found by the scan at the end of this round: what the next round or stop-and-copy
  // must send.
  uint64_t remaining_pages = 0;
};

enum class PrecopyAction { continue_copy, stop_and_copy, give_up };

std::string_view precopy_action_name(PrecopyAction action);  // "continue" | "stop-and-copy" | ...

struct PrecopyDecision {
  PrecopyAction action = PrecopyAction::continue_copy;
  std::string reason;  // human-readable, always set
  std::chrono::milliseconds expected_downtime{0};
  double bandwidth = 0;   // bytes/s the estimate used (measured, capped by max-bandwidth)
  double dirty_rate = 0;  // bytes/s the guest dirtied during the round
};

class PrecopyPolicy {
 public:
  // Used until a round long enough to measure has been seen; low on purpose, so that a guess never
  // stops the VM with more left to copy than the budget allows.
  static constexpr double kDefaultBandwidth = 16.0 * 1024 * 1024;
  // Rounds shorter or smaller than this say more about timer and batching noise than the link.
  static constexpr std::chrono::nanoseconds kMinMeasurableDuration = std::chrono::milliseconds(1);
  static constexpr uint64_t kMinMeasurableBytes = 256 * 1024;
  // Bandwidth is the total bytes over the total time of this many recent measurable rounds.
  static constexpr std::size_t kBandwidthWindow = 3;

  // `settings` should have passed validate(); the policy does not check them again.
  explicit PrecopyPolicy(PrecopySettings settings) : settings_(settings) {}

  PrecopyDecision decide(const RoundReport& report);

  // Takes effect at the next decide(): a running job can change its downtime budget or bandwidth
  // cap.
  void update_settings(const PrecopySettings& settings) { settings_ = settings; }
  const PrecopySettings& settings() const { return settings_; }

  // Smoothed measured link bandwidth in bytes/s, before the max-bandwidth cap; none until measured.
  std::optional<double> measured_bandwidth() const;

 private:
  struct BandwidthSample {
    uint64_t bytes;
    std::chrono::nanoseconds duration;
  };

  PrecopySettings settings_;
  std::deque<BandwidthSample> samples_;
  std::optional<uint64_t> smallest_remaining_;
  uint32_t rounds_without_progress_ = 0;
  uint32_t rounds_outpaced_ = 0;  // consecutive rounds the guest dirtied at least the bandwidth
};

}  // namespace ferry
