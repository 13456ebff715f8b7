// A device-state-only move between two QEMU processes on this machine: the source's RAM file is
// copied to the destination's, QEMU moves only its devices (x-ignore-shared), and the guest goes
// on where it stopped — same identity, counters continuing, all memory verified.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/unit/qemu/qemu_test_support.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

class DeviceStateMoveTest : public QemuTest {
 protected:
  void SetUp() override {
    QemuTest::SetUp();
    FERRY_REQUIRE_QEMU();
  }

  // The source: a running guest (no seed given: its identity comes from its own clock).
  std::unique_ptr<QemuVm> start_source(const QemuVmSpec& spec) {
    auto vm = QemuVm::launch(spec, guest_launch("source"));
    EXPECT_TRUE(vm.ok()) << vm.error().message();
    if (!vm.ok()) return nullptr;
    auto filled = (*vm)->serial().wait_line("FILLED", 0, 60s);
    EXPECT_TRUE(filled.ok()) << filled.error().message();
    // Some heartbeats and writes before the move.
    EXPECT_TRUE((*vm)->serial().wait_line("HB 30 ", 0, 30s).ok());
    return std::move(vm).value();
  }

  // Copies the paused source's RAM file to a new destination file.
  std::string copy_ram(const QemuVm& source, std::string_view tag) {
    std::string destination = ram_path(tag);
    std::filesystem::copy_file(source.ram_path(), destination,
                               std::filesystem::copy_options::overwrite_existing);
    return destination;
  }

  // Overwrites `to` with `from` without replacing the file (QEMU keeps it mapped).
  static void copy_in_place(const std::string& from, const std::string& to) {
    std::ifstream in(from, std::ios::binary);
    std::fstream out(to, std::ios::binary | std::ios::in | std::ios::out);
    ASSERT_TRUE(in && out) << from << " -> " << to;
    std::vector<char> buffer(4 << 20);
    while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount()) {
      out.write(buffer.data(), in.gcount());
    }
    ASSERT_TRUE(out.flush().good());
  }

  QemuLaunch destination_launch(std::string_view tag, const std::string& ram) {
    QemuLaunch launch;
    launch.run_dir = run_dir(tag);
    launch.ram_path = ram;
    return launch;
  }
};

TEST_F(DeviceStateMoveTest, GuestContinuesOnTheDestination) {
  const auto spec = guest_spec("mover", 128, "rate=20 tick=10");
  auto source = start_source(spec);
  ASSERT_TRUE(source);
  auto boot_line = source->serial().wait_line("BOOT ", 0, 1s);
  ASSERT_TRUE(boot_line.ok());
  const int64_t id = field(boot_line->text, "id").value();

  // As ferry will: the destination starts early, on its own RAM file, and waits.
  std::string ram = ram_path("destination");
  { std::ofstream create(ram); }
  std::filesystem::resize_file(ram, spec.memory_bytes);
  const auto launch_start = Clock::now();
  auto destination = QemuVm::launch_incoming(spec, destination_launch("destination", ram));
  ASSERT_TRUE(destination.ok()) << destination.error().message();
  const auto launched = Clock::now();
  EXPECT_EQ((*destination)->state(), VmState::paused);
  EXPECT_FALSE((*destination)->resume().ok());  // nothing to resume before the device state

  const auto pause_start = Clock::now();
  ASSERT_TRUE(source->pause().ok());
  const auto paused = Clock::now();
  auto state = source->save_device_state();
  ASSERT_TRUE(state.ok()) << state.error().message();
  const auto saved = Clock::now();
  EXPECT_GT(state->size(), 10'000u);
  EXPECT_LT(state->size(), 4'000'000u);  // devices only: far less than 128 MiB of RAM
  // The whole RAM, in place: QEMU maps this file already (ferry sends only what changed).
  copy_in_place(source->ram_path(), ram);
  const auto copied = Clock::now();
  auto loaded = (*destination)->load_device_state(*state);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  const auto load_done = Clock::now();
  ASSERT_TRUE((*destination)->resume().ok());
  const auto resumed = Clock::now();
  EXPECT_TRUE((*destination)->announce().ok());

  const SerialLine* last_beat = nullptr;
  auto last_lines = source->serial().tail(50);
  for (const auto& line : last_lines) {
    if (line.text.starts_with("HB ")) last_beat = &line;
  }
  ASSERT_NE(last_beat, nullptr);
  const uint64_t source_beats = word(last_beat->text, 1).value();
  const uint64_t source_writes = word(last_beat->text, 2).value();

  // The guest goes on: the next heartbeat numbers follow the source's, writes continue.
  auto first_line = (*destination)->serial().wait_line("", 0, 10s);
  ASSERT_TRUE(first_line.ok()) << first_line.error().message();
  auto beat = (*destination)->serial().wait_line("HB ", 0, 10s);
  ASSERT_TRUE(beat.ok()) << beat.error().message();
  // When the pause cut a heartbeat line in two, the destination prints its rest first.
  const bool cut = !first_line->text.starts_with("HB ");
  EXPECT_EQ(word(beat->text, 1).value(), source_beats + (cut ? 2 : 1))
      << "first line '" << first_line->text << "', then '" << beat->text << "'";
  EXPECT_GE(word(beat->text, 2).value(), source_writes);
  std::this_thread::sleep_for(300ms);
  auto status = (*destination)->serial().command("s", "STATUS ", 5s);
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(field(status->text, "id"), id);  // the same guest, not a fresh boot
  EXPECT_GT(field(status->text, "writes").value(), static_cast<int64_t>(source_writes));
  for (const auto& line : (*destination)->serial().lines_since(0)) {
    EXPECT_FALSE(line.text.starts_with("BOOT")) << "the destination guest rebooted";
  }
  auto verified = (*destination)->verify();
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_TRUE(verified->ok) << verified->detail;

  const double guest_pause_ms = ms_between(last_beat->at, beat->at);
  std::printf(
      "[ timing ] destination launch %.1f ms (before the pause); device state %zu bytes; pause "
      "%.1f ms, save %.1f ms, RAM copy (%llu MiB) %.1f ms, load %.1f ms, cont %.1f ms; "
      "guest-visible pause (heartbeat gap) %.1f ms\n",
      ms_between(launch_start, launched), state->size(), ms_between(pause_start, paused),
      ms_between(paused, saved), static_cast<unsigned long long>(spec.memory_bytes >> 20),
      ms_between(saved, copied), ms_between(copied, load_done), ms_between(load_done, resumed),
      guest_pause_ms);
  std::printf("[ detail ] source %s\n[ detail ] destination %s\n",
              source->describe()["last_device_state"].dump().c_str(),
              (*destination)->describe()["last_device_state"].dump().c_str());

  ASSERT_TRUE(source->stop().ok());
  ASSERT_TRUE((*destination)->stop().ok());
  EXPECT_FALSE(std::filesystem::exists(ram));
}

TEST_F(DeviceStateMoveTest, DestinationRefusesACorruptedStream) {
  const auto spec = guest_spec("refused", 64, "rate=10");
  auto source = start_source(spec);
  ASSERT_TRUE(source);
  ASSERT_TRUE(source->pause().ok());
  auto state = source->save_device_state();
  ASSERT_TRUE(state.ok()) << state.error().message();

  // A stream cut in half, and one whose header is not QEMU's.
  std::vector<std::byte> truncated(state->begin(), state->begin() + state->size() / 2);
  std::vector<std::byte> bad_header = *state;
  bad_header[0] ^= std::byte{0xFF};
  int attempt = 0;
  for (const auto* stream : {&truncated, &bad_header}) {
    std::string tag = "destination" + std::to_string(attempt++);
    auto destination =
        QemuVm::launch_incoming(spec, destination_launch(tag, copy_ram(*source, tag)));
    ASSERT_TRUE(destination.ok()) << destination.error().message();
    auto loaded = (*destination)->load_device_state(*stream);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().code(), Errc::rejected);
    EXPECT_NE(loaded.error().message().find("refused"), std::string::npos);
    // QEMU's own words about what was wrong are in the message.
    EXPECT_NE(loaded.error().message().find("qemu-system-x86_64:"), std::string::npos)
        << loaded.error().message();
    std::printf("[ refused ] %s\n", loaded.error().message().c_str());
    EXPECT_EQ((*destination)->state(), VmState::failed);
    EXPECT_FALSE((*destination)->resume().ok());
    EXPECT_TRUE((*destination)->stop().ok());
  }

  // Rollback: the source was never harmed and runs on.
  uint64_t from = source->serial().next_seq();
  ASSERT_TRUE(source->resume().ok());
  EXPECT_TRUE(source->serial().wait_line("HB ", from, 5s).ok());
  auto verified = source->verify();
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_TRUE(verified->ok) << verified->detail;
}

}  // namespace
}  // namespace ferry::test
