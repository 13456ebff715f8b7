#include "engine/precopy/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace ferry {

double RateLimiter::burst_bytes() const {
  return static_cast<double>(rate_) * std::chrono::duration<double>(kBurst).count();
}

std::chrono::nanoseconds RateLimiter::delay_for(uint64_t bytes,
                                                std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (rate_ == 0) return std::chrono::nanoseconds(0);

  const double rate = static_cast<double>(rate_);
  if (!last_refill_) {
    credit_ = burst_bytes();
    last_refill_ = now;
  } else if (now > *last_refill_) {
    // Streams read their clocks independently, so `now` may trail the last refill a little: such a
    // caller just gets no new credit.
    const double elapsed = std::chrono::duration<double>(now - *last_refill_).count();
    credit_ = std::min(burst_bytes(), credit_ + elapsed * rate);
    last_refill_ = now;
  }

  credit_ -= static_cast<double>(bytes);
  if (credit_ >= 0) return std::chrono::nanoseconds(0);
  // The cap keeps an absurd request (exabytes at a trickle) inside the range of nanoseconds.
  const double wait_seconds = std::min(-credit_ / rate, 1e9);
  return std::chrono::nanoseconds(static_cast<int64_t>(std::ceil(wait_seconds * 1e9)));
}

void RateLimiter::set_rate(uint64_t bytes_per_sec) {
  std::lock_guard lock(mutex_);
  rate_ = bytes_per_sec;
  if (rate_ == 0) {
    // Unlimited forgets all history, so a later cap starts from a fresh bucket.
    credit_ = 0;
    last_refill_.reset();
  } else {
    credit_ = std::min(credit_, burst_bytes());
  }
}

uint64_t RateLimiter::rate() const {
  std::lock_guard lock(mutex_);
  return rate_;
}

}  // namespace ferry
