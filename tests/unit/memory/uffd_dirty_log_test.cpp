// The exactness test: a real child process (ferry_dirty_writer, started with the preload
// library) writes pages the test chooses; the dirty log must report exactly those.
#include "engine/memory/uffd_dirty_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "engine/agent/uffd_handoff.h"
#include "engine/memory/mapped_region.h"
#include "tests/unit/memory/writer_process.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using Pages = std::vector<unsigned long long>;
using test::ScopedPath;
using test::WriterProcess;

constexpr uint64_t kMiB = uint64_t{1} << 20;

std::set<uint64_t> pages_of(const PageBitmap& bitmap) {
  std::set<uint64_t> pages;
  bitmap.for_each([&](uint64_t page) { pages.insert(page); });
  return pages;
}

uint64_t counter(const MappedRegion& region, uint64_t page) {
  return __atomic_load_n(reinterpret_cast<const uint64_t*>(region.page(page)), __ATOMIC_ACQUIRE);
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// A guest (the dirty writer) started with the preload library, its RAM file, and its uffd.
class TrackedGuest : public ::testing::Test {
 protected:
  void launch(uint64_t bytes) {
    bytes_ = bytes;
    socket_ = std::make_unique<ScopedPath>("/tmp", "uffd.sock");
    ram_ = std::make_unique<ScopedPath>("/dev/shm", "ram");
    test::create_sparse_file(ram_->path(), bytes);
    auto receiver = UffdReceiver::listen(socket_->path());
    ASSERT_TRUE(receiver.ok()) << receiver.error().message();
    guest_ = std::make_unique<WriterProcess>(
        ram_->path(), bytes,
        std::vector<std::string>{std::string("LD_PRELOAD=") + FERRY_PRELOAD_PATH,
                                 std::string(kUffdSocketEnv) + "=" + socket_->path(),
                                 "FERRY_UFFD_THP_DISABLE=1"});
    auto fd = receiver->accept_fd(10s);
    ASSERT_TRUE(fd.ok()) << fd.error().message();
    uffd_ = std::move(fd).value();
    ASSERT_EQ(guest_->read_line(10s), "READY");
    auto address = find_file_mapping(guest_->pid(), ram_->path(), bytes);
    ASSERT_TRUE(address.ok()) << address.error().message();
    address_ = *address;
  }

  UniqueFd dup_uffd() const { return UniqueFd(::fcntl(uffd_.get(), F_DUPFD_CLOEXEC, 0)); }

  void write_pages(const Pages& pages) {
    ASSERT_EQ(guest_->command(test::page_command("write", pages)), "OK");
  }
  void read_pages(const Pages& pages) {
    ASSERT_EQ(guest_->command(test::page_command("read", pages)), "OK");
  }

  uint64_t bytes_ = 0;
  std::unique_ptr<ScopedPath> socket_;
  std::unique_ptr<ScopedPath> ram_;
  std::unique_ptr<WriterProcess> guest_;
  UniqueFd uffd_;
  uint64_t address_ = 0;
};

// Random distinct pages, `count` of them, from `pool`.
Pages pick(std::mt19937_64& random, Pages pool, size_t count) {
  std::shuffle(pool.begin(), pool.end(), random);
  pool.resize(std::min(count, pool.size()));
  return pool;
}

TEST_F(TrackedGuest, ReportsExactlyThePagesWrittenRoundAfterRound) {
  ASSERT_NO_FATAL_FAILURE(launch(64 * kMiB));
  const uint64_t pages = bytes_ >> kPageShift;
  const uint64_t half = pages / 2;
  std::mt19937_64 random(20240607);

  // Before tracking starts: some pages written, some only read, the rest never touched.
  Pages all(pages);
  for (uint64_t p = 0; p < pages; ++p) all[p] = p;
  std::shuffle(all.begin(), all.end(), random);
  Pages written_before(all.begin(), all.begin() + 3000);
  Pages read_before(all.begin() + 3000, all.begin() + 6000);
  Pages untouched(all.begin() + 6000, all.end());
  ASSERT_NO_FATAL_FAILURE(write_pages(written_before));
  ASSERT_NO_FATAL_FAILURE(read_pages(read_before));

  // Two regions over the two halves of the mapping: page numbers are relative to each.
  auto log = UffdDirtyLog::attach(
      dup_uffd(), guest_->pid(),
      {RemoteRange{7, address_, half << kPageShift},
       RemoteRange{9, address_ + (half << kPageShift), (pages - half) << kPageShift}});
  ASSERT_TRUE(log.ok()) << log.error().message();
  // Registering half of the mapping split it in two; it is still found as one file mapping.
  auto found_again = find_file_mapping(guest_->pid(), ram_->path(), bytes_);
  ASSERT_TRUE(found_again.ok()) << found_again.error().message();
  EXPECT_EQ(*found_again, address_);

  ASSERT_TRUE((*log)->start().ok());
  PageBitmap low(half), high(pages - half);
  auto collect_both = [&](std::set<uint64_t>& reported) {
    low.clear_all();
    high.clear_all();
    auto low_count = (*log)->collect(7, low);
    auto high_count = (*log)->collect(9, high);
    ASSERT_TRUE(low_count.ok()) << low_count.error().message();
    ASSERT_TRUE(high_count.ok()) << high_count.error().message();
    EXPECT_EQ(*low_count, low.count());
    EXPECT_EQ(*high_count, high.count());
    reported.clear();
    low.for_each([&](uint64_t p) { reported.insert(p); });
    high.for_each([&](uint64_t p) { reported.insert(half + p); });
  };

  std::set<uint64_t> reported;
  ASSERT_NO_FATAL_FAILURE(collect_both(reported));
  EXPECT_TRUE(reported.empty()) << "nothing was written since start(): " << reported.size();

  Pages written_during;
  for (int round = 0; round < 8; ++round) {
    std::set<uint64_t> expected;
    for (const Pages* pool : {&untouched, &written_before, &read_before, &written_during}) {
      for (auto page : pick(random, *pool, 120)) expected.insert(page);
    }
    // The edges of both regions.
    if (round % 2 == 0) expected.insert({0, half - 1, half, pages - 1});
    Pages to_write(expected.begin(), expected.end());
    std::shuffle(to_write.begin(), to_write.end(), random);
    ASSERT_NO_FATAL_FAILURE(write_pages(to_write));
    // Pages only read must not be reported.
    Pages only_read;
    for (auto page : pick(random, all, 400)) {
      if (!expected.count(page)) only_read.push_back(page);
    }
    ASSERT_NO_FATAL_FAILURE(read_pages(only_read));

    ASSERT_NO_FATAL_FAILURE(collect_both(reported));
    EXPECT_EQ(reported, expected) << "round " << round;
    written_during.insert(written_during.end(), to_write.begin(), to_write.end());

    ASSERT_NO_FATAL_FAILURE(collect_both(reported));
    EXPECT_TRUE(reported.empty()) << "round " << round << ": a round without writes reported "
                                  << reported.size() << " pages";
  }

  // collect() ORs into the bitmap it is given.
  PageBitmap merged(half);
  merged.set(5);
  ASSERT_NO_FATAL_FAILURE(write_pages({10}));
  auto count = (*log)->collect(7, merged);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1u);
  EXPECT_EQ(pages_of(merged), (std::set<uint64_t>{5, 10}));
}

TEST_F(TrackedGuest, ConcurrentWritesAreNeverLost) {
  ASSERT_NO_FATAL_FAILURE(launch(32 * kMiB));
  const uint64_t pages = bytes_ >> kPageShift;
  auto view = MappedRegion::open(ram_->path(), bytes_, MappedRegion::Access::read_only);
  ASSERT_TRUE(view.ok()) << view.error().message();
  auto log = UffdDirtyLog::attach(dup_uffd(), guest_->pid(), {RemoteRange{0, address_, bytes_}});
  ASSERT_TRUE(log.ok()) << log.error().message();

  // The order a migration uses: protect, then read; collect (re-protects), then re-read.
  std::vector<uint64_t> sent(pages);
  ASSERT_TRUE((*log)->start().ok());
  for (uint64_t p = 0; p < pages; ++p) sent[p] = counter(*view, p);

  ASSERT_EQ(guest_->command("spin 0 " + std::to_string(pages)), "OK");
  PageBitmap dirty(pages);
  uint64_t collects = 0, reported_total = 0;
  const auto begin = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - begin < 1500ms) {
    dirty.clear_all();
    auto count = (*log)->collect(0, dirty);
    ASSERT_TRUE(count.ok()) << count.error().message();
    dirty.for_each([&](uint64_t p) { sent[p] = counter(*view, p); });
    ++collects;
    reported_total += *count;
    std::this_thread::sleep_for(std::chrono::milliseconds(collects % 5));
  }
  const std::string halted = guest_->command("halt");
  ASSERT_EQ(halted.rfind("OK ", 0), 0u) << halted;
  const uint64_t writes = std::stoull(halted.substr(3));
  dirty.clear_all();
  auto last = (*log)->collect(0, dirty);
  ASSERT_TRUE(last.ok()) << last.error().message();
  dirty.for_each([&](uint64_t p) { sent[p] = counter(*view, p); });

  uint64_t lost = 0, total = 0;
  for (uint64_t p = 0; p < pages; ++p) {
    total += counter(*view, p);
    if (counter(*view, p) != sent[p]) ++lost;
  }
  std::printf(
      "[ concurrent ] %llu writes by the guest, %llu collects, %llu pages reported, "
      "%llu pages lost\n",
      static_cast<unsigned long long>(writes), static_cast<unsigned long long>(collects),
      static_cast<unsigned long long>(reported_total), static_cast<unsigned long long>(lost));
  EXPECT_GT(writes, 0u);
  EXPECT_EQ(total, writes) << "every counter increment is in the file";
  EXPECT_GT(collects, 10u);
  EXPECT_GT(reported_total, 0u);
  EXPECT_EQ(lost, 0u) << "pages whose content changed after the last read but were not reported";
}

TEST_F(TrackedGuest, AttachesAgainAfterStopOnTheSameUffd) {
  ASSERT_NO_FATAL_FAILURE(launch(8 * kMiB));
  const uint64_t pages = bytes_ >> kPageShift;
  for (int migration = 0; migration < 3; ++migration) {
    auto log = UffdDirtyLog::attach(dup_uffd(), guest_->pid(), {RemoteRange{1, address_, bytes_}});
    ASSERT_TRUE(log.ok()) << "migration " << migration << ": " << log.error().message();
    ASSERT_TRUE((*log)->start().ok());
    const Pages written{static_cast<unsigned long long>(migration), 100, pages - 1 - migration};
    ASSERT_NO_FATAL_FAILURE(write_pages(written));
    PageBitmap dirty(pages);
    auto count = (*log)->collect(1, dirty);
    ASSERT_TRUE(count.ok()) << count.error().message();
    EXPECT_EQ(pages_of(dirty), std::set<uint64_t>(written.begin(), written.end()))
        << "migration " << migration;
    if (migration == 1) {
      (*log)->stop();  // explicit stop, then the destructor's stop again: harmless
      auto stopped = (*log)->collect(1, dirty);
      ASSERT_FALSE(stopped.ok());
    }
    // The log goes away with pages still protected: the guest must keep running and writing.
  }
  ASSERT_NO_FATAL_FAILURE(write_pages({1, 2, 3}));
  ASSERT_EQ(guest_->command("fill"), "OK");
}

TEST_F(TrackedGuest, RejectsBadRangesAndBitmaps) {
  ASSERT_NO_FATAL_FAILURE(launch(4 * kMiB));
  const pid_t pid = guest_->pid();
  auto unaligned = UffdDirtyLog::attach(dup_uffd(), pid, {RemoteRange{0, address_ + 1, bytes_}});
  ASSERT_FALSE(unaligned.ok());
  EXPECT_EQ(unaligned.error().code(), Errc::invalid_argument);
  auto twice = UffdDirtyLog::attach(
      dup_uffd(), pid, {RemoteRange{3, address_, 4096}, RemoteRange{3, address_ + 4096, 4096}});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code(), Errc::invalid_argument);
  auto none = UffdDirtyLog::attach(dup_uffd(), pid, {});
  ASSERT_FALSE(none.ok());

  // A range the guest does not map: the error names the ioctl, the pid and the range.
  auto unmapped = UffdDirtyLog::attach(dup_uffd(), pid, {RemoteRange{0, 0x10000, 4096}});
  ASSERT_FALSE(unmapped.ok());
  const std::string& message = unmapped.error().message();
  EXPECT_NE(message.find("UFFDIO_REGISTER"), std::string::npos) << message;
  EXPECT_NE(message.find("pid " + std::to_string(pid)), std::string::npos) << message;
  EXPECT_NE(message.find("0x10000"), std::string::npos) << message;

  auto log = UffdDirtyLog::attach(dup_uffd(), pid, {RemoteRange{4, address_, bytes_}});
  ASSERT_TRUE(log.ok()) << log.error().message();
  PageBitmap wrong_size(3);
  auto mismatch = (*log)->collect(4, wrong_size);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code(), Errc::invalid_argument);
  PageBitmap dirty(bytes_ >> kPageShift);
  auto unknown = (*log)->collect(5, dirty);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), Errc::invalid_argument);
}

TEST_F(TrackedGuest, AGuestThatDiedGivesErrorsNotCrashes) {
  ASSERT_NO_FATAL_FAILURE(launch(4 * kMiB));
  const pid_t pid = guest_->pid();
  auto log = UffdDirtyLog::attach(dup_uffd(), pid, {RemoteRange{0, address_, bytes_}});
  ASSERT_TRUE(log.ok()) << log.error().message();
  ASSERT_TRUE((*log)->start().ok());
  guest_->kill_now();
  PageBitmap dirty(bytes_ >> kPageShift);
  auto collected = (*log)->collect(0, dirty);
  ASSERT_FALSE(collected.ok());
  EXPECT_NE(collected.error().message().find("pid " + std::to_string(pid)), std::string::npos)
      << collected.error().message();
  auto started = (*log)->start();
  EXPECT_FALSE(started.ok());
  (*log)->stop();

  auto again = UffdDirtyLog::attach(dup_uffd(), pid, {RemoteRange{0, address_, bytes_}});
  EXPECT_FALSE(again.ok());
}

// In synchronous mode a protected page would stop the writer until someone resolved the fault:
// attach must refuse such a uffd instead of freezing the guest.
TEST(UffdDirtyLog, RefusesAUffdNotInAsyncMode) {
  const int raw = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  ASSERT_GE(raw, 0) << std::strerror(errno);
  UniqueFd uffd(raw);
  uffdio_api api{};
  api.api = UFFD_API;
  ASSERT_EQ(::ioctl(uffd.get(), UFFDIO_API, &api), 0);
  const size_t size = 16 * 4096;
  void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  {
    auto log = UffdDirtyLog::attach(std::move(uffd), ::getpid(),
                                    {RemoteRange{0, reinterpret_cast<uintptr_t>(memory), size}});
    ASSERT_FALSE(log.ok());
    EXPECT_EQ(log.error().code(), Errc::guest) << log.error().message();
    EXPECT_NE(log.error().message().find("WP_ASYNC"), std::string::npos) << log.error().message();
  }
  std::memset(memory, 1, size);  // still writable: nothing was left protected
  ::munmap(memory, size);
}

TEST(FindFileMapping, NotFoundAndDeletedFiles) {
  ScopedPath ram("/dev/shm", "mapped");
  auto region = MappedRegion::create(ram.path(), 2 * kMiB);
  ASSERT_TRUE(region.ok());
  const uint64_t address = reinterpret_cast<uintptr_t>(region->data());
  auto found = find_file_mapping(::getpid(), ram.path(), 2 * kMiB);
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_EQ(*found, address);

  auto too_big = find_file_mapping(::getpid(), ram.path(), 4 * kMiB);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code(), Errc::not_found);
  EXPECT_NE(too_big.error().message().find(ram.path()), std::string::npos);

  ASSERT_TRUE(region->unlink_file().ok());  // maps now show "<path> (deleted)"
  auto deleted = find_file_mapping(::getpid(), ram.path(), 2 * kMiB);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message();
  EXPECT_EQ(*deleted, address);

  auto no_process = find_file_mapping(0x7ffffff0, ram.path(), 2 * kMiB);
  ASSERT_FALSE(no_process.ok());
  EXPECT_EQ(no_process.error().code(), Errc::not_found);
}

// Measures what a migration pays per round on 1 GiB of populated guest RAM, and checks the
// scan stays exact at that size.
TEST_F(TrackedGuest, CostOnOneGibibyte) {
  ASSERT_NO_FATAL_FAILURE(launch(1024 * kMiB));
  const uint64_t pages = bytes_ >> kPageShift;
  ASSERT_EQ(guest_->command("fill", 120s), "OK");
  auto log = UffdDirtyLog::attach(dup_uffd(), guest_->pid(), {RemoteRange{0, address_, bytes_}});
  ASSERT_TRUE(log.ok()) << log.error().message();

  auto t = std::chrono::steady_clock::now();
  ASSERT_TRUE((*log)->start().ok());
  const double start_ms = ms_since(t);

  PageBitmap dirty(pages);
  t = std::chrono::steady_clock::now();
  auto idle = (*log)->collect(0, dirty);
  const double idle_ms = ms_since(t);
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(*idle, 0u);

  const Pages few{0, 1, 4097, 100000, 200000, pages - 1};
  ASSERT_NO_FATAL_FAILURE(write_pages(few));
  t = std::chrono::steady_clock::now();
  auto count = (*log)->collect(0, dirty);
  const double few_ms = ms_since(t);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(pages_of(dirty), std::set<uint64_t>(few.begin(), few.end()));

  ASSERT_EQ(guest_->command("fill", 120s), "OK");
  dirty.clear_all();
  t = std::chrono::steady_clock::now();
  auto all = (*log)->collect(0, dirty);
  const double all_ms = ms_since(t);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, pages);

  std::printf(
      "[ cost 1 GiB ] start %.2f ms; collect: idle %.2f ms, %zu dirty %.2f ms, "
      "all dirty %.2f ms\n",
      start_ms, idle_ms, few.size(), few_ms, all_ms);
  RecordProperty("start_ms", std::to_string(start_ms));
  RecordProperty("collect_few_ms", std::to_string(few_ms));
  RecordProperty("collect_all_ms", std::to_string(all_ms));
}

}  // namespace
}  // namespace ferry
