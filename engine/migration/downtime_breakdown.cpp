#include "engine/migration/downtime_breakdown.h"

#include <cmath>

namespace ferry {
namespace {

double milliseconds(DowntimeBreakdown::Clock::duration d) {
  return std::round(std::chrono::duration<double, std::milli>(d).count() * 10) / 10;
}

}  // namespace

void DowntimeBreakdown::start(Clock::time_point paused_at) {
  start_ = last_ = paused_at;
  steps_.clear();
}

void DowntimeBreakdown::step_done(std::string name, Clock::time_point at) {
  steps_.emplace_back(std::move(name), milliseconds(at - last_));
  last_ = at;
}

nlohmann::json DowntimeBreakdown::to_json() const {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& [name, ms] : steps_) steps.push_back({{"step", name}, {"ms", ms}});
  return {{"steps", std::move(steps)}, {"total-ms", milliseconds(last_ - start_)}};
}

}  // namespace ferry
