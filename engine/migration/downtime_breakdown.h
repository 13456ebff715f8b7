// Where a migration's downtime goes: the steps from the source's pause to the destination's
// RESUMED, each timed from the end of the one before. Reported in the job's statistics so that
// a long downtime says which step made it long. Pure (the caller passes the clock readings).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry {

class DowntimeBreakdown {
 public:
  using Clock = std::chrono::steady_clock;

  void start(Clock::time_point paused_at);
  // The step `name` ended at `at` (after the previous step, or the start).
  void step_done(std::string name, Clock::time_point at);
  bool empty() const { return steps_.empty(); }
  // {"steps": [{"step": name, "ms": milliseconds}, ...] in order, "total-ms": ...}; 0.1 ms
  // resolution.
  nlohmann::json to_json() const;

 private:
  Clock::time_point start_{};
  Clock::time_point last_{};
  std::vector<std::pair<std::string, double>> steps_;
};

}  // namespace ferry
