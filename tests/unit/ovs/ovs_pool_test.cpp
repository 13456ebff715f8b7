// The two-host topology of scripts/fixtures/ovs-pool with the "ovs" driver and a simulated
// guest's NIC: the client reaches the guest through host A's bridge, then — after the driver
// moved the NIC — through host B's, and the UDP stream measures the blackout of the move.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>

#include "drivers/net/ovs/ovs_port_driver.h"
#include "tests/unit/ovs/client_probe.h"
#include "tests/unit/ovs/ovs_test_host.h"
#include "tests/unit/ovs/sim_guest_process.h"
#include "tests/unit/ovs/test_command.h"

#ifndef FERRY_OVS_POOL_SCRIPT
#error "FERRY_OVS_POOL_SCRIPT must name scripts/fixtures/ovs-pool"
#endif
#ifndef FERRY_SIM_GUEST_BINARY
#error "FERRY_SIM_GUEST_BINARY must name the ferry-sim-guest executable"
#endif

namespace ferry::ovs {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr const char* kMac = "52:54:00:0a:00:0a";
constexpr const char* kGuestIp = "10.88.0.10";

Result<Json> read_json(const std::string& path) {
  std::ifstream in(path);
  auto parsed = Json::parse(in, nullptr, false);
  if (parsed.is_discarded()) return Error(Errc::invalid_argument, path + " is not JSON");
  return parsed;
}

std::uint64_t answered_udp(SimGuestProcess& guest) {
  auto status = guest.control({{"cmd", "status"}});
  if (!status || !status->contains("nic")) return 0;
  return (*status)["nic"]["answered"]["udp"].get<std::uint64_t>();
}

class OvsPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = OvsTestHost::unavailable_reason()) GTEST_SKIP() << *reason;
    char dir[] = "/tmp/ferry-t-pool-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    prefix_ = "fp" + std::to_string(::getpid() % 100000000);
    auto up = run_checked({FERRY_OVS_POOL_SCRIPT, "up", dir_, prefix_});
    ASSERT_TRUE(up.ok()) << up.error().message();
    auto pool = read_json(dir_ + "/pool.json");
    ASSERT_TRUE(pool.ok()) << pool.error().message();
    pool_ = *pool;
    for (const char* host : {"hostA", "hostB"}) {
      auto resources = read_json(pool_["hosts"][host]["resources"].get<std::string>());
      ASSERT_TRUE(resources.ok()) << resources.error().message();
      ResourceContext context;
      context.host = host;
      context.host_config = *resources;
      context.timeout = 5s;
      contexts_[host] = context;
    }
    spec_ = ResourceSpec{"nic0",
                         "ovs",
                         {{"id", "nic0"},
                          {"driver", "ovs"},
                          {"network", "net0"},
                          {"mac", kMac},
                          {"ip", std::string(kGuestIp) + "/24"},
                          {"external-ids", {{"vm-id", "pool-vm"}}}}};
    auto client = ClientProbe::open(pool_["client"]["netns"], kGuestIp);
    ASSERT_TRUE(client.ok()) << client.error().message();
    client_ = std::move(*client);
  }

  void TearDown() override {
    client_.reset();
    guests_.clear();  // quits them (by PID if need be) before their taps go
    driver_.reset();
    if (!dir_.empty()) {
      auto down = run_checked({FERRY_OVS_POOL_SCRIPT, "down", dir_});
      EXPECT_TRUE(down.ok()) << down.error().message();
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  SimGuestProcess& start_guest(const std::string& host) {
    auto guest = SimGuestProcess::start({.binary = FERRY_SIM_GUEST_BINARY,
                                         .netns = pool_["hosts"][host]["netns"],
                                         .dir = dir_,
                                         .name = host,
                                         .tap = "ft5254000a000a",
                                         .mac = kMac,
                                         .ip = std::string(kGuestIp) + "/24"});
    EXPECT_TRUE(guest.ok()) << guest.error().message();
    if (!guest) throw std::runtime_error(guest.error().message());
    guests_.push_back(std::move(*guest));
    return *guests_.back();
  }

  bool tap_exists(const std::string& host, const std::string& tap) {
    auto shown = run_command({"ip", "-n", pool_["hosts"][host]["netns"], "link", "show", tap});
    return shown.ok() && shown->exit_status == 0;
  }

  std::string dir_, prefix_;
  Json pool_;
  std::map<std::string, ResourceContext> contexts_;
  ResourceSpec spec_;
  std::shared_ptr<OvsPortDriver> driver_ = std::make_shared<OvsPortDriver>();
  std::unique_ptr<ClientProbe> client_;
  std::vector<std::unique_ptr<SimGuestProcess>> guests_;
};

TEST_F(OvsPoolTest, GuestAnswersViaHostAThenViaHostBAfterTheDriverMovedItsNic) {
  ResourceContext& a = contexts_["hostA"];
  ResourceContext& b = contexts_["hostB"];

  // The VM starts on host A: its agent prepares and activates the NIC, then starts the guest.
  auto on_a = driver_->prepare(spec_, nullptr, a);
  ASSERT_TRUE(on_a.ok()) << on_a.error().message();
  ResourceBinding binding_a = std::move(*on_a);
  ASSERT_TRUE(driver_->activate(binding_a, a).ok());
  SimGuestProcess& guest_a = start_guest("hostA");

  bool answered = false;
  for (std::uint16_t sequence = 1; sequence <= 20 && !answered; ++sequence) {
    answered = client_->ping(sequence, 250ms);  // the first one waits for ARP
  }
  ASSERT_TRUE(answered) << "no ping reply via host A; guest log: " << guest_a.log();
  EXPECT_TRUE(client_->udp_echo(1, 500ms));

  // A paused guest does not answer, like a paused VM; resumed, it does again.
  ASSERT_TRUE(guest_a.control({{"cmd", "pause"}}).ok());
  EXPECT_FALSE(client_->ping(100, 300ms));
  ASSERT_TRUE(guest_a.control({{"cmd", "resume"}}).ok());
  EXPECT_TRUE(client_->ping(101, 1s));

  // The move, as the engine drives it, with a UDP request every 5 ms from the client.
  ResourceBinding source_side = binding_a;
  auto facts = driver_->inspect(source_side, a);
  ASSERT_TRUE(facts.ok()) << facts.error().message();
  auto on_b = driver_->prepare(spec_, *facts, b);
  ASSERT_TRUE(on_b.ok()) << on_b.error().message();
  ResourceBinding binding_b = std::move(*on_b);
  // The destination guest runs from the start here (the engine would start it paused): the
  // quarantine alone must keep it from answering.
  SimGuestProcess& guest_b = start_guest("hostB");

  client_->start_stream(5ms);
  std::this_thread::sleep_for(400ms);
  const auto paused = Clock::now();
  ASSERT_TRUE(guest_a.control({{"cmd", "pause"}}).ok());
  ASSERT_TRUE(driver_->deactivate(binding_a, a).ok());
  const auto b_before = answered_udp(guest_b);
  ASSERT_TRUE(driver_->activate(binding_b, b).ok());
  const auto activated = Clock::now();
  const auto a_after_pause = answered_udp(guest_a);
  std::this_thread::sleep_for(800ms);
  const auto report = client_->stop_stream();

  const auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::cout << "UDP stream: " << report.sent << " sent, " << report.answered << " answered, "
            << report.duplicates << " duplicates; longest silence "
            << report.longest_silence.count() << " ms (from " << ms(report.silence_start - paused)
            << " ms to " << ms(report.silence_end - paused)
            << " ms after the pause on A; deactivate A + "
            << "activate B took " << ms(activated - paused) << " ms)\n";
  EXPECT_EQ(b_before, 0u) << "the quarantined destination port let requests through";
  EXPECT_EQ(answered_udp(guest_a), a_after_pause) << "host A still answers after the move";
  EXPECT_GT(answered_udp(guest_b), 50u) << "host B does not answer after the move";
  EXPECT_EQ(report.duplicates, 0);
  EXPECT_GT(report.answered, report.sent / 2);
  // The silence is the move itself: pause → activate on B (plus one request interval); the
  // announcements leave no learning delay after it.
  EXPECT_LE(report.silence_end, activated + 100ms) << "replies resumed late after activate";

  // Released while the old guest still holds its queue: the tap goes when the guest does.
  auto released = driver_->release(binding_a, a);
  ASSERT_TRUE(released.ok()) << released.error().message();
  guests_.erase(guests_.begin());  // quits guest A
  EXPECT_FALSE(tap_exists("hostA", "ft5254000a000a"));
  EXPECT_TRUE(client_->ping(200, 1s)) << "no ping reply via host B";

  ASSERT_TRUE(driver_->release(binding_b, b).ok());
}

}  // namespace
}  // namespace ferry::ovs
