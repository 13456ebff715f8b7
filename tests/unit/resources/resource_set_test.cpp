// ResourceSet's all-or-nothing steps, over a driver that records calls and fails on request.
#include "engine/resources/resource_set.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace ferry {
namespace {

class RecordingDriver : public ResourceDriver {
 public:
  std::string_view name() const override { return "fake"; }

  Result<nlohmann::json> inspect(const ResourceBinding& binding, const ResourceContext&) override {
    calls.push_back("inspect " + binding.spec.id);
    return nlohmann::json{{"serial", "S-" + binding.spec.id}};
  }
  Result<ResourceBinding> prepare(const ResourceSpec& spec, const nlohmann::json& facts,
                                  const ResourceContext& context) override {
    calls.push_back("prepare " + spec.id);
    if (fail.contains("prepare " + spec.id)) return Error(Errc::not_found, "no such LUN");
    if (!facts.is_null() && facts.value("serial", "") != "S-" + spec.id)
      return Error(Errc::rejected, "identity differs");
    ResourceBinding binding;
    binding.spec = spec;
    binding.attach = {{"path", "/dev/" + spec.id + "@" + context.host}};
    return binding;
  }
  Result<void> activate(ResourceBinding& b, const ResourceContext&) override {
    return step("activate", b);
  }
  Result<void> deactivate(ResourceBinding& b, const ResourceContext&) override {
    return step("deactivate", b);
  }
  Result<void> release(ResourceBinding& b, const ResourceContext&) override {
    return step("release", b);
  }
  Result<void> rollback(ResourceBinding& b, const ResourceContext&) override {
    return step("rollback", b);
  }

  std::vector<std::string> calls;
  std::set<std::string> fail;

 private:
  Result<void> step(const std::string& what, ResourceBinding& b) {
    calls.push_back(what + " " + b.spec.id);
    if (fail.contains(what + " " + b.spec.id)) return Error(Errc::io, "target went away");
    return {};
  }
};

struct Fixture : ::testing::Test {
  Fixture() {
    auto r = std::make_shared<ResourceRegistry>();
    EXPECT_TRUE(r->add(driver).ok());
    registry = r;
  }
  ResourceSet make() { return ResourceSet(registry, ResourceContext{"hostB", {}, {}}); }
  std::vector<ResourceSpec> specs(ResourceSet& set) {
    nlohmann::json vm = {
        {"resources",
         {{{"id", "disk0"}, {"driver", "fake"}}, {{"id", "disk1"}, {"driver", "fake"}}}}};
    auto parsed = set.parse(vm);
    EXPECT_TRUE(parsed.ok());
    return parsed.value();
  }
  std::shared_ptr<RecordingDriver> driver = std::make_shared<RecordingDriver>();
  std::shared_ptr<const ResourceRegistry> registry;
};

TEST_F(Fixture, ParseRejectsUnknownDriverDuplicateIdsAndMissingFields) {
  auto set = make();
  auto unknown = set.parse({{"resources", {{{"id", "d"}, {"driver", "iscsi"}}}}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("no resource driver \"iscsi\""), std::string::npos);
  EXPECT_NE(unknown.error().message().find("known: fake"), std::string::npos);
  auto twice = set.parse(
      {{"resources", {{{"id", "d"}, {"driver", "fake"}}, {{"id", "d"}, {"driver", "fake"}}}}});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message().find("used twice"), std::string::npos);
  EXPECT_FALSE(set.parse({{"resources", {{{"driver", "fake"}}}}}).ok());
  EXPECT_FALSE(set.parse({{"resources", "disk"}}).ok());
  auto none = set.parse({{"name", "vm"}});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
}

TEST_F(Fixture, PrepareChecksSourceFactsAndGivesAttachments) {
  auto source = make();
  ASSERT_TRUE(source.prepare(specs(source), nullptr).ok());
  auto facts = source.inspect();
  ASSERT_TRUE(facts.ok());
  EXPECT_EQ(facts.value()["disk1"]["serial"], "S-disk1");

  auto dest = make();
  ASSERT_TRUE(dest.prepare(specs(dest), facts.value()).ok());
  EXPECT_EQ(dest.attachments()["disk0"]["path"], "/dev/disk0@hostB");

  nlohmann::json wrong = facts.value();
  wrong["disk1"]["serial"] = "S-other";
  auto refused = make();
  auto result = refused.prepare(specs(refused), wrong);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), Errc::rejected);
  EXPECT_EQ(result.error().message(),
            "resource disk1 (fake) on host hostB: prepare: identity differs");
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ(driver->calls.back(), "rollback disk0");  // the one already prepared was undone

  auto missing = make();
  auto no_facts =
      missing.prepare(specs(missing), nlohmann::json{{"disk0", facts.value()["disk0"]}});
  ASSERT_FALSE(no_facts.ok());
  EXPECT_NE(no_facts.error().message().find("sent no facts"), std::string::npos);
}

TEST_F(Fixture, ActivateIsAllOrNothing) {
  auto set = make();
  ASSERT_TRUE(set.prepare(specs(set), nullptr).ok());
  driver->fail.insert("activate disk1");
  driver->calls.clear();
  auto result = set.activate();
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("disk1 (fake) on host hostB: activate: target went away"),
            std::string::npos);
  EXPECT_EQ(driver->calls,
            (std::vector<std::string>{"activate disk0", "activate disk1", "deactivate disk0"}));
  for (const auto& b : set.bindings()) EXPECT_FALSE(b.active);

  driver->fail.clear();
  ASSERT_TRUE(set.activate().ok());
  for (const auto& b : set.bindings()) EXPECT_TRUE(b.active);
}

TEST_F(Fixture, DeactivateTriesEveryResourceAndReportsTheFirstFailure) {
  auto set = make();
  ASSERT_TRUE(set.prepare(specs(set), nullptr).ok());
  ASSERT_TRUE(set.activate().ok());
  driver->fail.insert("deactivate disk0");
  driver->calls.clear();
  auto result = set.deactivate();
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("disk0"), std::string::npos);
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"deactivate disk0", "deactivate disk1"}));
  EXPECT_TRUE(set.bindings()[0].active);
  EXPECT_FALSE(set.bindings()[1].active);
}

TEST_F(Fixture, RollbackDeactivatesWhatIsActiveFirst) {
  auto set = make();
  ASSERT_TRUE(set.prepare(specs(set), nullptr).ok());
  ASSERT_TRUE(set.activate().ok());
  driver->calls.clear();
  set.rollback();
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"deactivate disk1", "rollback disk1",
                                                     "deactivate disk0", "rollback disk0"}));
}

TEST_F(Fixture, RollbackUndoesInReverseOrderAndReleaseEmptiesTheSet) {
  auto set = make();
  ASSERT_TRUE(set.prepare(specs(set), nullptr).ok());
  driver->calls.clear();
  set.rollback();
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"rollback disk1", "rollback disk0"}));
  EXPECT_TRUE(set.empty());

  ASSERT_TRUE(set.prepare(specs(set), nullptr).ok());
  driver->fail.insert("release disk0");  // best effort: logged, the others still released
  driver->calls.clear();
  set.release();
  EXPECT_EQ(driver->calls, (std::vector<std::string>{"release disk0", "release disk1"}));
  EXPECT_TRUE(set.empty());
}

}  // namespace
}  // namespace ferry
