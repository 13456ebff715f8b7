// The test guest under QemuVm: it boots, checks all its memory, catches a corrupted page, obeys
// its serial commands, and its writes are exactly what the dirty log reports.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "engine/memory/page_bitmap.h"
#include "tests/unit/qemu/qemu_test_support.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kTestRamFirstPage = (16u << 20) / 4096;  // the guest's test page 0

class TestGuestTest : public QemuTest {
 protected:
  void SetUp() override {
    QemuTest::SetUp();
    FERRY_REQUIRE_QEMU();
  }

  std::unique_ptr<QemuVm> boot(const std::string& name, uint64_t mib, const std::string& append,
                               bool with_preload = false) {
    auto started = Clock::now();
    auto vm = QemuVm::launch(guest_spec(name, mib, append), guest_launch(name, with_preload));
    EXPECT_TRUE(vm.ok()) << vm.error().message();
    if (!vm.ok()) return nullptr;
    auto filled = (*vm)->serial().wait_line("FILLED", 0, 60s);
    EXPECT_TRUE(filled.ok()) << filled.error().message();
    std::printf("[ timing ] %s: %llu MiB guest filled %.0f ms after launch (%s, accel %s: %s)\n",
                name.c_str(), static_cast<unsigned long long>(mib),
                std::chrono::duration<double, std::milli>(Clock::now() - started).count(),
                filled.ok() ? filled->text.c_str() : "-", (*vm)->accelerator().accel.c_str(),
                (*vm)->accelerator().reason.c_str());
    return std::move(vm).value();
  }
};

TEST_F(TestGuestTest, BootsAndVerifiesAllItsMemory) {
  auto vm = boot("boot", 64, "rate=20 seed=4242 tick=10");
  ASSERT_TRUE(vm);
  auto boot_line = vm->serial().wait_line("BOOT ", 0, 5s);
  ASSERT_TRUE(boot_line.ok());
  EXPECT_EQ(field(boot_line->text, "id"), 4242);
  EXPECT_GT(field(boot_line->text, "fill_pages").value_or(0), 10000);  // ≈48 MiB of test RAM

  // Heartbeats come every ~10 ms with a growing write counter.
  auto first = vm->serial().wait_line("HB ", vm->serial().next_seq(), 5s);
  ASSERT_TRUE(first.ok()) << first.error().message();
  std::this_thread::sleep_for(300ms);
  auto later = vm->serial().wait_line("HB ", vm->serial().next_seq(), 5s);
  ASSERT_TRUE(later.ok());
  EXPECT_GE(word(later->text, 1).value(), word(first->text, 1).value() + 10);
  EXPECT_GT(word(later->text, 2).value(), word(first->text, 2).value());

  auto verified = vm->verify();
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_TRUE(verified->ok) << verified->detail;
  EXPECT_EQ(verified->pages_checked,
            static_cast<uint64_t>(field(boot_line->text, "fill_pages").value()));
  EXPECT_EQ(verified->pages_bad, 0u);

  auto description = vm->describe();
  EXPECT_EQ(description["state"], "running");
  EXPECT_EQ(description["kind"], "qemu");
  EXPECT_FALSE(description["accelerator"]["reason"].get<std::string>().empty());
  EXPECT_EQ(description["pid"], vm->pid());

  std::string ram = vm->ram_path();
  ASSERT_TRUE(vm->stop().ok());
  EXPECT_EQ(vm->state(), VmState::stopped);
  EXPECT_FALSE(std::filesystem::exists(ram));
  EXPECT_FALSE(std::filesystem::exists(run_dir("boot") + "/qmp.sock"));
}

TEST_F(TestGuestTest, FollowsRateAndStatusCommands) {
  auto vm = boot("rate", 64, "rate=50");
  ASSERT_TRUE(vm);
  auto stopped = vm->serial().command("r 0", "RATE ", 5s);
  ASSERT_TRUE(stopped.ok()) << stopped.error().message();
  EXPECT_EQ(field(stopped->text, "rate"), 0);
  int64_t writes = field(stopped->text, "writes").value();
  EXPECT_GT(writes, 0);
  std::this_thread::sleep_for(200ms);
  auto status = vm->serial().command("s", "STATUS ", 5s);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(field(status->text, "writes"), writes);  // idle: no more writes
  EXPECT_EQ(field(status->text, "rate"), 0);

  ASSERT_TRUE(vm->serial().command("r 20", "RATE ", 5s).ok());
  std::this_thread::sleep_for(500ms);
  auto busy = vm->serial().command("s", "STATUS ", 5s);
  ASSERT_TRUE(busy.ok());
  // 20 MiB/s is 5120 pages/s: 0.5 s gives ≈2560 writes; allow for a slow, shared host.
  EXPECT_GT(field(busy->text, "writes").value() - writes, 500);
  EXPECT_LT(field(busy->text, "writes").value() - writes, 5120);
  auto unknown = vm->serial().command("x", "ERR ", 5s);
  EXPECT_TRUE(unknown.ok());
}

TEST_F(TestGuestTest, VerifyCatchesACorruptedPage) {
  auto vm = boot("corrupt", 64, "rate=0");
  ASSERT_TRUE(vm);
  ASSERT_TRUE(vm->verify()->ok);
  // Change one word of test page 1234 behind the guest's back, through the shared RAM file.
  int fd = ::open(vm->ram_path().c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, 64 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);
  auto* word = static_cast<uint32_t*>(map) + (kTestRamFirstPage + 1234) * 1024 + 700;
  *word ^= 0x10;
  ::munmap(map, 64 << 20);

  auto verified = vm->verify();
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_FALSE(verified->ok);
  EXPECT_EQ(verified->pages_bad, 1u);
  EXPECT_NE(verified->detail.find("page=1234 word=700"), std::string::npos) << verified->detail;
}

TEST_F(TestGuestTest, GuestWithoutSelfCheckSaysSo) {
  auto spec = guest_spec("plain", 32, "rate=0");
  spec.test_guest = false;
  auto vm = QemuVm::launch(spec, guest_launch("plain"));
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  auto verified = (*vm)->verify();
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.error().message().find("guest has no self-check"), std::string::npos);
  auto dirty = (*vm)->open_dirty_log();
  ASSERT_FALSE(dirty.ok());
  EXPECT_NE(dirty.error().message().find("preload"), std::string::npos);
}

TEST_F(TestGuestTest, RefusesAnExistingRamFileAndAMissingKernel) {
  std::string taken = ram_path("taken");
  {
    std::FILE* file = std::fopen(taken.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fclose(file);
  }
  auto launch = guest_launch("taken");
  launch.ram_path = taken;
  auto vm = QemuVm::launch(guest_spec("taken", 32, ""), launch);
  ASSERT_FALSE(vm.ok());
  EXPECT_NE(vm.error().message().find("already exists"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(taken));  // not ours: left alone

  auto spec = guest_spec("nokernel", 32, "");
  spec.kernel = root_ + "/missing.elf";
  auto missing = QemuVm::launch(spec, guest_launch("nokernel"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::not_found);
}

TEST_F(TestGuestTest, ReportsQemuOwnErrorWhenItCannotStart) {
  auto spec = guest_spec("badarg", 32, "");
  spec.extra_args = {"-no-such-option"};
  auto vm = QemuVm::launch(spec, guest_launch("badarg"));
  ASSERT_FALSE(vm.ok());
  EXPECT_NE(vm.error().message().find("-no-such-option"), std::string::npos)
      << vm.error().message();
  EXPECT_NE(vm.error().message().find("exited with status 1"), std::string::npos)
      << vm.error().message();
}

// The dirty log sees exactly the test pages the guest wrote: write w went to page
// (w * stride) mod wss_pages, so the set is known from the guest's own counter.
TEST_F(TestGuestTest, DirtyLogReportsExactlyThePagesTheGuestWrote) {
  auto vm = boot("dirty", 64, "rate=0 wss=32", /*with_preload=*/true);
  ASSERT_TRUE(vm);
  auto boot_line = vm->serial().wait_line("BOOT ", 0, 1s);
  ASSERT_TRUE(boot_line.ok());
  const uint64_t wss_pages = field(boot_line->text, "wss_pages").value();
  const uint64_t fill_pages = field(boot_line->text, "fill_pages").value();
  const uint64_t stride = field(boot_line->text, "stride").value();
  ASSERT_EQ(wss_pages, 32u * 256);

  auto log = vm->open_dirty_log();
  ASSERT_TRUE(log.ok()) << log.error().message();
  ASSERT_TRUE((*log)->start().ok());
  ASSERT_TRUE(vm->serial().command("r 10", "RATE ", 5s).ok());
  std::this_thread::sleep_for(400ms);
  auto idle = vm->serial().command("r 0", "RATE ", 5s);
  ASSERT_TRUE(idle.ok());
  const uint64_t writes = field(idle->text, "writes").value();
  ASSERT_GT(writes, 100u);
  ASSERT_LT(writes, wss_pages);  // no page written twice: the set is exactly the first `writes`

  PageBitmap dirty(64u * 256);
  auto added = (*log)->collect(0, dirty);
  ASSERT_TRUE(added.ok()) << added.error().message();
  PageBitmap expected(64u * 256);
  for (uint64_t w = 0; w < writes; ++w) expected.set(kTestRamFirstPage + (w * stride) % wss_pages);
  uint64_t missed = 0, extra = 0;
  for (uint64_t page = kTestRamFirstPage; page < kTestRamFirstPage + fill_pages; ++page) {
    missed += expected.test(page) && !dirty.test(page);
    extra += !expected.test(page) && dirty.test(page);
  }
  EXPECT_EQ(missed, 0u);
  EXPECT_EQ(extra, 0u);
  std::printf("[ dirty  ] %llu guest writes, %llu pages reported (incl. kernel pages)\n",
              static_cast<unsigned long long>(writes), static_cast<unsigned long long>(*added));

  // Idle now: a second look finds no test page written.
  PageBitmap again(64u * 256);
  ASSERT_TRUE((*log)->collect(0, again).ok());
  for (uint64_t page = kTestRamFirstPage; page < kTestRamFirstPage + fill_pages; ++page) {
    ASSERT_FALSE(again.test(page)) << "page " << page;
  }
  (*log)->stop();
  EXPECT_TRUE(vm->verify()->ok);
}

}  // namespace
}  // namespace ferry::test
