// Mapping a VM description's NFS disk through a host configuration, and the QEMU drive it yields.
#include "drivers/storage/nfs/nfs_location.h"

#include <gtest/gtest.h>

namespace ferry::nfs {
namespace {

const nlohmann::json kHostConfig = {
    {"repositories",
     {{"sr1", {{"server", "10.0.0.1"}, {"export", "/srv/sr1/"}}},
      {"sr2",
       {{"server", "fd00::1"}, {"export", "/"}, {"nfs-port", 2049}, {"mount-port", 20048}}}}}};

nlohmann::json disk(const std::string& sr, const std::string& image) {
  return {{"id", "disk0"}, {"driver", "nfs"}, {"sr", sr}, {"image", image}};
}

TEST(NfsLocation, ResolvesThroughThisHostsRepository) {
  auto location = resolve_image(disk("sr1", "vm1/disk0.img"), kHostConfig);
  ASSERT_TRUE(location) << location.error().message();
  EXPECT_EQ(location->repository, "sr1");
  EXPECT_EQ(location->where.server, "10.0.0.1");
  EXPECT_EQ(location->where.export_path, "/srv/sr1");  // trailing slash dropped
  EXPECT_EQ(location->image_path(), "/vm1/disk0.img");
  EXPECT_EQ(location->record_path(), "/vm1/disk0.img.owner");
  EXPECT_EQ(location->display(), "10.0.0.1:/srv/sr1/vm1/disk0.img");
  EXPECT_FALSE(location->where.nfs_port);
  EXPECT_FALSE(libnfs_port_url(location->where));
  EXPECT_EQ(qemu_drive(*location), "file=nfs://10.0.0.1/srv/sr1/vm1/disk0.img,format=raw");
}

TEST(NfsLocation, FixedPortsGoIntoTheLibnfsUrlOnly) {
  auto location = resolve_image(disk("sr2", "d.img"), kHostConfig);
  ASSERT_TRUE(location) << location.error().message();
  EXPECT_EQ(libnfs_port_url(location->where), "nfs://[fd00::1]/?nfsport=2049&mountport=20048");
  EXPECT_EQ(qemu_drive(*location), "file=nfs://[fd00::1]/d.img,format=raw");
  EXPECT_EQ(location->display(), "fd00::1:/d.img");
}

TEST(NfsLocation, DriveEscapesCharactersQemuWouldSplitOn) {
  auto location = resolve_image(disk("sr1", "vm 1/a,b%c.img"), kHostConfig);
  ASSERT_TRUE(location) << location.error().message();
  const std::string drive = qemu_drive(*location);
  EXPECT_EQ(drive, "file=nfs://10.0.0.1/srv/sr1/vm%201/a%2Cb%25c.img,format=raw");
  EXPECT_EQ(drive.find(','), drive.find(",format=raw"));
}

TEST(NfsLocation, RefusesUnknownRepositoryNamingTheKnownOnes) {
  auto location = resolve_image(disk("sr9", "d.img"), kHostConfig);
  ASSERT_FALSE(location);
  EXPECT_EQ(location.error().code(), Errc::not_found);
  EXPECT_NE(location.error().message().find("\"sr9\""), std::string::npos);
  EXPECT_NE(location.error().message().find("sr1, sr2"), std::string::npos);
}

TEST(NfsLocation, RefusesImagePathsThatLeaveTheExport) {
  for (const char* image :
       {"/etc/passwd", "../x.img", "vm/../../x.img", "vm//x.img", "./x.img", "vm/"}) {
    auto location = resolve_image(disk("sr1", image), kHostConfig);
    ASSERT_FALSE(location) << image;
    EXPECT_EQ(location.error().code(), Errc::invalid_argument) << image;
    EXPECT_NE(location.error().message().find("image"), std::string::npos) << image;
  }
}

TEST(NfsLocation, RefusesBadConfiguration) {
  const nlohmann::json cases[] = {
      nlohmann::json::object(),
      {{"repositories", {{"sr1", {{"export", "/x"}}}}}},
      {{"repositories", {{"sr1", {{"server", "h"}, {"export", "relative"}}}}}},
      {{"repositories", {{"sr1", {{"server", "h"}, {"export", "/x"}, {"nfs-port", 70000}}}}}},
      {{"repositories", {{"sr1", {{"server", "h/x"}, {"export", "/x"}}}}}},
  };
  for (const auto& config : cases) {
    auto location = resolve_image(disk("sr1", "d.img"), config);
    ASSERT_FALSE(location) << config.dump();
    EXPECT_EQ(location.error().code(), Errc::invalid_argument) << config.dump();
  }
  auto missing = resolve_image({{"id", "disk0"}, {"sr", "sr1"}}, kHostConfig);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("\"image\""), std::string::npos);
}

TEST(NfsLocation, RoundTripsThroughBindingState) {
  auto location = resolve_image(disk("sr2", "vm1/d.img"), kHostConfig);
  ASSERT_TRUE(location);
  auto again = NfsImageLocation::from_json(location->to_json());
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->display(), location->display());
  EXPECT_EQ(again->where.mount_port, 20048);
  EXPECT_EQ(again->repository, "sr2");
}

}  // namespace
}  // namespace ferry::nfs
