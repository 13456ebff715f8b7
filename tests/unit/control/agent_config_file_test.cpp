#include "engine/control/agent_config_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <utility>
#include <vector>

namespace ferry {
namespace {

class NamedDriver : public ResourceDriver {
 public:
  std::string_view name() const override { return "nfs"; }
  Result<nlohmann::json> inspect(const ResourceBinding&, const ResourceContext&) override {
    return nlohmann::json::object();
  }
  Result<ResourceBinding> prepare(const ResourceSpec&, const nlohmann::json&,
                                  const ResourceContext&) override {
    return ResourceBinding{};
  }
  Result<void> activate(ResourceBinding&, const ResourceContext&) override { return {}; }
  Result<void> deactivate(ResourceBinding&, const ResourceContext&) override { return {}; }
  Result<void> release(ResourceBinding&, const ResourceContext&) override { return {}; }
  Result<void> rollback(ResourceBinding&, const ResourceContext&) override { return {}; }
};

AgentConfig with_nfs_driver() {
  auto registry = std::make_shared<ResourceRegistry>();
  EXPECT_TRUE(registry->add(std::make_shared<NamedDriver>()).ok());
  AgentConfig config;
  config.resource_drivers = registry;
  return config;
}

TEST(AgentConfigFile, AppliesEveryKey) {
  AgentConfig config = with_nfs_driver();
  nlohmann::json doc = {
      {"host-name", "hosta"},
      {"listen", "10.0.0.1:7460"},
      {"state-dir", "/run/ferry-a"},
      {"ram-dir", "/dev/shm/a"},
      {"io-threads", 4},
      {"io-timeout-ms", 2500},
      {"resource-timeout-ms", 7000},
      {"api-listen", "127.0.0.1:7461"},
      {"resources", {{"nfs", {{"repositories", {{"sr1", {{"server", "10.0.0.9"}}}}}}}}}};
  ASSERT_TRUE(apply_agent_config(doc, "a.json", config).ok());
  EXPECT_EQ(config.host_name, "hosta");
  EXPECT_EQ(config.listen, "10.0.0.1:7460");
  EXPECT_EQ(config.state_dir, "/run/ferry-a");
  EXPECT_EQ(config.ram_dir, "/dev/shm/a");
  EXPECT_EQ(config.io_threads, 4u);
  EXPECT_EQ(config.io_timeout.count(), 2500);
  EXPECT_EQ(config.resource_timeout.count(), 7000);
  EXPECT_EQ(config.api_listen, "127.0.0.1:7461");
  EXPECT_EQ(config.host_resources["nfs"]["repositories"]["sr1"]["server"], "10.0.0.9");
}

TEST(AgentConfigFile, TlsFilesAndInsecure) {
  AgentConfig config = with_nfs_driver();
  ASSERT_TRUE(apply_agent_config({{"tls",
                                   {{"ca", "/etc/ferry/pki/ca.pem"},
                                    {"cert", "/etc/ferry/pki/hosta.pem"},
                                    {"key", "/etc/ferry/pki/hosta-key.pem"}}}},
                                 "a.json", config)
                  .ok());
  EXPECT_EQ(config.tls.ca, "/etc/ferry/pki/ca.pem");
  EXPECT_EQ(config.tls.cert, "/etc/ferry/pki/hosta.pem");
  EXPECT_EQ(config.tls.key, "/etc/ferry/pki/hosta-key.pem");
  EXPECT_FALSE(config.insecure);
  ASSERT_TRUE(apply_agent_config({{"insecure", true}}, "a.json", config).ok());
  EXPECT_TRUE(config.insecure);

  for (const auto& [doc, needle] : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"tls", {{"ca", "/ca.pem"}, {"cert", "/c.pem"}}}}, "needs all of"},
           {{{"tls", {{"ca", "/ca.pem"}, {"cert", "/c.pem"}, {"key", "/k"}, {"pin", "x"}}}},
            "tls.pin"},
           {{{"tls", {{"ca", ""}, {"cert", "/c.pem"}, {"key", "/k"}}}}, "tls.ca"},
           {{{"tls", "/etc/ferry/pki"}}, "must be an object"},
           {{{"insecure", "yes"}}, "true or false"}}) {
    AgentConfig fresh = with_nfs_driver();
    auto refused = apply_agent_config(doc, "a.json", fresh);
    ASSERT_FALSE(refused.ok()) << doc.dump();
    EXPECT_NE(refused.error().message().find(needle), std::string::npos)
        << refused.error().message();
    EXPECT_NE(refused.error().message().find("a.json"), std::string::npos);
  }
}

TEST(AgentConfigFile, ErrorsNameTheFileAndKey) {
  AgentConfig config = with_nfs_driver();
  auto typo = apply_agent_config({{"lisen", "x:1"}}, "a.json", config);
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.error().message(), "a.json: \"lisen\": unknown key");
  auto driver =
      apply_agent_config({{"resources", {{"iscsi", nlohmann::json::object()}}}}, "a.json", config);
  ASSERT_FALSE(driver.ok());
  EXPECT_NE(driver.error().message().find("a.json: \"resources.iscsi\": no resource driver"),
            std::string::npos);
  EXPECT_FALSE(apply_agent_config({{"io-threads", 0}}, "a.json", config).ok());
  EXPECT_FALSE(
      apply_agent_config({{"host-name", "b"}, {"listen", "nocolon"}}, "a.json", config).ok());
  EXPECT_EQ(config.host_name, "");  // nothing applied from a refused document
}

TEST(AgentConfigFile, LoadReportsMissingAndMalformedFiles) {
  AgentConfig config;
  auto missing = load_agent_config_file("/nonexistent/ferry.json", config);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/ferry.json"), std::string::npos);
  const std::string path = ::testing::TempDir() + "/ferry-agent-config-test.json";
  {
    std::ofstream out(path);
    out << "{\"host-name\": ";
  }
  auto malformed = load_agent_config_file(path, config);
  std::remove(path.c_str());
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.error().message().find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace ferry
