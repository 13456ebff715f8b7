#include "engine/control/http/request_target.h"

#include <gtest/gtest.h>

#include "engine/control/http/api_error.h"

namespace ferry {
namespace {

using Query = std::map<std::string, std::string>;

TEST(PercentDecode, DecodesEscapesInBothCases) {
  auto decoded = percent_decode("web%2d1%2F%41%7e", false);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, "web-1/A~");
}

TEST(PercentDecode, PlusIsASpaceOnlyWhenAsked) {
  EXPECT_EQ(*percent_decode("a+b", true), "a b");
  EXPECT_EQ(*percent_decode("a+b", false), "a+b");
  EXPECT_EQ(*percent_decode("a%2Bb", true), "a+b");
}

TEST(PercentDecode, RejectsBadOrTruncatedEscapes) {
  for (const char* bad : {"%", "%4", "a%zz", "%g0", "ab%"}) {
    auto decoded = percent_decode(bad, true);
    ASSERT_FALSE(decoded) << bad;
    EXPECT_EQ(decoded.error().code(), Errc::invalid_argument);
    EXPECT_NE(decoded.error().message().find(bad), std::string::npos) << decoded.error().message();
  }
}

TEST(PercentDecode, KeepsDecodedNulAndHighBytes) {
  auto decoded = percent_decode("%00%ff", false);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, std::string("\0\xff", 2));
}

TEST(RequestTarget, PathWithoutQuery) {
  auto target = parse_request_target("/v1/vms/web-1");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->path, "/v1/vms/web-1");
  EXPECT_TRUE(target->query.empty());
}

TEST(RequestTarget, PathIsNotDecodedSoEscapedSlashesCannotReroute) {
  auto target = parse_request_target("/v1/vms/a%2Fb?x=1");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->path, "/v1/vms/a%2Fb");
}

TEST(RequestTarget, DecodesQueryNamesAndValues) {
  auto target = parse_request_target("/v1/echo?name=web%201&note=a+b&the%20key=%3D%26");
  ASSERT_TRUE(target) << target.error().message();
  EXPECT_EQ(target->path, "/v1/echo");
  EXPECT_EQ(target->query, (Query{{"name", "web 1"}, {"note", "a b"}, {"the key", "=&"}}));
}

TEST(RequestTarget, FlagsEmptyValuesEmptyPairsAndRepeats) {
  auto target = parse_request_target("/x?verbose&level=&&a=1&a=2&");
  ASSERT_TRUE(target) << target.error().message();
  EXPECT_EQ(target->query, (Query{{"verbose", ""}, {"level", ""}, {"a", "2"}}));
}

TEST(RequestTarget, ValueMayContainEqualsSigns) {
  auto target = parse_request_target("/x?expr=a=b");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->query, (Query{{"expr", "a=b"}}));
}

TEST(RequestTarget, EmptyQueryAndFragment) {
  auto target = parse_request_target("/x?#frag");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->path, "/x");
  EXPECT_TRUE(target->query.empty());
}

TEST(RequestTarget, NamesTheParameterWithABadEscape) {
  auto target = parse_request_target("/x?ok=1&vm=web%zz");
  ASSERT_FALSE(target);
  EXPECT_EQ(target.error().code(), Errc::invalid_argument);
  EXPECT_NE(target.error().message().find("query parameter 'vm'"), std::string::npos)
      << target.error().message();
}

TEST(RequestTarget, RejectsAParameterWithoutName) {
  auto target = parse_request_target("/x?=value");
  ASSERT_FALSE(target);
  EXPECT_EQ(target.error().code(), Errc::invalid_argument);
}

TEST(ApiError, BodyShape) {
  EXPECT_EQ(api_error_body(Errc::not_found, "no VM web-1"),
            (nlohmann::json{{"error", {{"code", "not_found"}, {"message", "no VM web-1"}}}}));
}

TEST(ApiError, EveryCodeRoundTripsThroughItsName) {
  for (int i = 0; i <= static_cast<int>(Errc::internal); ++i) {
    auto code = static_cast<Errc>(i);
    auto parsed = error_from_api_body(api_error_body(Error(code, "why")));
    ASSERT_TRUE(parsed) << errc_name(code);
    EXPECT_EQ(parsed->code(), code);
    EXPECT_EQ(parsed->message(), "why");
  }
  EXPECT_FALSE(errc_from_name("no_such_code"));
}

TEST(ApiError, UnknownCodeBecomesAProtocolErrorThatKeepsIt) {
  auto parsed = error_from_api_body({{"error", {{"code", "quota_exceeded"}, {"message", "m"}}}});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->code(), Errc::protocol);
  EXPECT_EQ(parsed->message(), "quota_exceeded: m");
}

TEST(ApiError, OtherBodiesAreNotErrors) {
  EXPECT_FALSE(error_from_api_body(nullptr));
  EXPECT_FALSE(error_from_api_body({{"vms", nlohmann::json::array()}}));
  EXPECT_FALSE(error_from_api_body({{"error", "text"}}));
  EXPECT_FALSE(error_from_api_body({{"error", {{"message", "no code"}}}}));
}

}  // namespace
}  // namespace ferry
