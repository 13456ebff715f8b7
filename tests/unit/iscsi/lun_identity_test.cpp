#include "drivers/storage/iscsi/lun_identity.h"

#include <gtest/gtest.h>

namespace ferry::iscsi {
namespace {

LunIdentity sample() {
  LunIdentity identity;
  identity.designators = {LunDesignator{1, 2, "4945542020202020303030313030303031"},
                          LunDesignator{3, 1, "60000000000000000001000100000000"}};
  identity.serial = "beaf11";
  identity.block_size = 512;
  identity.blocks = 131072;
  return identity;
}

TEST(LunIdentity, RoundTripsThroughJson) {
  const LunIdentity identity = sample();
  auto parsed = LunIdentity::from_json(identity.to_json());
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->designators, identity.designators);
  EXPECT_EQ(parsed->serial, "beaf11");
  EXPECT_EQ(parsed->block_size, 512u);
  EXPECT_EQ(parsed->blocks, 131072u);
  EXPECT_TRUE(identity_differences(identity, parsed.value()).empty());
}

TEST(LunIdentity, DesignatorOrderDoesNotMatter) {
  auto json = sample().to_json();
  std::swap(json["vpd83"][0], json["vpd83"][1]);
  auto parsed = LunIdentity::from_json(json);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(identity_differences(sample(), parsed.value()).empty());
}

TEST(LunIdentity, NamesEveryDifference) {
  LunIdentity other = sample();
  other.designators[0].value = "4945542020202020303030313030303032";
  other.serial = "beaf12";
  other.blocks = 262144;
  const auto differences = identity_differences(sample(), other);
  ASSERT_EQ(differences.size(), 3u);
  EXPECT_NE(differences[0].find("VPD 0x83"), std::string::npos);
  // ASCII designators are shown as text.
  EXPECT_NE(differences[0].find("'IET     000100002'"), std::string::npos) << differences[0];
  EXPECT_EQ(differences[1], "unit serial number (VPD 0x80): source 'beaf11', here 'beaf12'");
  EXPECT_NE(differences[2].find("source 131072 blocks of 512 bytes, here 262144 blocks"),
            std::string::npos);
  LunIdentity sized = sample();
  sized.block_size = 4096;
  EXPECT_EQ(identity_differences(sample(), sized).size(), 1u);
}

TEST(LunIdentity, RefusesMalformedFacts) {
  const std::vector<nlohmann::json> bad = {
      nullptr,
      nlohmann::json::array(),
      {{"serial", "x"}, {"block-size", 512}, {"blocks", 1}},
      {{"vpd83", {{{"type", 3}, {"code-set", 1}, {"value", "xyz"}}}},
       {"serial", "x"},
       {"block-size", 512},
       {"blocks", 1}},
      {{"vpd83", nlohmann::json::array()}, {"serial", 7}, {"block-size", 512}, {"blocks", 1}},
      {{"vpd83", nlohmann::json::array()}, {"serial", "x"}, {"block-size", -1}, {"blocks", 1}},
  };
  for (const auto& json : bad) {
    auto parsed = LunIdentity::from_json(json);
    EXPECT_FALSE(parsed) << json.dump();
    if (!parsed) {
      EXPECT_EQ(parsed.error().code(), Errc::protocol);
    }
  }
}

TEST(LunIdentity, AnIdentityWithoutDesignatorOrSerialCannotBeChecked) {
  LunIdentity anonymous;
  anonymous.block_size = 512;
  anonymous.blocks = 100;
  auto checked = anonymous.check_identifiable();
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code(), Errc::rejected);
  EXPECT_TRUE(sample().check_identifiable());
}

}  // namespace
}  // namespace ferry::iscsi
