// OvsBridge against a real ovsdb-server and ovs-vswitchd (userspace datapath), one per test.
#include "drivers/net/ovs/ovs_bridge.h"

#include <gtest/gtest.h>

#include "drivers/net/ovs/ovsdb_operations.h"
#include "tests/unit/ovs/ovs_test_host.h"
#include "tests/unit/ovs/test_command.h"

namespace ferry::ovs {
namespace {

using namespace std::chrono_literals;

class OvsBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = OvsTestHost::unavailable_reason()) GTEST_SKIP() << *reason;
    auto host = OvsTestHost::start();
    ASSERT_TRUE(host.ok()) << host.error().message();
    host_ = std::move(host).value();
    auto client = OvsdbClient::connect(host_->remote());
    ASSERT_TRUE(client.ok()) << client.error().message();
    client_ = std::move(client).value();
    bridges_ = std::make_unique<OvsBridge>(*client_);
  }
  void TearDown() override {
    bridges_.reset();
    client_.reset();
    host_.reset();
  }

  // Whether the network device exists in the host's namespace: proof the datapath has the port.
  bool device_exists(const std::string& name) {
    auto shown = run_command({"ip", "-n", host_->netns(), "link", "show", "dev", name});
    return shown.ok() && shown->exit_status == 0;
  }

  std::unique_ptr<OvsTestHost> host_;
  std::unique_ptr<OvsdbClient> client_;
  std::unique_ptr<OvsBridge> bridges_;
};

TEST_F(OvsBridgeTest, AddsAnInternalPortWithExternalIdsAndTagThenDeletesIt) {
  ASSERT_TRUE(*bridges_->bridge_exists("br-int"));
  EXPECT_FALSE(*bridges_->bridge_exists("br-nope"));
  EXPECT_FALSE(bridges_->find_port("vm1-eth0")->has_value());

  const PortSpec spec{
      .bridge = "br-int",
      .name = "vm1-eth0",
      .type = "internal",
      .external_ids = {{"iface-id", "vm1-nic0"}, {"attached-mac", "52:54:00:12:34:56"}},
      .vlan_tag = 100};
  auto added = bridges_->add_port(spec);
  ASSERT_TRUE(added.ok()) << added.error().message();
  EXPECT_EQ(added->name, "vm1-eth0");
  EXPECT_EQ(added->bridge, "br-int");
  EXPECT_EQ(added->type, "internal");
  EXPECT_EQ(added->vlan_tag, 100);
  EXPECT_EQ(added->external_ids, spec.external_ids);
  ASSERT_TRUE(added->ofport.has_value());
  EXPECT_GT(*added->ofport, 0);
  EXPECT_TRUE(added->interface_error.empty());
  EXPECT_TRUE(device_exists("vm1-eth0"));

  auto found = bridges_->find_port("vm1-eth0");
  ASSERT_TRUE(found.ok()) << found.error().message();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->uuid, added->uuid);

  ASSERT_TRUE(bridges_->delete_port("br-int", "vm1-eth0").ok());
  EXPECT_FALSE(bridges_->find_port("vm1-eth0")->has_value());
  EXPECT_FALSE(device_exists("vm1-eth0"));
  // Repeating the delete is fine: rollback may run twice.
  auto again = bridges_->delete_port("br-int", "vm1-eth0");
  EXPECT_TRUE(again.ok()) << again.error().message();
}

TEST_F(OvsBridgeTest, AddsAnUntaggedPortForAnExistingDeviceAndATapPort) {
  ASSERT_TRUE(run_checked({"ip", "-n", host_->netns(), "link", "add", "vif-a", "type", "veth",
                           "peer", "name", "vif-b"})
                  .ok());
  auto system = bridges_->add_port({.bridge = "br-int", .name = "vif-a", .type = ""});
  ASSERT_TRUE(system.ok()) << system.error().message();
  EXPECT_FALSE(system->vlan_tag.has_value());
  EXPECT_TRUE(system->external_ids.empty());
  EXPECT_GT(system->ofport.value_or(-1), 0);

  auto tap = bridges_->add_port({.bridge = "br-int", .name = "vm2-tap0", .type = "tap"});
  ASSERT_TRUE(tap.ok()) << tap.error().message();
  EXPECT_GT(tap->ofport.value_or(-1), 0);
  EXPECT_TRUE(device_exists("vm2-tap0"));
}

TEST_F(OvsBridgeTest, RefusesAMissingBridgeAndADuplicatePort) {
  auto missing = bridges_->add_port({.bridge = "br-missing", .name = "p1", .type = "internal"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  EXPECT_EQ(missing.error().message(), "add port p1 to bridge br-missing at " + host_->remote() +
                                           ": bridge br-missing does not exist");
  EXPECT_FALSE(bridges_->find_port("p1")->has_value());

  ASSERT_TRUE(bridges_->add_port({.bridge = "br-int", .name = "p1", .type = "internal"}).ok());
  auto duplicate =
      bridges_->add_port({.bridge = "br-int", .name = "p1", .type = "internal", .vlan_tag = 5});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code(), Errc::invalid_argument);
  EXPECT_NE(duplicate.error().message().find("a port named p1 already exists on bridge br-int"),
            std::string::npos)
      << duplicate.error().message();
  EXPECT_FALSE((*bridges_->find_port("p1"))->vlan_tag.has_value());  // the first one is untouched

  auto bad_tag =
      bridges_->add_port({.bridge = "br-int", .name = "p2", .type = "internal", .vlan_tag = 4096});
  ASSERT_FALSE(bad_tag.ok());
  EXPECT_EQ(bad_tag.error().code(), Errc::invalid_argument);

  auto no_bridge = bridges_->delete_port("br-missing", "p-none");
  ASSERT_FALSE(no_bridge.ok());
  EXPECT_EQ(no_bridge.error().code(), Errc::not_found);
  EXPECT_NE(no_bridge.error().message().find("bridge br-missing does not exist"),
            std::string::npos);
}

TEST_F(OvsBridgeTest, RefusesToDeleteAPortFromTheWrongBridge) {
  // A second bridge, made with plain operations.
  Json operations = Json::array({
      op::insert("Interface", {{"name", "br-two"}, {"type", "internal"}}, "iface"),
      op::insert("Port", {{"name", "br-two"}, {"interfaces", datum::named_uuid("iface")}}, "port"),
      op::insert(
          "Bridge",
          {{"name", "br-two"}, {"datapath_type", "netdev"}, {"ports", datum::named_uuid("port")}},
          "bridge"),
      op::mutate(
          "Open_vSwitch", Json::array(),
          Json::array({mutation("bridges", "insert", datum::set({datum::named_uuid("bridge")}))})),
  });
  ASSERT_TRUE(client_->transact("Open_vSwitch", operations).ok());
  ASSERT_TRUE(bridges_->add_port({.bridge = "br-two", .name = "p2", .type = "internal"}).ok());

  auto wrong = bridges_->delete_port("br-int", "p2");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), Errc::invalid_argument);
  EXPECT_NE(wrong.error().message().find("the port is on bridge br-two"), std::string::npos)
      << wrong.error().message();
  EXPECT_EQ((*bridges_->find_port("p2"))->bridge, "br-two");
  EXPECT_TRUE(bridges_->delete_port("br-two", "p2").ok());
}

TEST_F(OvsBridgeTest, RemovesAPortOvsVswitchdCannotOpenAndSaysWhy) {
  auto missing_device = bridges_->add_port({.bridge = "br-int", .name = "no-such-dev", .type = ""});
  ASSERT_FALSE(missing_device.ok());
  EXPECT_EQ(missing_device.error().code(), Errc::io);
  EXPECT_NE(
      missing_device.error().message().find("ovs-vswitchd could not open interface no-such-dev"),
      std::string::npos)
      << missing_device.error().message();
  EXPECT_FALSE(bridges_->find_port("no-such-dev")->has_value());
}

}  // namespace
}  // namespace ferry::ovs
