// OvsdbClient against a scripted peer: framing, server requests, errors and liveness, no OVS
// needed.
#include "drivers/net/ovs/ovsdb_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include "drivers/net/ovs/ovsdb_operations.h"
#include "tests/unit/ovs/fake_ovsdb_server.h"

namespace ferry::ovs {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Session {
  std::unique_ptr<FakeOvsdbServer> server;
  std::unique_ptr<OvsdbClient> client;
};

Session open_session(OvsdbClient::Options options = {}, bool tcp = false) {
  Session session;
  session.server = tcp ? FakeOvsdbServer::listen_tcp() : FakeOvsdbServer::listen_unix();
  if (!session.server) return session;
  auto client = OvsdbClient::connect(session.server->remote(), std::move(options));
  if (!client.ok()) {
    ADD_FAILURE() << client.error().message();
    return session;
  }
  session.client = std::move(client).value();
  EXPECT_TRUE(session.server->accept_client());
  return session;
}

Json reply(const Json& request, Json result) {
  return {{"id", request["id"]}, {"result", std::move(result)}, {"error", nullptr}};
}

TEST(OvsdbClient, AnswersServerEchoAndSkipsUpdatesWhileWaitingForAReplySentByteByByte) {
  Session s = open_session();
  ASSERT_TRUE(s.client);
  auto dbs = std::async(std::launch::async, [&] { return s.client->list_dbs(); });
  auto request = s.server->read_message();
  ASSERT_TRUE(request);
  EXPECT_EQ((*request)["method"], "list_dbs");
  EXPECT_EQ((*request)["params"], Json::array());

  // The server may interleave its own requests and notifications before the reply.
  s.server->send(R"({"id":"echo","method":"echo","params":["probe",1]})");
  auto echo_reply = s.server->read_message();
  ASSERT_TRUE(echo_reply);
  EXPECT_EQ(*echo_reply, Json::parse(R"({"id":"echo","result":["probe",1],"error":null})"));
  s.server->send(R"({"id":null,"method":"update","params":["no-such-monitor",{}]})");
  s.server->send_byte_by_byte(reply(*request, Json::array({"Open_vSwitch", "_Server"})).dump());

  auto names = dbs.get();
  ASSERT_TRUE(names.ok()) << names.error().message();
  EXPECT_EQ(*names, (std::vector<std::string>{"Open_vSwitch", "_Server"}));
  EXPECT_EQ(s.client->server_echoes_answered(), 1u);
}

TEST(OvsdbClient, MatchesRepliesToRequestsByIdWhenTheyArriveOutOfOrder) {
  Session s = open_session();
  ASSERT_TRUE(s.client);
  auto first =
      std::async(std::launch::async, [&] { return s.client->call("first", Json::array()); });
  auto request_1 = s.server->read_message();
  auto second =
      std::async(std::launch::async, [&] { return s.client->call("second", Json::array()); });
  auto request_2 = s.server->read_message();
  ASSERT_TRUE(request_1 && request_2);
  EXPECT_NE((*request_1)["id"], (*request_2)["id"]);
  s.server->send(reply(*request_2, "two").dump() + reply(*request_1, "one").dump());
  EXPECT_EQ(*first.get(), "one");
  EXPECT_EQ(*second.get(), "two");
}

TEST(OvsdbClient, DeliversMonitorUpdatesIncludingOneThatOvertakesTheReply) {
  Session s = open_session();
  ASSERT_TRUE(s.client);
  std::mutex mutex;
  std::vector<Json> updates;
  auto started = std::async(std::launch::async, [&] {
    return s.client->monitor("Open_vSwitch", "mon-1", {{"Port", {{"columns", {"name"}}}}},
                             [&](const Json& update) {
                               std::lock_guard lock(mutex);
                               updates.push_back(update);
                             });
  });
  auto request = s.server->read_message();
  ASSERT_TRUE(request);
  EXPECT_EQ((*request)["method"], "monitor");
  EXPECT_EQ((*request)["params"][1], "mon-1");
  const Json early = {{"Port", {{"u1", {{"new", {{"name", "p1"}}}}}}}};
  const Json initial = {{"Port", {{"u0", {{"new", {{"name", "p0"}}}}}}}};
  s.server->send(
      Json({{"id", nullptr}, {"method", "update"}, {"params", {"mon-1", early}}}).dump());
  s.server->send(reply(*request, initial).dump());
  auto result = started.get();
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(*result, initial);

  const Json later = {{"Port", {{"u1", {{"old", {{"name", "p1"}}}}}}}};
  s.server->send(
      Json({{"id", nullptr}, {"method", "update"}, {"params", {"mon-1", later}}}).dump());
  // The echo round trip orders the update before this point: callbacks run in stream order.
  auto echo = std::async(std::launch::async, [&] { return s.client->echo(); });
  auto echo_request = s.server->read_message();
  ASSERT_TRUE(echo_request);
  s.server->send(reply(*echo_request, (*echo_request)["params"]).dump());
  ASSERT_TRUE(echo.get().ok());
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(updates, (std::vector<Json>{early, later}));
  }

  auto cancel = std::async(std::launch::async, [&] { return s.client->monitor_cancel("mon-1"); });
  auto cancel_request = s.server->read_message();
  ASSERT_TRUE(cancel_request);
  EXPECT_EQ(
      *cancel_request,
      Json({{"method", "monitor_cancel"}, {"params", {"mon-1"}}, {"id", (*cancel_request)["id"]}}));
  s.server->send(reply(*cancel_request, Json::object()).dump());
  ASSERT_TRUE(cancel.get().ok());
}

TEST(OvsdbClient, RefusesRequestsFromAnUpdateCallbackInsteadOfDeadlocking) {
  Session s = open_session();
  ASSERT_TRUE(s.client);
  std::promise<Error> refused;
  auto started = std::async(std::launch::async, [&] {
    return s.client->monitor("Open_vSwitch", 7, Json::object(), [&](const Json&) {
      auto nested = s.client->list_dbs();
      refused.set_value(nested.ok() ? Error(Errc::internal, "nested call succeeded")
                                    : nested.error());
    });
  });
  auto request = s.server->read_message();
  ASSERT_TRUE(request);
  s.server->send(reply(*request, Json::object()).dump());
  ASSERT_TRUE(started.get().ok());
  s.server->send(R"({"id":null,"method":"update","params":[7,{}]})");
  auto future = refused.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  const Error error = future.get();
  EXPECT_EQ(error.code(), Errc::internal);
  EXPECT_NE(error.message().find("I/O thread"), std::string::npos) << error.message();
}

TEST(OvsdbClient, ReportsJsonRpcErrorsWithTheMethodAndServer) {
  Session s = open_session();
  ASSERT_TRUE(s.client);
  auto schema = std::async(std::launch::async, [&] { return s.client->get_schema("Nope"); });
  auto request = s.server->read_message();
  ASSERT_TRUE(request);
  EXPECT_EQ((*request)["params"], Json::array({"Nope"}));
  s.server->send(Json({{"id", (*request)["id"]},
                       {"error", {{"error", "unknown database"}, {"details", "no database Nope"}}}})
                     .dump());
  auto result = schema.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), Errc::not_found);
  EXPECT_EQ(result.error().message(), "ovsdb get_schema on " + s.server->remote() +
                                          " refused: unknown database: no database Nope");
}

TEST(OvsdbClient, ReportsTheFailedTransactOperationByIndex) {
  Session s = open_session();
  ASSERT_TRUE(s.client);
  const Json operations =
      Json::array({op::comment("first"), op::insert("Port", {{"name", "p"}}, "p"),
                   op::mutate("Bridge", Json::array(), Json::array())});
  std::optional<TransactFailure> failure;
  auto transacted = std::async(
      std::launch::async, [&] { return s.client->transact("Open_vSwitch", operations, &failure); });
  auto request = s.server->read_message();
  ASSERT_TRUE(request);
  Json expected_params = Json::array({"Open_vSwitch"});
  for (const Json& operation : operations) expected_params.push_back(operation);
  EXPECT_EQ((*request)["params"], expected_params);
  s.server->send(
      reply(*request,
            Json::parse(R"([{}, {"error":"constraint violation","details":"dup"}, null])"))
          .dump());
  auto result = transacted.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), Errc::invalid_argument);
  EXPECT_EQ(result.error().message(), "transaction on Open_vSwitch at " + s.server->remote() +
                                          ": operation 1 of 3 (insert Port) failed: "
                                          "constraint violation: dup");
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->op_index, 1u);
}

TEST(OvsdbClient, TimesOutARequestAndIgnoresItsLateReply) {
  OvsdbClient::Options options;
  options.request_timeout = 150ms;
  Session s = open_session(options);
  ASSERT_TRUE(s.client);
  const auto start = Clock::now();
  auto result = s.client->call("slow", Json::array());
  const auto took = Clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), Errc::timeout);
  EXPECT_NE(result.error().message().find("ovsdb slow on " + s.server->remote() +
                                          ": no reply within 150 ms"),
            std::string::npos)
      << result.error().message();
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 2s);

  auto request = s.server->read_message();
  ASSERT_TRUE(request);
  s.server->send(reply(*request, "late").dump());
  auto next = std::async(std::launch::async, [&] { return s.client->call("next", Json::array()); });
  auto next_request = s.server->read_message();
  ASSERT_TRUE(next_request);
  s.server->send(reply(*next_request, "fresh").dump());
  auto next_result = next.get();
  ASSERT_TRUE(next_result.ok()) << next_result.error().message();
  EXPECT_EQ(*next_result, "fresh");
  EXPECT_TRUE(s.client->connected());
}

TEST(OvsdbClient, FailsPendingAndLaterRequestsAtOnceWhenTheServerCloses) {
  std::atomic<int> disconnects{0};
  OvsdbClient::Options options;
  options.request_timeout = 10s;
  options.on_disconnect = [&](const Error& error) {
    EXPECT_EQ(error.code(), Errc::connection_lost);
    ++disconnects;
  };
  Session s = open_session(options);
  ASSERT_TRUE(s.client);
  auto pending = std::async(std::launch::async, [&] { return s.client->list_dbs(); });
  ASSERT_TRUE(s.server->read_message());
  const auto start = Clock::now();
  s.server->close_client();
  auto result = pending.get();
  EXPECT_LT(Clock::now() - start, 1s);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), Errc::connection_lost);
  EXPECT_NE(result.error().message().find("ovsdb list_dbs on " + s.server->remote()),
            std::string::npos)
      << result.error().message();
  EXPECT_NE(result.error().message().find("closed the connection"), std::string::npos);

  auto later = s.client->echo();
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code(), Errc::connection_lost);
  EXPECT_FALSE(s.client->connected());
  ASSERT_TRUE(s.client->connection_error());
  EXPECT_EQ(s.client->connection_error()->code(), Errc::connection_lost);
  EXPECT_EQ(disconnects.load(), 1);
}

TEST(OvsdbClient, ClosesTheConnectionWhenTheServerSendsGarbage) {
  Session s = open_session();
  ASSERT_TRUE(s.client);
  auto pending = std::async(std::launch::async, [&] { return s.client->list_dbs(); });
  ASSERT_TRUE(s.server->read_message());
  s.server->send("{\"id\":1} oops");
  auto result = pending.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), Errc::protocol);
  EXPECT_TRUE(s.server->client_closed(2s));
}

TEST(OvsdbClient, ProbesASilentServerAndDropsItWhenTheEchoIsNotAnswered) {
  OvsdbClient::Options options;
  options.inactivity_probe = 100ms;
  Session s = open_session(options);
  ASSERT_TRUE(s.client);
  // Answering keeps the connection: three probes in a row.
  for (int i = 0; i < 3; ++i) {
    auto probe = s.server->read_message(2s);
    ASSERT_TRUE(probe);
    EXPECT_EQ((*probe)["method"], "echo");
    s.server->send(reply(*probe, (*probe)["params"]).dump());
  }
  EXPECT_TRUE(s.client->connected());
  // Silence: the client gives up one probe interval after its unanswered echo.
  ASSERT_TRUE(s.server->read_message(2s));
  const auto start = Clock::now();
  EXPECT_TRUE(s.server->client_closed(2s));
  EXPECT_LT(Clock::now() - start, 1s);
  ASSERT_TRUE(s.client->connection_error());
  EXPECT_EQ(s.client->connection_error()->code(), Errc::connection_lost);
  EXPECT_NE(s.client->connection_error()->message().find("no reply to our echo"),
            std::string::npos);
}

TEST(OvsdbClient, WaitsForCurCfgThroughAMonitor) {
  Session s = open_session();
  ASSERT_TRUE(s.client);
  auto applied = std::async(std::launch::async, [&] { return s.client->wait_for_cur_cfg(5, 5s); });
  auto request = s.server->read_message();
  ASSERT_TRUE(request);
  EXPECT_EQ((*request)["method"], "monitor");
  EXPECT_EQ((*request)["params"][0], "Open_vSwitch");
  EXPECT_EQ((*request)["params"][2], Json::parse(R"({"Open_vSwitch":{"columns":["cur_cfg"]}})"));
  const Json monitor_id = (*request)["params"][1];
  s.server->send(
      reply(*request, Json::parse(R"({"Open_vSwitch":{"r1":{"new":{"cur_cfg":3}}}})")).dump());
  EXPECT_EQ(applied.wait_for(100ms), std::future_status::timeout);  // 3 < 5: still waiting
  s.server->send(
      Json(
          {{"id", nullptr},
           {"method", "update"},
           {"params",
            {monitor_id,
             Json::parse(R"({"Open_vSwitch":{"r1":{"old":{"cur_cfg":3},"new":{"cur_cfg":6}}}})")}}})
          .dump());
  auto result = applied.get();
  ASSERT_TRUE(result.ok()) << result.error().message();

  // The monitor stays: a second wait asks the server nothing.
  ASSERT_TRUE(s.client->wait_for_cur_cfg(6, 1s).ok());
  auto late = s.client->wait_for_cur_cfg(7, 100ms);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code(), Errc::timeout);
  EXPECT_NE(late.error().message().find(
                "did not apply configuration 7 within 100 ms (Open_vSwitch.cur_cfg is 6)"),
            std::string::npos)
      << late.error().message();
  EXPECT_FALSE(s.server->read_message(50ms));
}

TEST(OvsdbClient, ConnectsOverTcp) {
  Session s = open_session({}, /*tcp=*/true);
  ASSERT_TRUE(s.client);
  EXPECT_TRUE(s.client->remote().starts_with("tcp:127.0.0.1:"));
  auto echo = std::async(std::launch::async, [&] { return s.client->echo(); });
  auto request = s.server->read_message();
  ASSERT_TRUE(request);
  EXPECT_EQ((*request)["method"], "echo");
  s.server->send(reply(*request, (*request)["params"]).dump());
  EXPECT_TRUE(echo.get().ok());
}

TEST(OvsdbClient, ReportsAnUnreachableServer) {
  auto missing = OvsdbClient::connect("unix:/tmp/ferry-no-such-dir/db.sock");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::unreachable);
  EXPECT_NE(missing.error().message().find("unix:/tmp/ferry-no-such-dir/db.sock"),
            std::string::npos);

  auto server = FakeOvsdbServer::listen_tcp();
  ASSERT_TRUE(server);
  const std::string remote = server->remote();
  server.reset();  // nothing listens on that port any more
  auto refused = OvsdbClient::connect(remote);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Errc::unreachable) << refused.error().message();

  auto malformed = OvsdbClient::connect("ssl:1.2.3.4:6640");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace ferry::ovs
