#include "engine/vm/sim/sim_spec.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(SimSpec, JsonRoundTrip) {
  SimSpec s;
  s.name = "web-1";
  s.memory = 256 << 20;
  s.dirty_rate_mib = 50;
  s.pattern = "hot";
  s.wss = 64 << 20;
  s.seed = 99;
  s.fill = 128 << 20;
  auto back = SimSpec::from_json(s.to_json());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->name, "web-1");
  EXPECT_EQ(back->memory, uint64_t{256} << 20);
  EXPECT_EQ(back->dirty_rate_mib, 50);
  EXPECT_EQ(back->pattern, "hot");
  EXPECT_EQ(back->wss, uint64_t{64} << 20);
  EXPECT_EQ(back->seed, 99u);
  EXPECT_EQ(back->fill, uint64_t{128} << 20);

  s.fill.reset();
  back = SimSpec::from_json(s.to_json());
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->fill);
}

TEST(SimSpec, DefaultsApplyToMissingFields) {
  auto spec = SimSpec::from_json({{"name", "a"}});
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_EQ(spec->memory, uint64_t{1} << 30);
  EXPECT_EQ(spec->pattern, "uniform");
  EXPECT_EQ(spec->dirty_rate_mib, 0);
}

TEST(SimSpec, ValidationNamesTheField) {
  auto expect_invalid = [](nlohmann::json j, const std::string& word) {
    j["name"] = "vm";
    auto r = SimSpec::from_json(j);
    ASSERT_FALSE(r) << j.dump();
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find(word), std::string::npos) << r.error().message();
  };
  expect_invalid({{"memory", 512 * 1024}}, "memory");
  expect_invalid({{"memory", (1 << 20) + 1}}, "memory");
  expect_invalid({{"pattern", "zigzag"}}, "pattern");
  expect_invalid({{"dirty_rate_mib", -2}}, "dirty rate");
  expect_invalid({{"memory", 1 << 20}, {"wss", 2 << 20}}, "working set");
  expect_invalid({{"memory", 1 << 20}, {"fill", 100}}, "fill");
  expect_invalid({{"memory", "1G"}}, "memory");
  expect_invalid({{"seed", -1}}, "seed");
  EXPECT_FALSE(SimSpec::from_json({{"memory", 1 << 20}}));  // no name
  EXPECT_FALSE(SimSpec::from_json(nlohmann::json::array()));
}

}  // namespace
}  // namespace ferry
