#include "engine/migration/downtime_breakdown.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;

TEST(DowntimeBreakdown, StepsAreTimedFromThePreviousOneInOrder) {
  DowntimeBreakdown breakdown;
  EXPECT_TRUE(breakdown.empty());
  const auto paused = DowntimeBreakdown::Clock::now();
  breakdown.start(paused);
  breakdown.step_done("pause", paused + 3ms);
  breakdown.step_done("final-round", paused + 3ms + 1500us);
  breakdown.step_done("device-state-save", paused + 40ms);
  const auto json = breakdown.to_json();
  ASSERT_EQ(json["steps"].size(), 3u);
  EXPECT_EQ(json["steps"][0]["step"], "pause");
  EXPECT_DOUBLE_EQ(json["steps"][0]["ms"].get<double>(), 3.0);
  EXPECT_EQ(json["steps"][1]["step"], "final-round");
  EXPECT_DOUBLE_EQ(json["steps"][1]["ms"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(json["steps"][2]["ms"].get<double>(), 35.5);
  EXPECT_DOUBLE_EQ(json["total-ms"].get<double>(), 40.0);
}

TEST(DowntimeBreakdown, StartingAgainForgetsEarlierSteps) {
  DowntimeBreakdown breakdown;
  const auto t = DowntimeBreakdown::Clock::now();
  breakdown.start(t);
  breakdown.step_done("pause", t + 1ms);
  breakdown.start(t + 10ms);
  EXPECT_TRUE(breakdown.empty());
  breakdown.step_done("pause", t + 12ms);
  EXPECT_DOUBLE_EQ(breakdown.to_json()["total-ms"].get<double>(), 2.0);
}

}  // namespace
}  // namespace ferry
