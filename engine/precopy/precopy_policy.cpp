#include "engine/precopy/precopy_policy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/memory/page.h"
#include "engine/precopy/human_units.h"

namespace ferry {
namespace {

// Keeps absurd estimates (terabytes over a trickle) inside the range of milliseconds.
constexpr double kMaxDowntimeMs = 1e15;

struct Estimate {
  double bandwidth;  // bytes/s used for the decision
  bool measured;     // false: kDefaultBandwidth stands in for a measurement
  bool capped;       // max-bandwidth is below the measured (or default) bandwidth
};

std::string describe_bandwidth(const Estimate& estimate) {
  std::string text = format_rate(estimate.bandwidth);
  if (!estimate.measured) text += " (not measured yet, assumed)";
  if (estimate.capped) text += " (max-bandwidth)";
  return text;
}

std::string pages_remaining(uint64_t pages) {
  return std::to_string(pages) + " pages (" + format_bytes(static_cast<double>(pages) * kPageSize) +
         ") remain";
}

}  // namespace

std::string_view precopy_action_name(PrecopyAction action) {
  switch (action) {
    case PrecopyAction::continue_copy:
      return "continue";
    case PrecopyAction::stop_and_copy:
      return "stop-and-copy";
    case PrecopyAction::give_up:
      return "give-up";
  }
  return "unknown";
}

std::optional<double> PrecopyPolicy::measured_bandwidth() const {
  if (samples_.empty()) return std::nullopt;
  double bytes = 0;
  std::chrono::nanoseconds duration{0};
  for (const BandwidthSample& sample : samples_) {
    bytes += static_cast<double>(sample.bytes);
    duration += sample.duration;
  }
  return bytes / std::chrono::duration<double>(duration).count();
}

PrecopyDecision PrecopyPolicy::decide(const RoundReport& report) {
  using std::chrono::duration;

  // Rounds too short to measure leave the previous estimate in place.
  if (report.duration >= kMinMeasurableDuration && report.bytes_sent >= kMinMeasurableBytes) {
    samples_.push_back({report.bytes_sent, report.duration});
    if (samples_.size() > kBandwidthWindow) samples_.pop_front();
  }
  const std::optional<double> measured = measured_bandwidth();
  Estimate estimate{measured.value_or(kDefaultBandwidth), measured.has_value(), false};
  if (settings_.max_bandwidth != 0 &&
      static_cast<double>(settings_.max_bandwidth) < estimate.bandwidth) {
    estimate.bandwidth = static_cast<double>(settings_.max_bandwidth);
    estimate.capped = true;
  }

  const double remaining_bytes = static_cast<double>(report.remaining_pages) * kPageSize;
  // A floor on the duration keeps a near-empty round from reporting an absurd dirty rate.
  const double round_seconds =
      duration<double>(std::max(report.duration, kMinMeasurableDuration)).count();
  const double dirty_rate = remaining_bytes / round_seconds;
  const double expected_ms =
      std::min(remaining_bytes / estimate.bandwidth * 1000.0, kMaxDowntimeMs);
  const double budget_ms = duration<double, std::milli>(settings_.max_downtime).count();

  if (!smallest_remaining_ || report.remaining_pages < *smallest_remaining_) {
    smallest_remaining_ = report.remaining_pages;
    rounds_without_progress_ = 0;
  } else {
    ++rounds_without_progress_;
  }
  // Only a measured or capped bandwidth proves the guest outpaces the link; a guess proves nothing.
  // A round too short to time proves nothing either way and leaves the count alone.
  if (report.duration >= kMinMeasurableDuration) {
    const bool outpaced =
        (estimate.measured || estimate.capped) && dirty_rate >= estimate.bandwidth;
    rounds_outpaced_ = outpaced ? rounds_outpaced_ + 1 : 0;
  }

  PrecopyDecision decision;
  decision.expected_downtime =
      std::chrono::milliseconds(static_cast<int64_t>(std::ceil(expected_ms)));
  decision.bandwidth = estimate.bandwidth;
  decision.dirty_rate = dirty_rate;

  const std::string downtime_text = "expected downtime " + format_duration_ms(expected_ms) +
                                    (expected_ms <= budget_ms ? " <= " : " > ") +
                                    format_duration_ms(budget_ms);

  if (expected_ms <= budget_ms) {
    decision.action = PrecopyAction::stop_and_copy;
    decision.reason = "converged after round " + std::to_string(report.round) + ": " +
                      pages_remaining(report.remaining_pages) + ", " + downtime_text + " at " +
                      describe_bandwidth(estimate);
    return decision;
  }

  std::string failure;
  if (rounds_without_progress_ >= settings_.stall_rounds) {
    failure = "not converging: guest dirties " + format_rate(dirty_rate) + ", link carries " +
              describe_bandwidth(estimate) + "; " + std::to_string(report.remaining_pages) +
              " pages remain after " + std::to_string(rounds_without_progress_) +
              " rounds without progress (" + downtime_text + ")";
  } else if (rounds_outpaced_ >= settings_.stall_rounds) {
    failure = "not converging: guest dirties " + format_rate(dirty_rate) +
              ", at least what the link carries (" + describe_bandwidth(estimate) + "), for " +
              std::to_string(rounds_outpaced_) + " consecutive rounds; " +
              std::to_string(report.remaining_pages) + " pages remain (" + downtime_text + ")";
  } else if (report.round + 1 >= settings_.max_rounds) {
    failure = "round limit reached: " + std::to_string(report.remaining_pages) +
              " pages remain after " + std::to_string(report.round + 1) + " rounds (max-rounds " +
              std::to_string(settings_.max_rounds) + "; " + downtime_text + " at " +
              describe_bandwidth(estimate) + ")";
  }

  if (failure.empty()) {
    decision.action = PrecopyAction::continue_copy;
    decision.reason = "round " + std::to_string(report.round) + ": " +
                      pages_remaining(report.remaining_pages) + ", " + downtime_text + " at " +
                      describe_bandwidth(estimate) + "; guest dirties " + format_rate(dirty_rate) +
                      "; continuing";
  } else if (settings_.on_stall == StallAction::force) {
    decision.action = PrecopyAction::stop_and_copy;
    decision.reason = failure + "; forcing stop-and-copy (on-stall force), downtime above the " +
                      format_duration_ms(budget_ms) + " budget";
  } else {
    decision.action = PrecopyAction::give_up;
    decision.reason = failure + "; giving up (on-stall abort)";
  }
  return decision;
}

}  // namespace ferry
