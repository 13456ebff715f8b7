// The ownership record's format and who may change it at each step.
#include "drivers/storage/nfs/ownership_rules.h"

#include <gtest/gtest.h>

#include "drivers/storage/nfs/nfs_image_facts.h"
#include "drivers/storage/nfs/ownership_record.h"

namespace ferry::nfs {
namespace {

constexpr std::string_view kPath = "srv:/export/d.img.owner";

OwnershipRecord owned(const std::string& host, uint64_t generation = 3) {
  OwnershipRecord record;
  record.generation = generation;
  record.owner = host;
  record.changed_by = host;
  return record;
}

OwnershipRecord released(const std::string& host, uint64_t generation = 4) {
  OwnershipRecord record;
  record.generation = generation;
  record.released_by = host;
  record.changed_by = host;
  return record;
}

TEST(OwnershipRecord, EncodesAndDecodes) {
  for (const auto& record : {owned("hosta"), released("hostb"), OwnershipRecord{}}) {
    auto decoded = OwnershipRecord::decode(record.encode(), kPath);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded.value(), record);
  }
  EXPECT_EQ(owned("hosta").describe(), "owned by hosta");
  EXPECT_EQ(released("hosta").describe(), "released by hosta");
  EXPECT_EQ(OwnershipRecord{}.describe(), "never owned");
}

TEST(OwnershipRecord, RefusesCorruptText) {
  for (const char* text :
       {"", "garbage", "{}", R"({"format":2,"generation":1})", R"({"format":1,"generation":-1})",
        R"({"format":1,"generation":1,"owner":"a","released-by":"b"})",
        R"({"format":1,"generation":1,"owner":""})"}) {
    auto decoded = OwnershipRecord::decode(text, kPath);
    ASSERT_FALSE(decoded) << text;
    EXPECT_EQ(decoded.error().code(), Errc::corrupt) << text;
    EXPECT_NE(decoded.error().message().find(kPath), std::string::npos) << text;
  }
}

TEST(OwnershipRules, ActivateTakesAFreeRecord) {
  for (const auto& current : {OwnershipRecord{}, released("hosta"), released("hostc")}) {
    auto change = plan_activate(current, "hostb", std::nullopt, kPath);
    ASSERT_TRUE(change) << change.error().message();
    ASSERT_TRUE(change.value());
    EXPECT_EQ(change.value()->owner, "hostb");
    EXPECT_FALSE(change.value()->released_by);
  }
}

TEST(OwnershipRules, ActivateIsIdempotent) {
  auto change = plan_activate(owned("hostb"), "hostb", std::string("hosta"), kPath);
  ASSERT_TRUE(change);
  EXPECT_FALSE(change.value());
}

TEST(OwnershipRules, ActivateNeverTakesARecordAnotherHostOwns) {
  auto before_release = plan_activate(owned("hosta"), "hostb", std::string("hosta"), kPath);
  ASSERT_FALSE(before_release);
  EXPECT_EQ(before_release.error().code(), Errc::rejected);
  EXPECT_NE(before_release.error().message().find("has not released"), std::string::npos);

  // The source's own re-activation after the destination took the disk.
  auto source_again = plan_activate(owned("hostb"), "hosta", std::nullopt, kPath);
  ASSERT_FALSE(source_again);
  EXPECT_NE(source_again.error().message().find("names host hostb"), std::string::npos);
}

TEST(OwnershipRules, DestinationTakesOnlyTheSourcesRelease) {
  auto from_source = plan_activate(released("hosta"), "hostb", std::string("hosta"), kPath);
  ASSERT_TRUE(from_source);
  ASSERT_TRUE(from_source.value());
  for (const auto& current : {released("hostc"), OwnershipRecord{}}) {
    auto change = plan_activate(current, "hostb", std::string("hosta"), kPath);
    ASSERT_FALSE(change) << current.describe();
    EXPECT_EQ(change.error().code(), Errc::rejected);
    EXPECT_NE(change.error().message().find("from host hosta"), std::string::npos);
  }
}

TEST(OwnershipRules, DeactivateReleasesOnlyWhatThisHostOwns) {
  auto change = plan_deactivate(owned("hosta"), "hosta");
  ASSERT_TRUE(change);
  EXPECT_FALSE(change->owner);
  EXPECT_EQ(change->released_by, "hosta");
  EXPECT_FALSE(plan_deactivate(released("hosta"), "hosta"));  // again: nothing to do
  EXPECT_FALSE(plan_deactivate(owned("hostb"), "hosta"));
  EXPECT_FALSE(plan_deactivate(OwnershipRecord{}, "hosta"));
}

TEST(OwnershipRules, RestorePutsBackOnlyOverThisHostsOwnChange) {
  const OwnershipRecord before = owned("hosta", 3);
  // This host took the disk, or took and released it: back to hosta.
  for (const auto& current : {owned("hostb", 5), released("hostb", 6)}) {
    auto change = plan_restore(current, before, "hostb");
    ASSERT_TRUE(change) << current.describe();
    EXPECT_EQ(change->owner, "hosta");
    EXPECT_FALSE(change->released_by);
  }
  // Unchanged, or changed by another host since (the source released or re-took it): left alone.
  EXPECT_FALSE(plan_restore(owned("hosta", 3), before, "hostb"));
  EXPECT_FALSE(plan_restore(released("hosta", 4), before, "hostb"));
  EXPECT_FALSE(plan_restore(owned("hostc", 9), before, "hostb"));
  // A record that did not exist comes back as owned by nobody.
  auto from_nothing = plan_restore(owned("hostb", 1), OwnershipRecord{}, "hostb");
  ASSERT_TRUE(from_nothing);
  EXPECT_FALSE(from_nothing->owner);
  EXPECT_FALSE(from_nothing->released_by);
}

TEST(OwnershipRules, InspectAndPrepareRefuseAnotherHostsDisk) {
  EXPECT_TRUE(check_inspect(owned("hosta"), "hosta", kPath));
  EXPECT_TRUE(check_inspect(released("hostc"), "hosta", kPath));
  auto foreign = check_inspect(owned("hostc"), "hosta", kPath);
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code(), Errc::rejected);

  EXPECT_TRUE(check_prepare(owned("hosta"), "hostb", true, std::string("hosta"), kPath));
  EXPECT_TRUE(check_prepare(released("hostc"), "hostb", false, std::nullopt, kPath));
  auto third = check_prepare(owned("hostc"), "hostb", true, std::string("hosta"), kPath);
  ASSERT_FALSE(third);
  EXPECT_NE(third.error().message().find("owner hosta"), std::string::npos);
  auto running_elsewhere = check_prepare(owned("hosta"), "hostb", false, std::nullopt, kPath);
  ASSERT_FALSE(running_elsewhere);
  EXPECT_NE(running_elsewhere.error().message().find("names host hosta"), std::string::npos);
}

TEST(NfsImageFacts, MismatchNamesBothValues) {
  NfsImageFacts source{.fileid = 11, .size = 4096, .fsid = 7, .owner = "hosta"};
  auto parsed = NfsImageFacts::from_json(source.to_json());
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->owner, "hosta");
  EXPECT_TRUE(check_same_image(source, parsed.value(), "srv:/e/d.img"));

  NfsImageFacts other = source;
  other.fileid = 12;
  other.size = 8192;
  auto differs = check_same_image(source, other, "srv:/e/d.img");
  ASSERT_FALSE(differs);
  EXPECT_EQ(differs.error().code(), Errc::rejected);
  EXPECT_NE(differs.error().message().find("file id 12 here, 11 on the source"), std::string::npos)
      << differs.error().message();
  EXPECT_NE(differs.error().message().find("size 8192 here, 4096 on the source"),
            std::string::npos);
  EXPECT_EQ(differs.error().message().find("fsid"), std::string::npos);

  auto bad = NfsImageFacts::from_json({{"fileid", 1}, {"size", "big"}, {"fsid", 2}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::protocol);
}

}  // namespace
}  // namespace ferry::nfs
