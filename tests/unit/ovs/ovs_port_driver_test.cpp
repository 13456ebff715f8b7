// OvsPortDriver against a real ovsdb-server and ovs-vswitchd (userspace datapath), one per test,
// with a probe namespace on the bridge standing for the rest of the network.
#include "drivers/net/ovs/ovs_port_driver.h"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "drivers/net/ovs/announcement_frames.h"
#include "drivers/net/ovs/tap_device.h"
#include "engine/posix/network_namespace.h"
#include "tests/unit/ovs/ovs_test_host.h"
#include "tests/unit/ovs/probe_port.h"
#include "tests/unit/ovs/test_command.h"

namespace ferry::ovs {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const MacAddress kVmMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const MacAddress kProbeMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
constexpr std::uint32_t kVmIp = 0x0a58000a;
constexpr const char* kTap = "ft525400123456";
constexpr std::uint16_t kTestEtherType = 0x88b5;  // IEEE local experimental

Bytes test_frame(const MacAddress& source, const std::string& marker, std::optional<int> vlan) {
  Bytes frame(6, 0xff);
  frame.insert(frame.end(), source.begin(), source.end());
  if (vlan) {
    frame.insert(frame.end(), {0x81, 0x00, static_cast<std::uint8_t>(*vlan >> 8),
                               static_cast<std::uint8_t>(*vlan)});
  }
  frame.insert(frame.end(), {kTestEtherType >> 8, kTestEtherType & 0xff});
  frame.insert(frame.end(), marker.begin(), marker.end());
  frame.resize(std::max<std::size_t>(frame.size(), 60), 0);
  return frame;
}

std::function<bool(const Bytes&)> carries(const std::string& marker) {
  return [marker](const Bytes& frame) {
    return frame.size() >= 14 + marker.size() && frame[12] == (kTestEtherType >> 8) &&
           frame[13] == (kTestEtherType & 0xff) &&
           std::equal(marker.begin(), marker.end(), frame.begin() + 14);
  };
}

bool from_vm(const Bytes& frame, std::uint16_t ether_type) {
  return frame.size() >= 14 && std::equal(kVmMac.begin(), kVmMac.end(), frame.begin() + 6) &&
         frame[12] == (ether_type >> 8) && frame[13] == (ether_type & 0xff);
}

// Keeps a daemon stopped with SIGSTOP for its lifetime.
class Frozen {
 public:
  explicit Frozen(pid_t pid) : pid_(pid) { ::kill(pid_, SIGSTOP); }
  ~Frozen() { ::kill(pid_, SIGCONT); }

 private:
  pid_t pid_;
};

class OvsPortDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = OvsTestHost::unavailable_reason()) GTEST_SKIP() << *reason;
    auto host = OvsTestHost::start();
    ASSERT_TRUE(host.ok()) << host.error().message();
    host_ = std::move(host).value();
    auto client = OvsdbClient::connect(host_->remote());
    ASSERT_TRUE(client.ok()) << client.error().message();
    client_ = std::move(client).value();
    bridges_ = std::make_unique<OvsBridge>(*client_);
    const std::string suffix = std::to_string(::getpid());
    auto probe = ProbePort::attach(*bridges_, host_->netns(), "br-int", "ferry-t-probe-" + suffix,
                                   "fpr" + suffix);
    ASSERT_TRUE(probe.ok()) << probe.error().message();
    probe_ = std::move(probe).value();

    context_.host = "hostB";
    context_.timeout = 5s;
    context_.host_config = {{"ovs",
                             {{"db", host_->remote()},
                              {"netns", host_->netns()},
                              {"networks", {{"net0", {{"bridge", "br-int"}, {"tag", 10}}}}},
                              {"announce", {{"rounds", 3}, {"initial-ms", 50}, {"step-ms", 50}}}}}};
    spec_ = ResourceSpec{"nic0",
                         "ovs",
                         {{"id", "nic0"},
                          {"driver", "ovs"},
                          {"network", "net0"},
                          {"mac", "52:54:00:12:34:56"},
                          {"ip", "10.88.0.10/24"},
                          {"external-ids", {{"vm-id", "web-1"}}}}};
  }
  void TearDown() override {
    driver_.reset();  // stops its announcer threads
    vm_queue_.reset();
    probe_.reset();
    bridges_.reset();
    client_.reset();
    host_.reset();
  }

  bool device_exists(const std::string& name) {
    auto shown = run_command({"ip", "-n", host_->netns(), "link", "show", "dev", name});
    return shown.ok() && shown->exit_status == 0;
  }

  // Plays the guest: attaches a queue of the VM's tap.
  void attach_vm() {
    auto attached = run_in_network_namespace(host_->netns(), [&]() -> Result<void> {
      auto queue = open_tap_queue(kTap);
      if (!queue) return std::move(queue).error();
      vm_queue_ = std::move(*queue);
      return ok();
    });
    ASSERT_TRUE(attached.ok()) << attached.error().message();
  }

  // Whether a frame from the VM reaches the network and one from the network reaches the VM.
  struct Flow {
    bool out;
    bool in;
  };
  Flow traffic(const std::string& marker) {
    Flow flow{};
    const Bytes out = test_frame(kVmMac, marker + "-out", std::nullopt);
    EXPECT_EQ(::write(vm_queue_.get(), out.data(), out.size()), static_cast<ssize_t>(out.size()));
    auto seen = probe_->receive_first(500ms, carries(marker + "-out"));
    flow.out = seen.has_value();
    if (seen) {
      EXPECT_EQ(seen->vlan, 10) << "the VM's frames leave the trunk on its VLAN";
    }
    EXPECT_TRUE(probe_->send(test_frame(kProbeMac, marker + "-in", 10)).ok());
    flow.in = !read_tap_frames(vm_queue_.get(), 500ms, carries(marker + "-in")).empty();
    return flow;
  }

  std::unique_ptr<OvsTestHost> host_;
  std::unique_ptr<OvsdbClient> client_;
  std::unique_ptr<OvsBridge> bridges_;
  std::unique_ptr<ProbePort> probe_;
  std::shared_ptr<OvsPortDriver> driver_ = std::make_shared<OvsPortDriver>();
  UniqueFd vm_queue_;
  ResourceContext context_;
  ResourceSpec spec_;
};

TEST_F(OvsPortDriverTest, FactoryMakesTheOvsDriver) {
  EXPECT_EQ(make_ovs_port_driver()->name(), "ovs");
}

TEST_F(OvsPortDriverTest, PrepareRefusesAMissingBridgeBeforeCreatingAnything) {
  context_.host_config["ovs"]["networks"]["net0"]["bridge"] = "br-missing";
  auto prepared = driver_->prepare(spec_, nullptr, context_);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.error().code(), Errc::not_found);
  const std::string& message = prepared.error().message();
  EXPECT_NE(message.find("bridge br-missing"), std::string::npos) << message;
  EXPECT_NE(message.find("host hostB"), std::string::npos) << message;
  EXPECT_NE(message.find("net0"), std::string::npos) << message;
  EXPECT_FALSE(device_exists(kTap));
  EXPECT_FALSE(bridges_->find_port(kTap)->has_value());
  EXPECT_FALSE(*bridges_->bridge_exists("br-quarantine"));

  // A network this host does not map is refused the same way.
  spec_.params["network"] = "net7";
  auto unmapped = driver_->prepare(spec_, nullptr, context_);
  ASSERT_FALSE(unmapped.ok());
  EXPECT_EQ(unmapped.error().code(), Errc::not_found);
  EXPECT_NE(unmapped.error().message().find("\"net7\""), std::string::npos);
}

TEST_F(OvsPortDriverTest, PrepareRefusesFactsOfAnotherNic) {
  auto prepared = driver_->prepare(
      spec_, Json{{"mac", "52:54:00:00:00:01"}, {"network", "net0"}, {"bridge", "br-int"}},
      context_);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.error().code(), Errc::invalid_argument);
  EXPECT_NE(prepared.error().message().find("52:54:00:00:00:01"), std::string::npos);
  EXPECT_FALSE(device_exists(kTap));
}

TEST_F(OvsPortDriverTest, PrepareMakesATapAndAQuarantinedPortWithTheExternalIds) {
  ResourceBinding source;
  source.spec = spec_;
  auto facts = driver_->inspect(source, context_);
  ASSERT_TRUE(facts.ok()) << facts.error().message();
  EXPECT_EQ(
      *facts,
      (Json{
          {"mac", "52:54:00:12:34:56"}, {"network", "net0"}, {"bridge", "br-int"}, {"tap", kTap}}));

  auto prepared = driver_->prepare(spec_, *facts, context_);
  ASSERT_TRUE(prepared.ok()) << prepared.error().message();
  EXPECT_EQ(prepared->attach,
            (Json{{"tap", kTap},
                  {"mac", "52:54:00:12:34:56"},
                  {"ip", "10.88.0.10/24"},
                  {"qemu-netdev",
                   "tap,id=net-nic0,ifname=ft525400123456,script=no,downscript=no,vnet_hdr=off,"
                   "queues=2"},
                  {"qemu-device", "e1000,netdev=net-nic0,mac=52:54:00:12:34:56"},
                  {"netns", host_->netns()}}));
  EXPECT_TRUE(device_exists(kTap));

  auto port = bridges_->find_port(kTap);
  ASSERT_TRUE(port.ok() && port->has_value());
  EXPECT_EQ((*port)->bridge, "br-quarantine");
  EXPECT_FALSE((*port)->vlan_tag.has_value());
  EXPECT_EQ((*port)->external_ids,
            (std::map<std::string, std::string>{{"vm-id", "web-1"},
                                                {"iface-id", "nic0"},
                                                {"attached-mac", "52:54:00:12:34:56"},
                                                {"iface-status", "inactive"}}));
  ASSERT_TRUE((*port)->ofport.has_value());
  EXPECT_GT(*(*port)->ofport, 0) << "ovs-vswitchd opened the tap";
  auto quarantine = bridges_->find_bridge("br-quarantine");
  ASSERT_TRUE(quarantine.ok() && quarantine->has_value());
  EXPECT_EQ((*quarantine)->fail_mode, "secure");
  EXPECT_EQ((*quarantine)->datapath_type, "netdev");

  attach_vm();
  const Flow flow = traffic("quarantined");
  EXPECT_FALSE(flow.out) << "a frame from the quarantined port reached the network";
  EXPECT_FALSE(flow.in) << "a frame from the network reached the quarantined port";

  // Prepare again (a retry after a timeout) finds the same port and changes nothing.
  auto again = driver_->prepare(spec_, *facts, context_);
  ASSERT_TRUE(again.ok()) << again.error().message();
  auto same = bridges_->find_port(kTap);
  ASSERT_TRUE(same.ok() && same->has_value());
  EXPECT_EQ((*same)->uuid, (*port)->uuid);
  EXPECT_EQ((*same)->bridge, "br-quarantine");
}

TEST_F(OvsPortDriverTest, PrepareRefusesAPortOfThatNameThatIsNotThisNics) {
  auto other = bridges_->add_port({.bridge = "br-int", .name = kTap, .type = "internal"});
  ASSERT_TRUE(other.ok()) << other.error().message();
  auto prepared = driver_->prepare(spec_, nullptr, context_);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.error().code(), Errc::invalid_argument);
  EXPECT_NE(prepared.error().message().find("already exists on bridge br-int"), std::string::npos)
      << prepared.error().message();
  auto still = bridges_->find_port(kTap);
  ASSERT_TRUE(still.ok() && still->has_value());
  EXPECT_EQ((*still)->bridge, "br-int");
}

TEST_F(OvsPortDriverTest, ActivateLiftsTheQuarantineAndAnnouncesTheMac) {
  auto prepared = driver_->prepare(spec_, nullptr, context_);
  ASSERT_TRUE(prepared.ok()) << prepared.error().message();
  ResourceBinding binding = std::move(*prepared);
  attach_vm();

  const auto started = Clock::now();
  auto activated = driver_->activate(binding, context_);
  const auto returned = Clock::now();
  ASSERT_TRUE(activated.ok()) << activated.error().message();
  // Rounds at 0, 50 and 150 ms (the test's schedule).
  auto announcements = probe_->receive_for(
      600ms, [](const Bytes& frame) { return from_vm(frame, 0x8035) || from_vm(frame, 0x0806); });
  std::vector<ReceivedFrame> rarps, garps;
  for (auto& received : announcements) {
    EXPECT_EQ(received.vlan, 10);
    (received.frame[12] == 0x80 ? rarps : garps).push_back(received);
  }
  ASSERT_EQ(rarps.size(), 3u);
  ASSERT_EQ(garps.size(), 3u);
  // Compared without the padding, which a veth may trim or extend.
  const auto head = [](const Bytes& frame) { return Bytes(frame.begin(), frame.begin() + 42); };
  EXPECT_EQ(head(rarps[0].frame), head(rarp_announcement(kVmMac)));
  EXPECT_EQ(head(garps[0].frame), head(gratuitous_arp(kVmMac, kVmIp)));
  const auto first_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(rarps[0].at - started);
  const auto last_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(rarps[2].at - started);
  std::cout << "activate took "
            << std::chrono::duration_cast<std::chrono::microseconds>(returned - started).count()
            << " us; RARP rounds seen on the bridge at " << first_after.count() << ", "
            << std::chrono::duration_cast<std::chrono::milliseconds>(rarps[1].at - started).count()
            << ", " << last_after.count() << " ms\n";
  EXPECT_LE(rarps[0].at, returned + 50ms) << "the first round goes out with activate";
  EXPECT_GE(last_after, 140ms) << "the last round waits for the schedule";
  EXPECT_EQ(driver_->announcement_rounds_sent(binding), 3);

  auto port = bridges_->find_port(kTap);
  ASSERT_TRUE(port.ok() && port->has_value());
  EXPECT_EQ((*port)->bridge, "br-int");
  EXPECT_EQ((*port)->vlan_tag, 10);
  EXPECT_EQ((*port)->external_ids.at("iface-status"), "active");

  const Flow flow = traffic("active");
  EXPECT_TRUE(flow.out) << "the VM's frame did not reach the network";
  EXPECT_TRUE(flow.in) << "the network's frame did not reach the VM";

  // Activate again (a retry) is harmless and announces again.
  ASSERT_TRUE(driver_->activate(binding, context_).ok());
  EXPECT_TRUE(probe_->receive_first(300ms, [](const Bytes& f) { return from_vm(f, 0x8035); }));
}

TEST_F(OvsPortDriverTest, DeactivateQuarantinesAgainAndReleaseRemovesPortAndTap) {
  auto prepared = driver_->prepare(spec_, nullptr, context_);
  ASSERT_TRUE(prepared.ok()) << prepared.error().message();
  ResourceBinding binding = std::move(*prepared);
  attach_vm();
  ASSERT_TRUE(driver_->activate(binding, context_).ok());
  ASSERT_TRUE(traffic("before").out);

  auto deactivated = driver_->deactivate(binding, context_);
  ASSERT_TRUE(deactivated.ok()) << deactivated.error().message();
  EXPECT_EQ(driver_->announcement_rounds_sent(binding), 0) << "deactivate stops the announcements";
  auto port = bridges_->find_port(kTap);
  ASSERT_TRUE(port.ok() && port->has_value());
  EXPECT_EQ((*port)->bridge, "br-quarantine");
  EXPECT_EQ((*port)->external_ids.at("iface-status"), "inactive");
  const Flow flow = traffic("deactivated");
  EXPECT_FALSE(flow.out);
  EXPECT_FALSE(flow.in);
  ASSERT_TRUE(driver_->deactivate(binding, context_).ok()) << "deactivate twice";

  // The source re-activates after a failed switchover.
  ASSERT_TRUE(driver_->activate(binding, context_).ok());
  EXPECT_TRUE(traffic("reactivated").out);

  vm_queue_.reset();  // the guest has gone
  auto released = driver_->release(binding, context_);
  ASSERT_TRUE(released.ok()) << released.error().message();
  EXPECT_FALSE(bridges_->find_port(kTap)->has_value());
  EXPECT_FALSE(device_exists(kTap));
  auto twice = driver_->release(binding, context_);
  EXPECT_TRUE(twice.ok()) << twice.error().message();
  EXPECT_TRUE(driver_->deactivate(binding, context_).ok()) << "nothing left to block";
}

TEST_F(OvsPortDriverTest, RollbackRemovesWhatPrepareMade) {
  auto prepared = driver_->prepare(spec_, nullptr, context_);
  ASSERT_TRUE(prepared.ok()) << prepared.error().message();
  ASSERT_TRUE(device_exists(kTap));
  auto rolled_back = driver_->rollback(*prepared, context_);
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.error().message();
  EXPECT_FALSE(bridges_->find_port(kTap)->has_value());
  EXPECT_FALSE(device_exists(kTap));
  auto twice = driver_->rollback(*prepared, context_);
  EXPECT_TRUE(twice.ok()) << twice.error().message();
}

TEST_F(OvsPortDriverTest, AHungDatabaseGivesATimeoutNotAHang) {
  auto pid = host_->daemon_pid("ovsdb-server");
  ASSERT_TRUE(pid.ok()) << pid.error().message();
  context_.timeout = 500ms;
  const auto started = Clock::now();
  {
    Frozen frozen(*pid);
    auto prepared = driver_->prepare(spec_, nullptr, context_);
    ASSERT_FALSE(prepared.ok());
    EXPECT_EQ(prepared.error().code(), Errc::timeout) << prepared.error().message();
  }
  EXPECT_LT(Clock::now() - started, 3s);
  EXPECT_FALSE(device_exists(kTap));
}

}  // namespace
}  // namespace ferry::ovs
