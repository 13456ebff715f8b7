// The "auto" compression policy of one stream: compress only while the link, not the CPU, is
// the bottleneck, and then with the encoding that moves a byte of guest memory in the least time.
//
// Inputs, per interval (the sender decides every kDecideEveryBytes and at the end of each round,
// so the first round, which carries most of the memory, benefits too): samples of what encoding one
// page costs under each candidate (CPU time and output size, taken on the same pages for every
// candidate), and how the round's sending went (wire bytes, elapsed time, time spent waiting on the
// socket or the rate limiter) in the interval.
//
// The rule (docs/protocol.md, "Choosing an encoding"):
//   - The link rate L is known once an interval was link-bound (waiting took >= 20% of its
//     time): L = wire bytes / elapsed. An interval that was not link-bound only raises L to at
//     least wire bytes / elapsed (the link carried that much without making the sender wait).
//   - Each candidate e has a cost per byte of guest memory: c(e) = cpu(e) + ratio(e) / L, with
//     cpu(e) the encode seconds per input byte and ratio(e) output / input bytes (raw: its copy
//     and checksum, ratio 1). While L is unknown the sender has never waited on the link, so only
//     CPU counts and raw, the cheapest, wins.
//   - The next interval uses the cheapest candidate; it replaces the current one only when at
//     least 10% cheaper, so measurement noise does not flip encodings every interval.
// Pure logic, no clock: the caller measures.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/wire/pages.h"

namespace ferry::wire {

class AutoCompression {
 public:
  static constexpr double kLinkBoundFraction = 0.2;
  static constexpr double kSwitchGain = 0.9;
  // Intervals smaller than this say little about the link.
  static constexpr uint64_t kMinRoundWireBytes = 256 * 1024;
  // How often a sender decides inside a round.
  static constexpr uint64_t kDecideEveryBytes = 16 * 1024 * 1024;

  // `candidates`: what it may choose (raw is always one); only encodings the peer announced.
  explicit AutoCompression(std::vector<PageEncoding> candidates);

  const std::vector<PageEncoding>& candidates() const { return candidates_; }
  PageEncoding current() const { return current_; }

  // One sampled page under `encoding`: `output_bytes` (kPageSize when it did not pay and would
  // go raw) and the CPU time the encoding took.
  void record_sample(PageEncoding encoding, uint64_t output_bytes, std::chrono::nanoseconds time);

  // Closes an interval (a round, or kDecideEveryBytes of one) and returns the encoding for the
  // next one.
  PageEncoding decide(uint64_t wire_bytes, std::chrono::nanoseconds elapsed,
                      std::chrono::nanoseconds blocked);

  // Seconds per byte of guest memory under `encoding`, or nothing when not yet measured.
  std::optional<double> cost(PageEncoding encoding) const;
  // Link rate in bytes per second, or nothing while the link never was the bottleneck.
  std::optional<double> link_rate() const { return link_rate_; }
  // The last decision with its numbers, for the job's log.
  const std::string& explanation() const { return explanation_; }

 private:
  struct Estimate {
    // This round's samples.
    uint64_t pages = 0;
    uint64_t output_bytes = 0;
    double seconds = 0;
    // Smoothed over rounds.
    bool known = false;
    double seconds_per_byte = 0;
    double ratio = 1;
  };
  Estimate* find(PageEncoding encoding);
  const Estimate* find(PageEncoding encoding) const;

  std::vector<PageEncoding> candidates_;
  std::vector<Estimate> estimates_;  // parallel to candidates_
  PageEncoding current_ = PageEncoding::raw;
  std::optional<double> link_rate_;
  std::string explanation_;
};

}  // namespace ferry::wire
