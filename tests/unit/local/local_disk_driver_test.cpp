// The "local" disk driver on a real directory: paths, creation with the source's size, refusal to
// overwrite, rollback, and the stale copy removed only after a committed migration.
#include "drivers/storage/local/local_disk_driver.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "drivers/storage/local/local_disk_location.h"

namespace ferry::local {
namespace {

class LocalDiskDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ferry-t-local-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    context_.host = "hosta";
    context_.host_config = {{"local", {{"directory", dir_}}}};
    spec_ = {"disk0", "local", {{"id", "disk0"}, {"driver", "local"}, {"image", "vm1/d.img"}}};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  uint64_t size_of(const std::string& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_size) : 0;
  }

  std::string dir_;
  ResourceContext context_;
  ResourceSpec spec_;
  LocalDiskDriver driver_;
};

TEST_F(LocalDiskDriverTest, PathsStayInsideTheDirectory) {
  for (const char* bad : {"/etc/passwd", "../x.img", "vm1/../../x", "a//b", "a,b=c", ""}) {
    ResourceSpec spec = spec_;
    spec.params["image"] = bad;
    EXPECT_FALSE(locate_local_disk(spec, context_).ok()) << bad;
  }
  auto location = locate_local_disk(spec_, context_);
  ASSERT_TRUE(location.ok()) << location.error().message();
  EXPECT_EQ(location->path, dir_ + "/vm1/d.img");
  EXPECT_EQ(local_qemu_drive(*location), "file=" + dir_ + "/vm1/d.img,format=raw");
  ResourceContext no_section = context_;
  no_section.host_config = nlohmann::json::object();
  EXPECT_FALSE(locate_local_disk(spec_, no_section).ok());
}

TEST_F(LocalDiskDriverTest, DestinationCreatesTheDiskWithTheSourcesSizeAndRollsBack) {
  auto prepared = driver_.prepare(spec_, {{"size", 1 << 20}}, context_);
  ASSERT_TRUE(prepared.ok()) << prepared.error().message();
  const std::string path = dir_ + "/vm1/d.img";
  EXPECT_EQ(size_of(path), 1u << 20);
  EXPECT_EQ(prepared->attach["copy"], "mirror");
  auto facts = driver_.inspect(*prepared, context_);
  ASSERT_TRUE(facts.ok());
  EXPECT_EQ((*facts)["size"], 1 << 20);

  // A second prepare must not overwrite the disk that now exists.
  auto again = driver_.prepare(spec_, {{"size", 1 << 20}}, context_);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message().find("exists already"), std::string::npos);
  EXPECT_EQ(size_of(path), 1u << 20);

  ASSERT_TRUE(driver_.rollback(*prepared, context_).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(driver_.rollback(*prepared, context_).ok());  // idempotent
}

TEST_F(LocalDiskDriverTest, BadFactsAreRefused) {
  EXPECT_FALSE(driver_.prepare(spec_, {{"size", 1000}}, context_).ok());
  EXPECT_FALSE(driver_.prepare(spec_, {{"fileid", 3}}, context_).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/vm1/d.img"));
}

TEST_F(LocalDiskDriverTest, StartingAGuestNeedsItsDiskAndStoppingKeepsIt) {
  auto missing = driver_.prepare(spec_, nullptr, context_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  std::filesystem::create_directories(dir_ + "/vm1");
  std::filesystem::resize_file(
      (std::ofstream(dir_ + "/vm1/d.img"), std::filesystem::path(dir_ + "/vm1/d.img")), 4096);
  auto started = driver_.prepare(spec_, nullptr, context_);
  ASSERT_TRUE(started.ok()) << started.error().message();
  ASSERT_TRUE(driver_.release(*started, context_).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/vm1/d.img")) << "a stopped guest keeps its disk";
  // Its own disk is never removed by a rollback.
  ASSERT_TRUE(driver_.rollback(*started, context_).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/vm1/d.img"));
  ResourceContext moved = context_;
  moved.moved_away = true;
  ASSERT_TRUE(driver_.release(*started, moved).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/vm1/d.img")) << "the stale copy goes";
}

TEST_F(LocalDiskDriverTest, AFullDiskRefusesBeforeAnythingIsCopied) {
  // More than any test machine has free: posix_fallocate fails with ENOSPC and nothing remains.
  auto prepared = driver_.prepare(spec_, {{"size", uint64_t{1} << 42}}, context_);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.error().code(), Errc::no_space) << prepared.error().message();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/vm1/d.img"));
}

}  // namespace
}  // namespace ferry::local
