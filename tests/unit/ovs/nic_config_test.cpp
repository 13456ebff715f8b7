#include "drivers/net/ovs/nic_config.h"

#include <gtest/gtest.h>

#include "drivers/net/ovs/nic_binding_state.h"

namespace ferry::ovs {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

ResourceSpec nic(Json params) {
  params["id"] = "nic0";
  params["driver"] = "ovs";
  return ResourceSpec{"nic0", "ovs", params};
}

Json host_config() {
  return {{"ovs",
           {{"db", "unix:/run/ovs/db.sock"},
            {"networks",
             {{"net0", {{"bridge", "br-int"}, {"tag", 10}}}, {"trunk", {{"bridge", "br-ex"}}}}}}}};
}

TEST(NicConfigTest, ReadsANicAndDerivesItsTapFromTheMac) {
  auto parsed = parse_nic_spec(nic({{"network", "net0"},
                                    {"mac", "52:54:00:12:34:56"},
                                    {"ip", "10.88.0.10/24"},
                                    {"external-ids", {{"vm-id", "web-1"}}}}));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->id, "nic0");
  EXPECT_EQ(parsed->network, "net0");
  EXPECT_EQ(format_mac(parsed->mac), "52:54:00:12:34:56");
  EXPECT_EQ(parsed->ip, 0x0a58000au);
  EXPECT_EQ(parsed->tap, "ft525400123456");
  EXPECT_LE(parsed->tap.size(), 15u);
  EXPECT_EQ(parsed->external_ids.at("vm-id"), "web-1");

  auto named =
      parse_nic_spec(nic({{"network", "n"}, {"mac", "52:54:00:00:00:01"}, {"tap", "vm1"}}));
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->tap, "vm1");
  EXPECT_FALSE(named->ip.has_value());
}

TEST(NicConfigTest, RefusesBadNicsNamingTheResourceAndTheKey) {
  const struct {
    Json params;
    const char* mentions;
  } cases[] = {
      {{{"mac", "52:54:00:12:34:56"}}, "\"network\" is missing"},
      {{{"network", "net0"}}, "\"mac\" is missing"},
      {{{"network", "net0"}, {"mac", "52:54:00:12:34"}}, "52:54:00:12:34"},
      {{{"network", 7}, {"mac", "52:54:00:12:34:56"}}, "\"network\" must be a non-empty string"},
      {{{"network", "net0"}, {"mac", "52:54:00:12:34:56"}, {"ip", "10.0.0"}}, "10.0.0"},
      {{{"network", "net0"}, {"mac", "52:54:00:12:34:56"}, {"tap", "a-very-long-tap-name"}},
       "a-very-long-tap-name"},
      {{{"network", "net0"}, {"mac", "52:54:00:12:34:56"}, {"tap", "bad/name"}}, "bad/name"},
      {{{"network", "net0"}, {"mac", "52:54:00:12:34:56"}, {"external-ids", {{"vm-id", 3}}}},
       "external-ids \"vm-id\""},
  };
  for (const auto& c : cases) {
    auto parsed = parse_nic_spec(nic(c.params));
    ASSERT_FALSE(parsed.ok()) << c.params.dump();
    EXPECT_EQ(parsed.error().code(), Errc::invalid_argument);
    EXPECT_NE(parsed.error().message().find("NIC nic0"), std::string::npos)
        << parsed.error().message();
    EXPECT_NE(parsed.error().message().find(c.mentions), std::string::npos)
        << parsed.error().message();
  }
}

TEST(NicConfigTest, ReadsTheHostsOvsSection) {
  Json config = host_config();
  config["ovs"]["netns"] = "hostA";
  config["ovs"]["announce"] = {{"rounds", 3}, {"initial-ms", 20}, {"step-ms", 30}};
  auto parsed = parse_ovs_host_config(config, "hostA");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->db, "unix:/run/ovs/db.sock");
  EXPECT_EQ(parsed->netns, "hostA");
  EXPECT_EQ(parsed->quarantine_bridge, "br-quarantine");
  EXPECT_EQ(parsed->networks.at("net0").bridge, "br-int");
  EXPECT_EQ(parsed->networks.at("net0").tag, 10);
  EXPECT_FALSE(parsed->networks.at("trunk").tag.has_value());
  EXPECT_EQ(parsed->announce.rounds, 3);
  EXPECT_EQ(parsed->announce.gap_before(1), 20ms);
  EXPECT_EQ(parsed->announce.gap_before(2), 50ms);

  auto defaults = parse_ovs_host_config(host_config(), "hostA");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->announce.rounds, 5);  // QEMU's announce-self defaults
  EXPECT_EQ(defaults->announce.gap_before(1), 50ms);
  EXPECT_EQ(defaults->announce.gap_before(4), 350ms);
}

TEST(NicConfigTest, RefusesBadHostSectionsNamingTheHost) {
  auto missing = parse_ovs_host_config(Json{{"nfs", Json::object()}}, "hostB");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  EXPECT_NE(missing.error().message().find("hostB"), std::string::npos);

  const struct {
    const char* pointer;
    Json value;
    const char* mentions;
  } cases[] = {
      {"/ovs/db", nullptr, "\"db\" is missing"},
      {"/ovs/networks/net0/tag", 4096, "VLAN id 0..4095"},
      {"/ovs/networks/net0/bridge", "", "\"bridge\" must be a non-empty string"},
      {"/ovs/networks/net0/colour", "red", "unknown key \"colour\""},
      {"/ovs/bridges", "br-int", "unknown key \"bridges\""},
      {"/ovs/networks", Json::array(), "\"networks\" must be an object"},
      {"/ovs/quarantine-bridge", "br-int", "maps to the quarantine bridge"},
      {"/ovs/announce", Json{{"rounds", 0}}, "\"rounds\" must be 1..100"},
      {"/ovs/announce", Json{{"step-ms", -1}}, "\"step-ms\" must be milliseconds"},
  };
  for (const auto& c : cases) {
    Json config = host_config();
    const Json::json_pointer pointer(c.pointer);
    if (c.value.is_null()) {
      config[pointer.parent_pointer()].erase(pointer.back());
    } else {
      config[pointer] = c.value;
    }
    auto parsed = parse_ovs_host_config(config, "hostB");
    ASSERT_FALSE(parsed.ok()) << config.dump();
    EXPECT_EQ(parsed.error().code(), Errc::invalid_argument);
    EXPECT_NE(parsed.error().message().find("host hostB"), std::string::npos)
        << parsed.error().message();
    EXPECT_NE(parsed.error().message().find(c.mentions), std::string::npos)
        << parsed.error().message();
  }
}

TEST(NicConfigTest, InterfaceExternalIdsCarryTheMacAndTheStatus) {
  auto parsed = parse_nic_spec(nic(
      {{"network", "net0"}, {"mac", "52:54:00:12:34:56"}, {"external-ids", {{"vm-id", "web-1"}}}}));
  ASSERT_TRUE(parsed.ok());
  const std::map<std::string, std::string> inactive = {{"vm-id", "web-1"},
                                                       {"iface-id", "nic0"},
                                                       {"attached-mac", "52:54:00:12:34:56"},
                                                       {"iface-status", "inactive"}};
  EXPECT_EQ(interface_external_ids(*parsed, false), inactive);
  EXPECT_EQ(interface_external_ids(*parsed, true).at("iface-status"), "active");

  parsed->external_ids["iface-id"] = "port-7";
  parsed->external_ids["iface-status"] = "stale";  // the driver owns the status
  EXPECT_EQ(interface_external_ids(*parsed, true).at("iface-id"), "port-7");
  EXPECT_EQ(interface_external_ids(*parsed, true).at("iface-status"), "active");
}

TEST(NicBindingStateTest, PlansFromTheHostConfigAndSurvivesJson) {
  auto parsed = parse_nic_spec(nic({{"network", "net0"}, {"mac", "52:54:00:12:34:56"}}));
  auto config = parse_ovs_host_config(host_config(), "hostA");
  ASSERT_TRUE(parsed.ok() && config.ok());
  auto state = NicBindingState::plan(*parsed, *config, "hostA");
  ASSERT_TRUE(state.ok()) << state.error().message();
  EXPECT_EQ(state->tap, "ft525400123456");
  EXPECT_EQ(state->bridge, "br-int");
  EXPECT_EQ(state->tag, 10);
  EXPECT_EQ(state->quarantine_bridge, "br-quarantine");
  auto again = NicBindingState::from_json(state->to_json(), "nic0");
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->to_json(), state->to_json());

  Json broken = state->to_json();
  broken.erase("tap");
  auto refused = NicBindingState::from_json(broken, "nic0");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("\"tap\""), std::string::npos);

  parsed->network = "net9";
  auto unmapped = NicBindingState::plan(*parsed, *config, "hostA");
  ASSERT_FALSE(unmapped.ok());
  EXPECT_EQ(unmapped.error().code(), Errc::not_found);
  EXPECT_NE(unmapped.error().message().find("\"net9\""), std::string::npos);
  EXPECT_NE(unmapped.error().message().find("host hostA"), std::string::npos);
}

}  // namespace
}  // namespace ferry::ovs
