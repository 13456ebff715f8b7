#include "drivers/net/ovs/ovsdb_reply.h"

#include <gtest/gtest.h>

#include "drivers/net/ovs/ovsdb_operations.h"

namespace ferry::ovs {
namespace {

const Json kOperations = Json::array({
    op::wait("Bridge", Json::array(), {"name"}, true, Json::array()),
    op::insert("Port", {{"name", "p1"}}),
    op::mutate("Bridge", Json::array(), Json::array()),
});

TEST(OvsdbReply, AllOperationsSucceeded) {
  auto found = find_transact_failure(kOperations,
                                     Json::parse(R"([{}, {"uuid":["uuid","u"]}, {"count":1}])"));
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_FALSE(found->has_value());
}

TEST(OvsdbReply, NamesTheFailedOperationFollowedByNulls) {
  auto found = find_transact_failure(
      kOperations,
      Json::parse(R"([{}, {"error":"constraint violation","details":"duplicate name p1"}, null])"));
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  const TransactFailure& failure = **found;
  EXPECT_EQ(failure.op_index, 1u);
  EXPECT_EQ(failure.op_count, 3u);
  EXPECT_EQ(failure.op_label, "insert Port");
  EXPECT_EQ(failure.error, "constraint violation");
  EXPECT_EQ(failure.details, "duplicate name p1");
  EXPECT_FALSE(failure.commit_failed());

  const Error error = transact_error("Open_vSwitch at unix:/tmp/db.sock", failure);
  EXPECT_EQ(error.code(), Errc::invalid_argument);
  EXPECT_EQ(
      error.message(),
      "transaction on Open_vSwitch at unix:/tmp/db.sock: operation 1 of 3 (insert Port) failed: "
      "constraint violation: duplicate name p1");
}

TEST(OvsdbReply, ReportsACommitFailureAsTheExtraElement) {
  auto found =
      find_transact_failure(kOperations, Json::parse(R"([{}, {"uuid":["uuid","u"]}, {"count":0},
                                   {"error":"referential integrity violation","details":"dangling"}])"));
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_TRUE((*found)->commit_failed());
  EXPECT_EQ((*found)->op_label, "commit");
  const Error error = transact_error("Open_vSwitch", **found);
  EXPECT_NE(error.message().find(
                "commit of 3 operations failed: referential integrity violation: dangling"),
            std::string::npos)
      << error.message();
}

TEST(OvsdbReply, MapsErrorStringsToCodes) {
  TransactFailure failure{
      .op_index = 0, .op_count = 1, .op_label = "wait Bridge", .error = "timed out"};
  EXPECT_EQ(transact_error("db", failure).code(), Errc::timeout);
  failure.error = "resources exhausted";
  EXPECT_EQ(transact_error("db", failure).code(), Errc::no_space);
  failure.error = "I/O error";
  EXPECT_EQ(transact_error("db", failure).code(), Errc::io);
  failure.error = "referential integrity violation";
  EXPECT_EQ(transact_error("db", failure).code(), Errc::invalid_argument);
}

TEST(OvsdbReply, RejectsResultsThatDoNotMatchTheOperations) {
  for (const char* bad :
       {R"({})", R"([{}])", R"([{}, {}, {}, {}, {}])", R"([{}, null, {"error":"x"}])",
        R"([{}, {}, {}, {"count":1}])", R"([{}, 3, {}])"}) {
    auto found = find_transact_failure(kOperations, Json::parse(bad));
    ASSERT_FALSE(found.ok()) << bad;
    EXPECT_EQ(found.error().code(), Errc::protocol) << bad;
  }
}

TEST(OvsdbReply, DescribesJsonRpcErrors) {
  const Error unknown_db = rpc_error(
      "get_schema on unix:/tmp/db.sock",
      Json::parse(
          R"({"error":"unknown database","details":"get_schema request specifies unknown database Nope"})"));
  EXPECT_EQ(unknown_db.code(), Errc::not_found);
  EXPECT_EQ(unknown_db.message(),
            "ovsdb get_schema on unix:/tmp/db.sock refused: unknown database: get_schema request "
            "specifies unknown database Nope");
  const Error unknown_method = rpc_error("bogus on unix:/tmp/db.sock", Json("unknown method"));
  EXPECT_EQ(unknown_method.code(), Errc::protocol);
  EXPECT_EQ(unknown_method.message(), "ovsdb bogus on unix:/tmp/db.sock refused: unknown method");
}

}  // namespace
}  // namespace ferry::ovs
