#include "drivers/storage/iscsi/iscsi_disk_config.h"

#include <gtest/gtest.h>

#include "drivers/storage/iscsi/reservation_key.h"

namespace ferry::iscsi {
namespace {

ResourceSpec disk(nlohmann::json params) {
  params["id"] = "disk0";
  params["driver"] = "iscsi";
  return ResourceSpec{"disk0", "iscsi", params};
}

nlohmann::json host(nlohmann::json section) {
  return {{"iscsi", section}};
}

const nlohmann::json kSpec = {{"sr", "sr1"}, {"target", "iqn.2026-11.test:disk1"}, {"lun", 1}};
const nlohmann::json kSection = {
    {"initiator", "iqn.2026-11.pool:hosta"},
    {"repositories", {{"sr1", {{"portals", {"10.0.0.1:3260", "10.0.0.2"}}}}}}};

TEST(IscsiDiskConfig, JoinsTheResourceWithThisHostsAccess) {
  auto config = iscsi_disk_config(disk(kSpec), host(kSection));
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->resource, "disk0");
  EXPECT_EQ(config->repository, "sr1");
  EXPECT_EQ(config->target, "iqn.2026-11.test:disk1");
  EXPECT_EQ(config->lun, 1);
  EXPECT_EQ(config->initiator, "iqn.2026-11.pool:hosta");
  EXPECT_EQ(config->portals, (std::vector<std::string>{"10.0.0.1:3260", "10.0.0.2:3260"}));
  EXPECT_EQ(config->key, reservation_key_for("iqn.2026-11.pool:hosta"));
  EXPECT_EQ(config->ownership, Ownership::registration);
}

TEST(IscsiDiskConfig, ReadsKeyAndOwnershipWithRepositoryOverride) {
  auto section = kSection;
  section["reservation-key"] = "0xabc";
  section["ownership"] = "registration";
  section["repositories"]["sr1"]["ownership"] = "reservation";
  section["repositories"]["sr1"]["portals"] = {"[::1]:3261", "[fe80::1]"};
  auto config = iscsi_disk_config(disk(kSpec), host(section));
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->key, 0xabcu);
  EXPECT_EQ(config->ownership, Ownership::reservation);
  EXPECT_EQ(config->portals, (std::vector<std::string>{"[::1]:3261", "[fe80::1]:3260"}));
}

TEST(IscsiDiskConfig, UnmappedRepositoryIsNotFoundAndNamed) {
  auto spec = kSpec;
  spec["sr"] = "sr9";
  auto config = iscsi_disk_config(disk(spec), host(kSection));
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), Errc::not_found);
  EXPECT_NE(config.error().message().find("\"sr9\""), std::string::npos)
      << config.error().message();
}

TEST(IscsiDiskConfig, RefusesBadInput) {
  struct Case {
    nlohmann::json spec;
    nlohmann::json section;
    std::string mentions;
  };
  auto without = [](nlohmann::json j, const char* key) {
    j.erase(key);
    return j;
  };
  auto with = [](nlohmann::json j, const char* key, nlohmann::json value) {
    j[key] = std::move(value);
    return j;
  };
  auto portals = [](nlohmann::json list) {
    auto section = kSection;
    section["repositories"]["sr1"]["portals"] = std::move(list);
    return section;
  };
  const std::vector<Case> cases = {
      {without(kSpec, "target"), kSection, "\"target\""},
      {with(kSpec, "target", "disk1"), kSection, "not an iSCSI name"},
      {with(kSpec, "target", "iqn.2026-11.test:disk1,file=/etc/passwd"), kSection, "characters"},
      {with(kSpec, "lun", "1"), kSection, "\"lun\""},
      {with(kSpec, "lun", -1), kSection, "\"lun\""},
      {without(kSpec, "sr"), kSection, "\"sr\""},
      {kSpec, without(kSection, "initiator"), "\"initiator\""},
      {kSpec, with(kSection, "initiator", "hosta"), "resources.iscsi.initiator"},
      {kSpec, with(kSection, "reservation-key", "0x0"), "reservation-key"},
      {kSpec, with(kSection, "reservation-key", "xyz"), "reservation-key"},
      {kSpec, with(kSection, "ownership", "exclusive"), "\"ownership\""},
      {kSpec, portals(nlohmann::json::array()), "\"portals\""},
      {kSpec, portals({"10.0.0.1:99999"}), "invalid port"},
      {kSpec, portals({"10.0.0.1:"}), "empty port"},
      {kSpec, portals({"fe80::1"}), "[addr]:port"},
      {kSpec, portals({"10.0.0.1/x"}), "characters"},
  };
  for (const auto& c : cases) {
    auto config = iscsi_disk_config(disk(c.spec), host(c.section));
    ASSERT_FALSE(config) << c.spec.dump() << " " << c.section.dump();
    EXPECT_NE(config.error().message().find(c.mentions), std::string::npos)
        << "expected \"" << c.mentions << "\" in: " << config.error().message();
  }
  auto no_section = iscsi_disk_config(disk(kSpec), nlohmann::json::object());
  ASSERT_FALSE(no_section);
  EXPECT_NE(no_section.error().message().find("resources.iscsi"), std::string::npos);
}

TEST(IscsiDiskConfig, BuildsUrlAndQemuDrive) {
  EXPECT_EQ(iscsi_url("127.0.0.1:3261", "iqn.2026-11.test:disk1", 2),
            "iscsi://127.0.0.1:3261/iqn.2026-11.test:disk1/2");
  EXPECT_EQ(qemu_drive("127.0.0.1:3261", "iqn.2026-11.test:disk1", 2, "iqn.2026-11.pool:hostb"),
            "file=iscsi://127.0.0.1:3261/iqn.2026-11.test:disk1/2,format=raw,"
            "file.initiator-name=iqn.2026-11.pool:hostb");
}

}  // namespace
}  // namespace ferry::iscsi
