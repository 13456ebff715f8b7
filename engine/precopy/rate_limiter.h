// Token bucket that paces sending to max-bandwidth. Pure: the caller passes the time in and sleeps
// the returned delay itself. Thread-safe: the data streams of one job share one limiter, so the cap
// holds for their sum.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace ferry {

class RateLimiter {
 public:
  // Unused credit is capped at this much sending time, so an idle pause does not buy a long burst.
  static constexpr std::chrono::milliseconds kBurst{50};

  explicit RateLimiter(uint64_t bytes_per_sec = 0) : rate_(bytes_per_sec) {}

  // Charges `bytes` to the bucket and returns how long to wait, from `now`, before sending them;
  // zero when unlimited or when the bucket holds enough credit. A caller that receives a delay must
  // wait it out: the bytes are already accounted, and later callers queue behind them.
  std::chrono::nanoseconds delay_for(uint64_t bytes, std::chrono::steady_clock::time_point now);

  // New rate in bytes per second (0 = unlimited); applies to the next delay_for(). Bytes already
  // charged are waited out at the new rate.
  void set_rate(uint64_t bytes_per_sec);
  uint64_t rate() const;

 private:
  double burst_bytes() const;

  mutable std::mutex mutex_;
  uint64_t rate_;
  double credit_ = 0;  // bytes that may go out now; negative = debt queued senders wait out
  std::optional<std::chrono::steady_clock::time_point> last_refill_;
};

}  // namespace ferry
