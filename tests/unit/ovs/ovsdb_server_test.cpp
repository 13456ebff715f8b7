// OvsdbClient against a real ovsdb-server and ovs-vswitchd (userspace datapath), one per test.
#include <signal.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "drivers/net/ovs/ovsdb_client.h"
#include "drivers/net/ovs/ovsdb_operations.h"
#include "tests/unit/ovs/ovs_test_host.h"

namespace ferry::ovs {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Json name_is(std::string_view name) {
  return Json::array({condition("name", "==", Json(name))});
}

// The operations that mark a configuration change for ovs-vswitchd, as ovs-vsctl does.
void bump_next_cfg(Json& operations) {
  operations.push_back(
      op::mutate("Open_vSwitch", Json::array(), Json::array({mutation("next_cfg", "+=", 1)})));
  operations.push_back(op::select("Open_vSwitch", Json::array(), {"next_cfg"}));
}

std::int64_t next_cfg_of(const Json& result) {
  return result.back()["rows"][0]["next_cfg"].get<std::int64_t>();
}

class OvsdbServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = OvsTestHost::unavailable_reason()) GTEST_SKIP() << *reason;
    auto host = OvsTestHost::start();
    ASSERT_TRUE(host.ok()) << host.error().message();
    host_ = std::move(host).value();
    auto client = OvsdbClient::connect(host_->remote());
    ASSERT_TRUE(client.ok()) << client.error().message();
    client_ = std::move(client).value();
  }
  void TearDown() override {
    client_.reset();
    host_.reset();
  }

  // Selects one row of `table` by name; fails the test when there is not exactly one.
  Json select_one(std::string_view table, std::string_view name, std::vector<std::string> columns) {
    auto result = client_->transact(
        "Open_vSwitch", Json::array({op::select(table, name_is(name), std::move(columns))}));
    EXPECT_TRUE(result.ok()) << result.error().message();
    if (!result.ok()) return Json();
    const Json& rows = (*result)[0]["rows"];
    EXPECT_EQ(rows.size(), 1u) << table << " " << name << ": " << rows.dump();
    return rows.empty() ? Json() : rows[0];
  }

  std::unique_ptr<OvsTestHost> host_;
  std::unique_ptr<OvsdbClient> client_;
};

TEST_F(OvsdbServerTest, ListsDatabasesAndReadsTheSchema) {
  auto dbs = client_->list_dbs();
  ASSERT_TRUE(dbs.ok()) << dbs.error().message();
  EXPECT_NE(std::find(dbs->begin(), dbs->end(), "Open_vSwitch"), dbs->end());

  auto schema = client_->get_schema("Open_vSwitch");
  ASSERT_TRUE(schema.ok()) << schema.error().message();
  EXPECT_EQ((*schema)["name"], "Open_vSwitch");
  EXPECT_TRUE((*schema)["tables"].contains("Bridge"));
  EXPECT_TRUE((*schema)["tables"]["Port"]["columns"].contains("tag"));

  auto missing = client_->get_schema("No_Such_Db");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  EXPECT_NE(missing.error().message().find("unknown database"), std::string::npos)
      << missing.error().message();
}

TEST_F(OvsdbServerTest, TransactAddsABridgeAndATaggedPortThatReadBack) {
  Json operations = Json::array({
      op::insert("Interface",
                 {{"name", "vm1-eth0"},
                  {"type", "internal"},
                  {"external_ids", datum::map({{"iface-id", "vm1-nic0"}, {"vm-id", "vm1"}})}},
                 "iface"),
      op::insert("Port",
                 {{"name", "vm1-eth0"}, {"interfaces", datum::named_uuid("iface")}, {"tag", 100}},
                 "port"),
      op::insert("Interface", {{"name", "br-test"}, {"type", "internal"}}, "br_iface"),
      op::insert("Port", {{"name", "br-test"}, {"interfaces", datum::named_uuid("br_iface")}},
                 "br_port"),
      op::insert("Bridge",
                 {{"name", "br-test"},
                  {"datapath_type", "netdev"},
                  {"ports", datum::set({datum::named_uuid("port"), datum::named_uuid("br_port")})}},
                 "bridge"),
      op::mutate(
          "Open_vSwitch", Json::array(),
          Json::array({mutation("bridges", "insert", datum::set({datum::named_uuid("bridge")}))})),
      op::comment("ferry test: add bridge br-test with port vm1-eth0"),
  });
  bump_next_cfg(operations);
  auto result = client_->transact("Open_vSwitch", operations);
  ASSERT_TRUE(result.ok()) << result.error().message();
  ASSERT_EQ(result->size(), operations.size());
  EXPECT_EQ((*result)[5]["count"], 1);
  auto applied = client_->wait_for_cur_cfg(next_cfg_of(*result), 10s);
  ASSERT_TRUE(applied.ok()) << applied.error().message();

  const Json port = select_one("Port", "vm1-eth0", {"_uuid", "tag"});
  EXPECT_EQ(port["tag"], 100);
  EXPECT_EQ(port["_uuid"], (*result)[1]["uuid"]);  // the uuid the insert reported
  const Json interface = select_one("Interface", "vm1-eth0", {"external_ids", "ofport", "type"});
  EXPECT_EQ(*datum::string_map(interface["external_ids"]),
            (std::map<std::string, std::string>{{"iface-id", "vm1-nic0"}, {"vm-id", "vm1"}}));
  EXPECT_EQ(interface["type"], "internal");
  // ovs-vswitchd assigned an OpenFlow port number: it really created the port.
  ASSERT_TRUE(interface["ofport"].is_number_integer()) << interface.dump();
  EXPECT_GT(interface["ofport"].get<int>(), 0);
  const Json bridge = select_one("Bridge", "br-test", {"ports", "datapath_type"});
  EXPECT_EQ(datum::set_elements(bridge["ports"]).size(), 2u);

  // update and delete: retag, then remove the port from the bridge and delete its row.
  Json retag = Json::array({op::update("Port", name_is("vm1-eth0"), {{"tag", 200}})});
  bump_next_cfg(retag);
  auto retagged = client_->transact("Open_vSwitch", retag);
  ASSERT_TRUE(retagged.ok()) << retagged.error().message();
  EXPECT_EQ((*retagged)[0]["count"], 1);
  EXPECT_EQ(select_one("Port", "vm1-eth0", {"tag"})["tag"], 200);

  Json remove = Json::array({
      op::mutate("Bridge", name_is("br-test"),
                 Json::array({mutation("ports", "delete", datum::set({port["_uuid"]}))})),
      op::delete_rows("Port", name_is("vm1-eth0")),
  });
  bump_next_cfg(remove);
  auto removed = client_->transact("Open_vSwitch", remove);
  ASSERT_TRUE(removed.ok()) << removed.error().message();
  EXPECT_EQ((*removed)[1]["count"], 1);
  ASSERT_TRUE(client_->wait_for_cur_cfg(next_cfg_of(*removed), 10s).ok());
  auto gone = client_->transact(
      "Open_vSwitch", Json::array({op::select("Interface", name_is("vm1-eth0"), {"name"})}));
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE((*gone)[0]["rows"].empty()) << "the unreferenced Interface is garbage-collected";
}

TEST_F(OvsdbServerTest, RefusesATransactionThatBreaksReferentialIntegrity) {
  // Deleting a Port that br-int still references cannot commit.
  std::optional<TransactFailure> failure;
  auto result = client_->transact(
      "Open_vSwitch", Json::array({op::delete_rows("Port", name_is("br-int"))}), &failure);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), Errc::invalid_argument);
  EXPECT_NE(result.error().message().find(
                "commit of 1 operations failed: referential integrity violation"),
            std::string::npos)
      << result.error().message();
  ASSERT_TRUE(failure);
  EXPECT_TRUE(failure->commit_failed());
}

TEST_F(OvsdbServerTest, RefusesATransactionNamingAMissingBridge) {
  Json operations = Json::array({
      op::wait("Bridge", name_is("br-missing"), {"name"}, true,
               Json::array({{{"name", "br-missing"}}}), 0),
      op::insert("Interface", {{"name", "p1"}, {"type", "internal"}}, "iface"),
      op::insert("Port", {{"name", "p1"}, {"interfaces", datum::named_uuid("iface")}}, "port"),
      op::mutate(
          "Bridge", name_is("br-missing"),
          Json::array({mutation("ports", "insert", datum::set({datum::named_uuid("port")}))})),
  });
  std::optional<TransactFailure> failure;
  auto result = client_->transact("Open_vSwitch", operations, &failure);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message().find("transaction on Open_vSwitch at " + host_->remote() +
                                          ": operation 0 of 4 (wait Bridge) failed: timed out"),
            0u)
      << result.error().message();
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->op_index, 0u);
  // Nothing of the transaction was applied.
  auto ports =
      client_->transact("Open_vSwitch", Json::array({op::select("Port", name_is("p1"), {"name"})}));
  ASSERT_TRUE(ports.ok());
  EXPECT_TRUE((*ports)[0]["rows"].empty());
}

TEST_F(OvsdbServerTest, MonitorDeliversAnUpdateWhenAPortIsAdded) {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Json> updates;
  auto initial = client_->monitor(
      "Open_vSwitch", "ports", {{"Port", {{"columns", {"name", "tag"}}}}}, [&](const Json& update) {
        std::lock_guard lock(mutex);
        updates.push_back(update);
        changed.notify_all();
      });
  ASSERT_TRUE(initial.ok()) << initial.error().message();
  ASSERT_EQ((*initial)["Port"].size(), 1u);  // br-int's own port
  EXPECT_EQ((*initial)["Port"].begin().value()["new"]["name"], "br-int");

  Json operations = Json::array({
      op::insert("Interface", {{"name", "mon-p1"}, {"type", "internal"}}, "iface"),
      op::insert("Port",
                 {{"name", "mon-p1"}, {"interfaces", datum::named_uuid("iface")}, {"tag", 7}},
                 "port"),
      op::mutate(
          "Bridge", name_is("br-int"),
          Json::array({mutation("ports", "insert", datum::set({datum::named_uuid("port")}))})),
  });
  auto result = client_->transact("Open_vSwitch", operations);
  ASSERT_TRUE(result.ok()) << result.error().message();
  const std::string port_uuid = (*result)[1]["uuid"][1];

  std::unique_lock lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, 5s, [&] {
    for (const Json& update : updates) {
      if (update.contains("Port") && update["Port"].contains(port_uuid)) return true;
    }
    return false;
  })) << "no update for the new port";
  for (const Json& update : updates) {
    if (!update.contains("Port") || !update["Port"].contains(port_uuid)) continue;
    const Json& row = update["Port"][port_uuid];
    EXPECT_FALSE(row.contains("old"));  // an insert
    EXPECT_EQ(row["new"]["name"], "mon-p1");
    EXPECT_EQ(row["new"]["tag"], 7);
  }
  lock.unlock();

  ASSERT_TRUE(client_->monitor_cancel("ports").ok());
  auto again = client_->monitor_cancel("ports");
  ASSERT_FALSE(again.ok());  // the server no longer knows it
  EXPECT_TRUE(client_->connected());
}

TEST_F(OvsdbServerTest, AnswersTheServersInactivityProbeAndEchoes) {
  ASSERT_TRUE(client_->echo().ok());

  // A second listener the server probes every second: it drops a client that does not answer.
  const std::string probe_socket = host_->dir() + "/probe.sock";
  Json operations = Json::array({
      op::insert("Manager", {{"target", "punix:" + probe_socket}, {"inactivity_probe", 1000}},
                 "manager"),
      op::mutate("Open_vSwitch", Json::array(),
                 Json::array({mutation("manager_options", "insert",
                                       datum::set({datum::named_uuid("manager")}))})),
  });
  auto added = client_->transact("Open_vSwitch", operations);
  ASSERT_TRUE(added.ok()) << added.error().message();
  const auto deadline = Clock::now() + 5s;
  while (!std::filesystem::exists(probe_socket) && Clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(std::filesystem::exists(probe_socket));

  OvsdbClient::Options options;
  options.inactivity_probe = 0ms;  // only the server probes: this test is about answering it
  auto probed = OvsdbClient::connect("unix:" + probe_socket, options);
  ASSERT_TRUE(probed.ok()) << probed.error().message();
  std::this_thread::sleep_for(3500ms);  // > 3 probe intervals; an unanswered probe drops us after 2
  EXPECT_GE((*probed)->server_echoes_answered(), 2u);
  EXPECT_TRUE((*probed)->connected());
  auto dbs = (*probed)->list_dbs();
  EXPECT_TRUE(dbs.ok()) << dbs.error().message();
}

TEST_F(OvsdbServerTest, WaitsUntilOvsVswitchdAppliesNextCfg) {
  Json operations = Json::array({
      op::mutate(
          "Open_vSwitch", Json::array(),
          Json::array({mutation("external_ids", "insert", datum::map({{"ferry-test", "1"}}))})),
  });
  bump_next_cfg(operations);
  auto result = client_->transact("Open_vSwitch", operations);
  ASSERT_TRUE(result.ok()) << result.error().message();
  const std::int64_t next_cfg = next_cfg_of(*result);
  const auto start = Clock::now();
  auto applied = client_->wait_for_cur_cfg(next_cfg, 10s);
  ASSERT_TRUE(applied.ok()) << applied.error().message();
  EXPECT_LT(Clock::now() - start, 5s);
  auto cur = client_->transact(
      "Open_vSwitch", Json::array({op::select("Open_vSwitch", Json::array(), {"cur_cfg"})}));
  ASSERT_TRUE(cur.ok()) << cur.error().message();
  EXPECT_GE((*cur)[0]["rows"][0]["cur_cfg"].get<std::int64_t>(), next_cfg);

  // With ovs-vswitchd stopped nothing applies the next change: the wait says so after its timeout.
  auto vswitchd = host_->daemon_pid("ovs-vswitchd");
  ASSERT_TRUE(vswitchd.ok()) << vswitchd.error().message();
  ASSERT_EQ(::kill(*vswitchd, SIGKILL), 0);
  Json next = Json::array();
  bump_next_cfg(next);
  auto bumped = client_->transact("Open_vSwitch", next);
  ASSERT_TRUE(bumped.ok()) << bumped.error().message();
  auto stuck = client_->wait_for_cur_cfg(next_cfg_of(*bumped), 300ms);
  ASSERT_FALSE(stuck.ok());
  EXPECT_EQ(stuck.error().code(), Errc::timeout);
  EXPECT_NE(stuck.error().message().find("is ovs-vswitchd running"), std::string::npos)
      << stuck.error().message();
}

TEST_F(OvsdbServerTest, ReportsConnectionLostQuicklyWhenOvsdbServerDies) {
  auto server = host_->daemon_pid("ovsdb-server");
  ASSERT_TRUE(server.ok()) << server.error().message();
  // A request that would wait 30 s for an answer that never comes.
  auto waiting =
      std::async(std::launch::async, [&] { return client_->wait_for_cur_cfg(1'000'000, 30s); });
  std::this_thread::sleep_for(200ms);
  const auto start = Clock::now();
  ASSERT_EQ(::kill(*server, SIGKILL), 0);
  auto result = waiting.get();
  const auto took = Clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), Errc::connection_lost) << result.error().message();
  EXPECT_LT(took, 1s);
  EXPECT_NE(result.error().message().find(host_->remote()), std::string::npos)
      << result.error().message();

  const auto again_start = Clock::now();
  auto later = client_->list_dbs();
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code(), Errc::connection_lost);
  EXPECT_LT(Clock::now() - again_start, 100ms);
}

}  // namespace
}  // namespace ferry::ovs
