#include "drivers/net/ovs/ovsdb_operations.h"

#include <gtest/gtest.h>

namespace ferry::ovs {
namespace {

TEST(OvsdbDatum, EncodesValuesInRfc7047Notation) {
  EXPECT_EQ(datum::uuid("36bbd3c0-0000-4000-8000-000000000001"),
            Json::parse(R"(["uuid","36bbd3c0-0000-4000-8000-000000000001"])"));
  EXPECT_EQ(datum::named_uuid("new_port"), Json::parse(R"(["named-uuid","new_port"])"));
  EXPECT_EQ(datum::set({1, 2}), Json::parse(R"(["set",[1,2]])"));
  EXPECT_EQ(datum::empty_set(), Json::parse(R"(["set",[]])"));
  EXPECT_EQ(datum::map({{"iface-id", "vm1"}, {"attached-mac", "52:54:00:00:00:01"}}),
            Json::parse(R"(["map",[["attached-mac","52:54:00:00:00:01"],["iface-id","vm1"]]])"));
  EXPECT_EQ(condition("name", "==", "br-int"), Json::parse(R"(["name","==","br-int"])"));
  EXPECT_EQ(mutation("next_cfg", "+=", 1), Json::parse(R"(["next_cfg","+=",1])"));
}

TEST(OvsdbDatum, ReadsSetsWhetherBareAtomsOrSets) {
  const Json one_uuid = Json::parse(R"(["uuid","u1"])");
  EXPECT_EQ(datum::set_elements(one_uuid), std::vector<Json>({one_uuid}));
  EXPECT_EQ(datum::set_elements(Json::parse(R"(["set",[["uuid","u1"],["uuid","u2"]]])")).size(),
            2u);
  EXPECT_TRUE(datum::set_elements(datum::empty_set()).empty());
  EXPECT_EQ(datum::optional_atom(Json(100)), Json(100));
  EXPECT_FALSE(datum::optional_atom(datum::empty_set()).has_value());
  EXPECT_EQ(datum::optional_atom(Json::parse(R"(["set",["x"]])")), Json("x"));
}

TEST(OvsdbDatum, ReadsMapsAndUuidsAndRejectsOtherShapes) {
  auto ids = datum::string_map(Json::parse(R"(["map",[["a","1"],["b","2"]]])"));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  EXPECT_TRUE(datum::string_map(Json::parse(R"(["map",[]])"))->empty());

  auto not_a_map = datum::string_map(Json::parse(R"(["set",[]])"));
  ASSERT_FALSE(not_a_map.ok());
  EXPECT_EQ(not_a_map.error().code(), Errc::protocol);
  EXPECT_FALSE(datum::string_map(Json::parse(R"(["map",[["a",1]]])")).ok());

  EXPECT_EQ(*datum::uuid_string(Json::parse(R"(["uuid","u1"])")), "u1");
  EXPECT_FALSE(datum::uuid_string(Json::parse(R"(["named-uuid","u1"])")).ok());
  EXPECT_FALSE(datum::uuid_string(Json("u1")).ok());
}

TEST(OvsdbOperations, BuildsEachOperationKind) {
  EXPECT_EQ(
      op::insert("Port", {{"name", "p1"}}, "new_port"),
      Json::parse(R"({"op":"insert","table":"Port","row":{"name":"p1"},"uuid-name":"new_port"})"));
  EXPECT_FALSE(op::insert("Port", {{"name", "p1"}}).contains("uuid-name"));
  const Json where = Json::array({condition("name", "==", "p1")});
  EXPECT_EQ(op::update("Port", where, {{"tag", 5}}),
            Json::parse(
                R"({"op":"update","table":"Port","where":[["name","==","p1"]],"row":{"tag":5}})"));
  EXPECT_EQ(
      op::mutate("Open_vSwitch", Json::array(), Json::array({mutation("next_cfg", "+=", 1)})),
      Json::parse(
          R"({"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["next_cfg","+=",1]]})"));
  EXPECT_EQ(op::delete_rows("Port", where),
            Json::parse(R"({"op":"delete","table":"Port","where":[["name","==","p1"]]})"));
  EXPECT_EQ(
      op::select("Port", where, {"_uuid", "tag"}),
      Json::parse(
          R"({"op":"select","table":"Port","where":[["name","==","p1"]],"columns":["_uuid","tag"]})"));
  EXPECT_EQ(
      op::wait("Bridge", where, {"name"}, true, Json::array({{{"name", "p1"}}}), 0),
      Json::parse(R"({"op":"wait","table":"Bridge","where":[["name","==","p1"]],"columns":["name"],
                            "until":"==","rows":[{"name":"p1"}],"timeout":0})"));
  EXPECT_FALSE(
      op::wait("Bridge", where, {"name"}, false, Json::array(), std::nullopt).contains("timeout"));
  EXPECT_EQ(op::wait("Bridge", where, {"name"}, false, Json::array())["until"], "!=");
  EXPECT_EQ(op::comment("ferry: add port"),
            Json::parse(R"({"op":"comment","comment":"ferry: add port"})"));
}

TEST(OvsdbOperations, LabelsOperationsForErrorMessages) {
  EXPECT_EQ(operation_label(op::mutate("Bridge", Json::array(), Json::array())), "mutate Bridge");
  EXPECT_EQ(operation_label(op::comment("x")), "comment");
  EXPECT_EQ(operation_label(Json(3)), "malformed operation");
}

}  // namespace
}  // namespace ferry::ovs
