// Process tests: real ferry-sim-guest processes started through SimVm with the uffd preload
// library.
#include "engine/vm/sim/sim_vm.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "engine/memory/page.h"
#include "engine/memory/page_bitmap.h"
#include "engine/vm/sim/content_model.h"
#include "engine/vm/sim/guest_state.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class SimVmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
#if defined(__SANITIZE_ADDRESS__)
    // The guest is built with ASan but the preload library, loaded before ASan's runtime, is not:
    // let the guest (which inherits our environment) start anyway.
    const char* options = ::getenv("ASAN_OPTIONS");
    const std::string merged = std::string(options ? options : "") + ":verify_asan_link_order=0";
    ::setenv("ASAN_OPTIONS", merged.c_str(), 1);
#endif
  }

  void TearDown() override {
    for (auto& vm : vms_) {
      auto stopped = vm->stop();
      EXPECT_TRUE(stopped) << stopped.error().message();
    }
    vms_.clear();
    for (const auto& path : ram_paths_) ::unlink(path.c_str());
    for (const auto& dir : run_dirs_) std::filesystem::remove_all(dir);
  }

  std::string new_ram_path() {
    static int counter = 0;
    ram_paths_.push_back("/dev/shm/ferry-sim-test-" + std::to_string(::getpid()) + "-" +
                         std::to_string(counter++));
    return ram_paths_.back();
  }

  std::string new_run_dir() {
    char pattern[] = "/tmp/ferry-sim-test-XXXXXX";
    const char* dir = ::mkdtemp(pattern);
    EXPECT_NE(dir, nullptr);
    run_dirs_.push_back(dir ? dir : "/nonexistent");
    return run_dirs_.back();
  }

  static SimSpec spec_of(uint64_t memory, int64_t rate, std::string pattern = "uniform") {
    SimSpec spec;
    spec.name = "sim-test";
    spec.memory = memory;
    spec.dirty_rate_mib = rate;
    spec.pattern = std::move(pattern);
    spec.seed = 11;
    return spec;
  }

  SimLaunch launch_of(std::string ram_path,
                      std::optional<std::vector<std::byte>> resume_state = std::nullopt) {
    SimLaunch launch;
    launch.run_dir = new_run_dir();
    launch.ram_path = std::move(ram_path);
    launch.guest_binary = FERRY_SIM_GUEST_BINARY;
    launch.preload_library = FERRY_UFFD_PRELOAD_LIBRARY;
    launch.resume_state = std::move(resume_state);
    return launch;
  }

  SimVm& launch(const SimSpec& spec, const SimLaunch& launch) {
    auto vm = SimVm::launch(spec, launch);
    if (!vm) {
      ADD_FAILURE() << vm.error().message();
      throw std::runtime_error("launch failed");
    }
    vms_.push_back(std::move(*vm));
    return *vms_.back();
  }

  static uint64_t writes_of(SimVm& vm) {
    auto w = vm.writes();
    EXPECT_TRUE(w) << w.error().message();
    return w ? *w : 0;
  }

  static uint64_t wait_for_writes(SimVm& vm, uint64_t at_least, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    uint64_t w = writes_of(vm);
    while (w < at_least && Clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
      w = writes_of(vm);
    }
    return w;
  }

  std::vector<std::unique_ptr<SimVm>> vms_;
  std::vector<std::string> ram_paths_;
  std::vector<std::string> run_dirs_;
};

TEST_F(SimVmTest, WritesPausesAndVerifies) {
  const std::string ram = new_ram_path();
  const auto start = Clock::now();
  SimVm& vm = launch(spec_of(64 << 20, 50), launch_of(ram));
  std::printf("[ timing ] launch of a 64 MiB guest: %.3f s\n", seconds_since(start));
  EXPECT_EQ(vm.state(), VmState::running);
  EXPECT_EQ(vm.kind(), "sim");
  EXPECT_GT(vm.pid(), 0);
  ASSERT_EQ(vm.ram_regions().size(), 1u);
  EXPECT_EQ(vm.ram_regions()[0].size, uint64_t{64} << 20);

  EXPECT_GT(wait_for_writes(vm, 500, 5s), 499u);
  ASSERT_TRUE(vm.pause());
  EXPECT_EQ(vm.state(), VmState::paused);
  const uint64_t w = writes_of(vm);
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(writes_of(vm), w) << "a paused guest must not write";

  const auto verify_start = Clock::now();
  auto v = vm.verify();
  ASSERT_TRUE(v) << v.error().message();
  std::printf("[ timing ] verify of 64 MiB after %llu writes: %.3f s\n",
              static_cast<unsigned long long>(w), seconds_since(verify_start));
  EXPECT_TRUE(v->ok) << v->detail;
  EXPECT_EQ(v->pages_checked, 16384u);
  EXPECT_EQ(v->pages_bad, 0u);
  EXPECT_EQ(vm.state(), VmState::paused) << "verify restores the paused state";
  EXPECT_EQ(writes_of(vm), w);

  const auto described = vm.describe();
  EXPECT_EQ(described["state"], "paused");
  EXPECT_EQ(described["writes"], w);
  EXPECT_EQ(described["ram_path"], std::filesystem::weakly_canonical(ram).string());
  auto spec = SimSpec::from_json(vm.spec());
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_EQ(spec->memory, uint64_t{64} << 20);

  const pid_t pid = vm.pid();
  ASSERT_TRUE(vm.stop());
  EXPECT_EQ(vm.state(), VmState::stopped);
  EXPECT_NE(::kill(pid, 0), 0) << "the guest process is gone";
  EXPECT_FALSE(std::filesystem::exists(ram)) << "stop() removes the RAM file";
}

TEST_F(SimVmTest, VerifyWhileRunningKeepsRunning) {
  SimVm& vm = launch(spec_of(16 << 20, 40, "sequential"), launch_of(new_ram_path()));
  wait_for_writes(vm, 200, 5s);
  auto v = vm.verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->ok) << v->detail;
  EXPECT_EQ(vm.state(), VmState::running);
  const uint64_t w = writes_of(vm);
  EXPECT_GT(wait_for_writes(vm, w + 100, 5s), w) << "the writer runs again after verify";
}

TEST_F(SimVmTest, ResumeFromCopiedMemoryContinuesCounting) {
  SimSpec spec = spec_of(64 << 20, 50, "hot");
  spec.fill = 32 << 20;
  SimVm& source = launch(spec, launch_of(new_ram_path()));
  wait_for_writes(source, 1000, 5s);
  ASSERT_TRUE(source.pause());
  auto state = source.save_device_state();
  ASSERT_TRUE(state) << state.error().message();
  const uint64_t w = writes_of(source);
  auto parsed = sim::GuestState::from_json(nlohmann::json::parse(
      std::string(reinterpret_cast<const char*>(state->data()), state->size())));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->writes, w);

  const std::string copy = new_ram_path();
  std::filesystem::copy_file(source.ram_regions()[0].path, copy);
  SimVm& destination = launch(spec, launch_of(copy, *state));
  EXPECT_EQ(destination.state(), VmState::paused) << "a resumed guest waits for resume()";
  EXPECT_EQ(writes_of(destination), w);
  auto v = destination.verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->ok) << v->detail;

  ASSERT_TRUE(destination.resume());
  EXPECT_EQ(destination.state(), VmState::running);
  EXPECT_GE(wait_for_writes(destination, w + 500, 5s), w + 500);
  ASSERT_TRUE(destination.pause());
  v = destination.verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->ok) << v->detail;

  // The source, still paused, rejects nothing and kept its own memory.
  v = source.verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->ok) << v->detail;
}

TEST_F(SimVmTest, CorruptedPageIsReported) {
  const std::string ram = new_ram_path();
  SimVm& vm = launch(spec_of(64 << 20, 20), launch_of(ram));
  wait_for_writes(vm, 200, 5s);
  ASSERT_TRUE(vm.pause());
  const uint64_t bad_page = 12345;
  {
    const int fd = ::open(ram.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const uint64_t garbage = 0xdeadbeefdeadbeef;
    ASSERT_EQ(::pwrite(fd, &garbage, sizeof garbage, bad_page * kPageSize + 1000),
              static_cast<ssize_t>(sizeof garbage));
    ::close(fd);
  }
  auto v = vm.verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->pages_bad, 1u) << v->detail;
  EXPECT_NE(v->detail.find("page 12345:"), std::string::npos) << v->detail;
  std::printf("[ detail ] %s\n", v->detail.c_str());
}

TEST_F(SimVmTest, RateChangesAreHonoured) {
  SimVm& vm = launch(spec_of(64 << 20, 0), launch_of(new_ram_path()));
  EXPECT_EQ(vm.state(), VmState::running);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(writes_of(vm), 0u) << "rate 0 is idle";

  ASSERT_TRUE(vm.set_dirty_rate(20));
  uint64_t w0 = writes_of(vm);
  auto t0 = Clock::now();
  std::this_thread::sleep_for(1s);
  double rate = static_cast<double>(writes_of(vm) - w0) * kPageSize / (1 << 20) / seconds_since(t0);
  std::printf("[ rate   ] asked 20 MiB/s, measured %.1f MiB/s\n", rate);
  EXPECT_GT(rate, 10.0);
  EXPECT_LT(rate, 26.0);

  ASSERT_TRUE(vm.set_dirty_rate(-1));
  w0 = writes_of(vm);
  t0 = Clock::now();
  std::this_thread::sleep_for(300ms);
  rate = static_cast<double>(writes_of(vm) - w0) * kPageSize / (1 << 20) / seconds_since(t0);
  std::printf("[ rate   ] unpaced: %.1f MiB/s\n", rate);
  EXPECT_GT(rate, 40.0);
  EXPECT_EQ(SimSpec::from_json(vm.spec())->dirty_rate_mib, -1);

  ASSERT_TRUE(vm.set_dirty_rate(0));
  w0 = writes_of(vm);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(writes_of(vm), w0);
  EXPECT_FALSE(vm.set_dirty_rate(-2));

  ASSERT_TRUE(vm.pause());
  auto v = vm.verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->ok) << v->detail;
}

TEST_F(SimVmTest, DirtyLogReportsEveryPageWritten) {
  SimSpec spec = spec_of(64 << 20, 50);
  SimVm& vm = launch(spec, launch_of(new_ram_path()));
  const sim::ContentModel model{spec.seed, sim::WritePattern::uniform, 16384, 16384, 16384};
  auto log = vm.open_dirty_log();
  ASSERT_TRUE(log) << log.error().message();

  const uint64_t before_start = writes_of(vm);
  ASSERT_TRUE((*log)->start());
  // Write W0 may have been in flight while start() protected its page; later writes were not.
  const uint64_t w0 = writes_of(vm) + 1;
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(vm.pause());
  const uint64_t w1 = writes_of(vm);
  ASSERT_GT(w1, w0 + 100);

  PageBitmap dirty(16384);
  auto reported = (*log)->collect(0, dirty);
  ASSERT_TRUE(reported) << reported.error().message();
  uint64_t missing = 0;
  for (uint64_t w = w0; w < w1; ++w) missing += !dirty.test(model.page_of_write(w));
  EXPECT_EQ(missing, 0u) << "writes " << w0 << ".." << w1;
  std::set<uint64_t> possibly_written;
  for (uint64_t w = before_start; w < w1; ++w) possibly_written.insert(model.page_of_write(w));
  uint64_t spurious = 0;
  dirty.for_each([&](uint64_t page) { spurious += !possibly_written.count(page); });
  EXPECT_EQ(spurious, 0u) << dirty.count() << " pages reported";
  std::printf("[ dirty  ] %llu writes in 200 ms, %llu pages reported\n",
              static_cast<unsigned long long>(w1 - before_start),
              static_cast<unsigned long long>(dirty.count()));

  // Second round: only what was written after the first collect.
  ASSERT_TRUE(vm.resume());
  const uint64_t w2 = wait_for_writes(vm, w1 + 500, 5s);
  ASSERT_TRUE(vm.pause());
  const uint64_t w3 = writes_of(vm);
  ASSERT_GE(w3, w2);
  PageBitmap second(16384);
  reported = (*log)->collect(0, second);
  ASSERT_TRUE(reported) << reported.error().message();
  missing = 0;
  for (uint64_t w = w1; w < w3; ++w) missing += !second.test(model.page_of_write(w));
  EXPECT_EQ(missing, 0u);
  EXPECT_LE(second.count(), w3 - w1);
  (*log)->stop();
}

TEST_F(SimVmTest, FillTimeOf256MiB) {
  const auto start = Clock::now();
  SimVm& vm = launch(spec_of(256 << 20, 0), launch_of(new_ram_path()));
  const double launch_seconds = seconds_since(start);
  const auto described = vm.describe();
  std::printf("[ timing ] 256 MiB guest: fill %.3f s (in the guest), launch %.3f s\n",
              described.value("fill_seconds", -1.0), launch_seconds);
  ASSERT_TRUE(vm.pause());
  const auto verify_start = Clock::now();
  auto v = vm.verify();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->ok) << v->detail;
  EXPECT_EQ(v->pages_checked, 65536u);
  std::printf("[ timing ] 256 MiB verify: %.3f s\n", seconds_since(verify_start));
}

TEST_F(SimVmTest, GuestThatFailsAtStartIsReportedWithItsLog) {
  // The RAM file cannot be created: the guest says why on stderr and exits 1.
  auto vm = SimVm::launch(spec_of(16 << 20, 0), launch_of("/nonexistent-dir/ram"));
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error().code(), Errc::guest);
  EXPECT_NE(vm.error().message().find("exited with status 1"), std::string::npos)
      << vm.error().message();
  EXPECT_NE(vm.error().message().find("create RAM file /nonexistent-dir/ram"), std::string::npos)
      << vm.error().message();
}

TEST_F(SimVmTest, MissingRunDirectoryIsRejected) {
  SimLaunch l = launch_of(new_ram_path());
  l.run_dir += "/missing";
  auto vm = SimVm::launch(spec_of(16 << 20, 0), l);
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error().code(), Errc::not_found);
}

TEST_F(SimVmTest, KilledGuestIsNoticed) {
  SimVm& vm = launch(spec_of(16 << 20, 10), launch_of(new_ram_path()));
  ASSERT_EQ(::kill(vm.pid(), SIGKILL), 0);
  const auto deadline = Clock::now() + 5s;
  while (vm.state() != VmState::failed && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(vm.state(), VmState::failed);
  auto paused = vm.pause();
  ASSERT_FALSE(paused);
  EXPECT_EQ(paused.error().code(), Errc::guest);
  EXPECT_NE(paused.error().message().find("killed by signal 9"), std::string::npos)
      << paused.error().message();
  EXPECT_TRUE(vm.stop());
}

TEST_F(SimVmTest, DeviceStateIsRefusedWhileRunning) {
  SimVm& vm = launch(spec_of(16 << 20, 10), launch_of(new_ram_path()));
  auto state = vm.save_device_state();
  ASSERT_FALSE(state);
  EXPECT_NE(state.error().message().find("pause it first"), std::string::npos);
}

}  // namespace
}  // namespace ferry
