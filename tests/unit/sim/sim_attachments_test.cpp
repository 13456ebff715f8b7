#include "engine/vm/sim/sim_attachments.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using Json = nlohmann::json;

const Json kNic = {{"tap", "ft525400123456"},
                   {"mac", "52:54:00:12:34:56"},
                   {"ip", "10.88.0.10/24"},
                   {"qemu-netdev", "tap,id=net-nic0"},
                   {"qemu-device", "e1000,netdev=net-nic0"}};

TEST(SimAttachments, NoAttachmentsMeansNoNic) {
  auto none = sim_nic_from_attachments(Json());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto empty = sim_nic_from_attachments(Json::object());
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
}

TEST(SimAttachments, DisksAreIgnored) {
  auto nic = sim_nic_from_attachments(
      {{"disk0", {{"qemu-drive", "file=/srv/disk0.img,format=raw"}}}, {"nic0", kNic}});
  ASSERT_TRUE(nic.ok()) << nic.error().message();
  ASSERT_TRUE(nic->has_value());
  EXPECT_EQ((*nic)->tap, "ft525400123456");
  EXPECT_EQ((*nic)->mac, "52:54:00:12:34:56");
  EXPECT_EQ((*nic)->ip, "10.88.0.10/24");
  EXPECT_EQ((*nic)->netns, "");
}

TEST(SimAttachments, NamespaceIsCarried) {
  Json attach = kNic;
  attach["netns"] = "fpool-b";
  auto nic = sim_nic_from_attachments({{"nic0", attach}});
  ASSERT_TRUE(nic.ok()) << nic.error().message();
  EXPECT_EQ((*nic)->netns, "fpool-b");
}

TEST(SimAttachments, NicWithoutAddressIsRefusedNamingTheResource) {
  Json attach = kNic;
  attach.erase("ip");
  auto nic = sim_nic_from_attachments({{"nic0", attach}});
  ASSERT_FALSE(nic.ok());
  EXPECT_NE(nic.error().message().find("resource nic0"), std::string::npos);
  EXPECT_NE(nic.error().message().find("\"ip\""), std::string::npos);
}

TEST(SimAttachments, TwoNicsAreRefused) {
  Json other = kNic;
  other["tap"] = "ft525400123457";
  auto nic = sim_nic_from_attachments({{"nic0", kNic}, {"nic1", other}});
  ASSERT_FALSE(nic.ok());
  EXPECT_NE(nic.error().message().find("nic0 and nic1"), std::string::npos);
}

TEST(SimAttachments, WrongTypesAreRefused) {
  EXPECT_FALSE(sim_nic_from_attachments(Json::array()).ok());
  Json attach = kNic;
  attach["netns"] = 3;
  EXPECT_FALSE(sim_nic_from_attachments({{"nic0", attach}}).ok());
  attach = kNic;
  attach["mac"] = 5;
  EXPECT_FALSE(sim_nic_from_attachments({{"nic0", attach}}).ok());
}

}  // namespace
}  // namespace ferry
