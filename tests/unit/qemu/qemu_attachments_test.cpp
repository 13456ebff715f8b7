#include "engine/vm/qemu/qemu_attachments.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(QemuAttachments, DisksGetIdeIndexesNicsGetNetdevAndDevice) {
  nlohmann::json attachments = {
      {"disk0", {{"qemu-drive", "file=nfs://10.0.0.1/sr/a.img,format=raw"}}},
      {"disk1",
       {{"qemu-drive", "file=iscsi://10.0.0.1/iqn.x/1,format=raw"},
        {"qemu-args", {"-iscsi", "initiator-name=iqn.h:b"}}}},
      {"nic0",
       {{"qemu-netdev", "tap,id=n0,ifname=t0,script=no,downscript=no"},
        {"qemu-device", "e1000,netdev=n0,mac=52:54:00:00:00:01"}}},
      {"sim-only", {{"tap", "t1"}}}};
  auto args = qemu_device_args(attachments);
  ASSERT_TRUE(args.ok()) << args.error().message();
  std::vector<std::string> expected = {
      "-drive",
      "file=nfs://10.0.0.1/sr/a.img,format=raw,if=ide,index=0,id=disk-disk0,node-name=disk-disk0-"
      "format",
      "-drive",
      "file=iscsi://10.0.0.1/iqn.x/1,format=raw,if=ide,index=1,id=disk-disk1,node-name=disk-disk1-"
      "format",
      "-iscsi",
      "initiator-name=iqn.h:b",
      "-netdev",
      "tap,id=n0,ifname=t0,script=no,downscript=no",
      "-device",
      "e1000,netdev=n0,mac=52:54:00:00:00:01"};
  EXPECT_EQ(args.value(), expected);
}

TEST(QemuAttachments, DriveNamesAreValidQemuIdsAndTheSameEverywhere) {
  EXPECT_EQ(qemu_drive_id("disk0"), "disk-disk0");
  EXPECT_EQ(qemu_drive_node("disk0"), "disk-disk0-format");
  EXPECT_EQ(qemu_drive_id("root disk/1,x=y"), "disk-root_disk_1_x_y");
}

TEST(QemuAttachments, MalformedAttachmentsNameTheResource) {
  auto half = qemu_device_args({{"nic0", {{"qemu-netdev", "tap,id=n0"}}}});
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.error().message().find("resource nic0"), std::string::npos);
  auto empty = qemu_device_args({{"disk0", {{"qemu-drive", ""}}}});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message().find("resource disk0"), std::string::npos);
  nlohmann::json five = nlohmann::json::object();
  for (int i = 0; i < 5; ++i) five["d" + std::to_string(i)] = {{"qemu-drive", "file=x"}};
  EXPECT_FALSE(qemu_device_args(five).ok());
  EXPECT_TRUE(qemu_device_args(nullptr).ok());
}

}  // namespace
}  // namespace ferry
