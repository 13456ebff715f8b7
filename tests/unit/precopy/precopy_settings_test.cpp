#include "engine/precopy/precopy_settings.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Expects `settings` to be rejected with a message naming `field`.
void expect_invalid(const PrecopySettings& settings, const std::string& field) {
  auto result = validate(settings);
  ASSERT_FALSE(result.ok()) << field;
  EXPECT_EQ(result.error().code(), Errc::invalid_argument);
  EXPECT_NE(result.error().message().find(field), std::string::npos) << result.error().message();
  EXPECT_NE(result.error().message().find("precopy settings"), std::string::npos);
}

TEST(PrecopySettings, DefaultsAreValid) {
  PrecopySettings settings;
  EXPECT_TRUE(validate(settings).ok());
  EXPECT_EQ(settings.max_downtime, 300ms);
  EXPECT_EQ(settings.max_bandwidth, 0u);
  EXPECT_EQ(settings.max_rounds, 30u);
  EXPECT_EQ(settings.stall_rounds, 5u);
  EXPECT_EQ(settings.on_stall, StallAction::abort);
}

TEST(PrecopySettings, ValidateRejectsEachBadField) {
  PrecopySettings settings;
  settings.max_downtime = 0ms;
  expect_invalid(settings, "max-downtime-ms");
  settings.max_downtime = 2h;
  expect_invalid(settings, "max-downtime-ms");

  settings = {};
  settings.max_bandwidth = 100;
  expect_invalid(settings, "max-bandwidth");
  settings.max_bandwidth = kMinMaxBandwidth;
  EXPECT_TRUE(validate(settings).ok());

  settings = {};
  settings.max_rounds = 0;
  expect_invalid(settings, "max-rounds");

  settings = {};
  settings.stall_rounds = 0;
  expect_invalid(settings, "stall-rounds");
  settings.stall_rounds = settings.max_rounds + 1;
  expect_invalid(settings, "stall-rounds");

  settings = {};
  settings.on_stall = static_cast<StallAction>(7);
  expect_invalid(settings, "on-stall");
}

TEST(PrecopySettings, JsonRoundTripWithExactKeys) {
  PrecopySettings settings;
  settings.max_downtime = 120ms;
  settings.max_bandwidth = 64 * 1024 * 1024;
  settings.max_rounds = 12;
  settings.stall_rounds = 3;
  settings.on_stall = StallAction::force;

  json encoded = precopy_settings_to_json(settings);
  EXPECT_EQ(encoded, json::parse(R"({"max-downtime-ms": 120, "max-bandwidth": 67108864,
      "max-rounds": 12, "stall-rounds": 3, "on-stall": "force"})"));

  auto decoded = precopy_settings_from_json(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, settings);
}

TEST(PrecopySettings, MissingKeysKeepTheBase) {
  PrecopySettings base;
  base.max_rounds = 9;
  base.on_stall = StallAction::force;
  auto decoded = precopy_settings_from_json(json::parse(R"({"max-downtime-ms": 50})"), base);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->max_downtime, 50ms);
  EXPECT_EQ(decoded->max_rounds, 9u);
  EXPECT_EQ(decoded->on_stall, StallAction::force);

  auto empty = precopy_settings_from_json(json::object());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, PrecopySettings{});
}

TEST(PrecopySettings, FromJsonRejectsBadDocuments) {
  struct Case {
    const char* text;
    const char* mentions;
  };
  const Case cases[] = {
      {R"([1, 2])", "expected a JSON object"},
      {R"({"max-downtime": 50})", "unknown key \"max-downtime\""},
      {R"({"max-downtime-ms": "300ms"})", "\"max-downtime-ms\" must be an unsigned integer"},
      {R"({"max-downtime-ms": 0})", "max-downtime-ms is 0 ms"},
      {R"({"max-downtime-ms": 2.5})", "\"max-downtime-ms\" must be an unsigned integer"},
      {R"({"max-bandwidth": -1})", "\"max-bandwidth\" must be an unsigned integer"},
      {R"({"max-rounds": 4294967296})", "\"max-rounds\" must be an unsigned integer"},
      {R"({"stall-rounds": 0})", "stall-rounds is 0"},
      {R"({"on-stall": "retry"})", "\"on-stall\" must be \"abort\" or \"force\""},
      {R"({"on-stall": 1})", "\"on-stall\" must be a string"},
  };
  for (const Case& c : cases) {
    auto decoded = precopy_settings_from_json(json::parse(c.text));
    ASSERT_FALSE(decoded.ok()) << c.text;
    EXPECT_EQ(decoded.error().code(), Errc::invalid_argument) << c.text;
    EXPECT_NE(decoded.error().message().find(c.mentions), std::string::npos)
        << c.text << " -> " << decoded.error().message();
  }
}

}  // namespace
}  // namespace ferry
