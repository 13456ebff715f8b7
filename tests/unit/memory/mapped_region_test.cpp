#include "engine/memory/mapped_region.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "engine/memory/prefault.h"
#include "tests/unit/memory/writer_process.h"

namespace ferry {
namespace {

using test::ScopedPath;

constexpr uint64_t kMiB = uint64_t{1} << 20;

// Pages of the mapping present in this process's page table (/proc/self/pagemap bit 63), i.e.
// faulted in: what a prefault is for.
uint64_t resident_pages(const MappedRegion& region) {
  const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) return 0;
  std::vector<uint64_t> entries(region.pages());
  const off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(region.data()) >> 12) * 8;
  const ssize_t n = ::pread(pagemap, entries.data(), entries.size() * 8, at);
  ::close(pagemap);
  if (n != static_cast<ssize_t>(entries.size() * 8)) return 0;
  uint64_t resident = 0;
  for (uint64_t entry : entries) resident += entry >> 63;
  return resident;
}

TEST(MappedRegion, ReservingAheadReservesAndFaultsInEveryPageInTheBackground) {
  ScopedPath file("/dev/shm", "reserving");
  auto region = MappedRegion::create_reserving_ahead(file.path(), 200 * kMiB);
  ASSERT_TRUE(region.ok()) << region.error().message();
  // A writer that waits for its page never faults on unreserved space.
  ASSERT_TRUE(region->wait_reserved(kMiB).ok());
  std::memcpy(region->page(7), "page seven", 10);
  ASSERT_TRUE(region->wait_reserved(200 * kMiB).ok());
  EXPECT_TRUE(region->reserved_through(200 * kMiB));
  MappedRegion moved = std::move(*region);  // the fast check follows the region
  EXPECT_TRUE(moved.reserved_through(200 * kMiB));
  *region = std::move(moved);
  std::memcpy(region->page(region->pages() - 1), "last page", 9);
  ASSERT_TRUE(region->wait_prefault().ok());
  EXPECT_EQ(region->prefaulted_bytes(), 200 * kMiB);
  EXPECT_EQ(resident_pages(*region), region->pages());
  struct stat st {};
  ASSERT_EQ(::stat(file.path().c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_blocks) * 512, 200 * kMiB) << "all of it reserved";
  EXPECT_EQ(std::memcmp(region->page(7), "page seven", 10), 0);
}

TEST(MappedRegion, ReservingAheadRefusesAtOnceWhenTheFileSystemHasNoRoom) {
  ScopedPath file("/dev/shm", "too-big");
  struct statvfs fs {};
  ASSERT_EQ(::statvfs("/dev/shm", &fs), 0);
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  const uint64_t too_big = ((free_bytes >> 12) << 12) + 1024 * kMiB;
  auto region = MappedRegion::create_reserving_ahead(file.path(), too_big);
  ASSERT_FALSE(region.ok());
  EXPECT_EQ(region.error().code(), Errc::no_space);
  EXPECT_NE(region.error().message().find("no space left"), std::string::npos)
      << region.error().message();
  EXPECT_NE(::access(file.path().c_str(), F_OK), 0) << "nothing left behind";
}

TEST(MappedRegion, CreateThenOpenSeesTheSameBytes) {
  ScopedPath file("/dev/shm", "region");
  auto created = MappedRegion::create(file.path(), 4 * kMiB);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ(created->size(), 4 * kMiB);
  EXPECT_EQ(created->pages(), 1024u);
  EXPECT_EQ(created->path(), file.path());
  std::memcpy(created->page(7), "page seven", 10);
  std::memcpy(created->page(1023) + 4086, "last bytes", 10);

  auto reader = MappedRegion::open(file.path(), 4 * kMiB, MappedRegion::Access::read_only);
  ASSERT_TRUE(reader.ok()) << reader.error().message();
  EXPECT_EQ(std::memcmp(reader->page(7), "page seven", 10), 0);
  EXPECT_EQ(std::memcmp(reader->page(1023) + 4086, "last bytes", 10), 0);

  auto writer = MappedRegion::open(file.path(), 4 * kMiB, MappedRegion::Access::read_write);
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  std::memcpy(writer->page(3), "through rw", 10);
  EXPECT_EQ(std::memcmp(reader->page(3), "through rw", 10), 0);
}

TEST(MappedRegion, CreateTruncatesAnOldFile) {
  ScopedPath file("/dev/shm", "region");
  {
    auto first = MappedRegion::create(file.path(), 64 * 1024);
    ASSERT_TRUE(first.ok());
    std::memset(first->data(), 0xab, first->size());
  }
  auto second = MappedRegion::create(file.path(), 64 * 1024);
  ASSERT_TRUE(second.ok());
  for (uint64_t i = 0; i < second->size(); ++i) ASSERT_EQ(second->data()[i], std::byte{0}) << i;
}

TEST(MappedRegion, OpenRejectsASizeMismatch) {
  ScopedPath file("/dev/shm", "region");
  ASSERT_TRUE(MappedRegion::create(file.path(), 8192).ok());
  auto opened = MappedRegion::open(file.path(), 16384, MappedRegion::Access::read_only);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code(), Errc::invalid_argument);
  EXPECT_NE(opened.error().message().find(file.path()), std::string::npos);
  EXPECT_NE(opened.error().message().find("8192"), std::string::npos);
  EXPECT_NE(opened.error().message().find("16384"), std::string::npos);
}

TEST(MappedRegion, OpenOfAMissingFileIsNotFound) {
  auto opened = MappedRegion::open("/dev/shm/ferry-test-does-not-exist", 4096,
                                   MappedRegion::Access::read_only);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code(), Errc::not_found);
  EXPECT_NE(opened.error().message().find("ferry-test-does-not-exist"), std::string::npos);
}

TEST(MappedRegion, RejectsSizesThatAreNotWholePages) {
  ScopedPath file("/dev/shm", "region");
  auto zero = MappedRegion::create(file.path(), 0);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().code(), Errc::invalid_argument);
  auto odd = MappedRegion::create(file.path(), 4097);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().code(), Errc::invalid_argument);
}

// A full file system is simulated with RLIMIT_FSIZE in a child, so the test needs neither root
// nor a tmpfs of its own, and cannot eat the machine's memory.
TEST(MappedRegion, CreateReportsNoSpaceWithThePath) {
  ScopedPath file("/dev/shm", "full");
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(report[0]);
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    auto created = MappedRegion::create(file.path(), 16 * kMiB);
    std::string outcome = "created";
    if (!created.ok()) {
      outcome = std::string(errc_name(created.error().code())) + "|" + created.error().message() +
                "|" + (::access(file.path().c_str(), F_OK) == 0 ? "file left" : "file removed");
    }
    (void)!::write(report[1], outcome.data(), outcome.size());
    ::_exit(0);
  }
  ::close(report[1]);
  std::string outcome;
  char data[512];
  for (ssize_t n; (n = ::read(report[0], data, sizeof data)) > 0;) outcome.append(data, n);
  ::close(report[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(outcome.rfind("no_space|", 0), 0u) << outcome;
  EXPECT_NE(outcome.find(file.path() + " (" + std::to_string(16 * kMiB) + " bytes)"),
            std::string::npos)
      << outcome;
  EXPECT_NE(outcome.find("|file removed"), std::string::npos) << outcome;
}

TEST(MappedRegion, PrefaultReachesTheWholeSizeAndFaultsEveryPageIn) {
  ScopedPath file("/dev/shm", "prefault");
  auto region = MappedRegion::create(file.path(), 96 * kMiB);  // more than one 64 MiB step
  ASSERT_TRUE(region.ok()) << region.error().message();
  EXPECT_EQ(region->prefaulted_bytes(), 0u);
  EXPECT_TRUE(region->wait_prefault().ok()) << "waiting without a prefault is harmless";
  region->start_prefault();
  region->start_prefault();  // a second call does nothing
  auto done = region->wait_prefault();
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(region->prefaulted_bytes(), region->size());
  EXPECT_EQ(resident_pages(*region), region->pages());
  for (uint64_t i = 0; i < region->size(); i += 4096) {
    ASSERT_EQ(region->data()[i], std::byte{0}) << "prefault must not change memory, offset " << i;
  }
}

TEST(MappedRegion, PrefaultOfAReadOnlyRegion) {
  ScopedPath file("/dev/shm", "prefault-ro");
  ASSERT_TRUE(MappedRegion::create(file.path(), 8 * kMiB).ok());
  auto region = MappedRegion::open(file.path(), 8 * kMiB, MappedRegion::Access::read_only);
  ASSERT_TRUE(region.ok());
  region->start_prefault();
  auto done = region->wait_prefault();
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(region->prefaulted_bytes(), region->size());
}

TEST(MappedRegion, PrefaultSurvivesAMoveAndStopsWhenTheRegionGoesAway) {
  ScopedPath file("/dev/shm", "prefault-move");
  auto created = MappedRegion::create(file.path(), 256 * kMiB);
  ASSERT_TRUE(created.ok());
  created->start_prefault();
  MappedRegion moved = std::move(created).value();
  EXPECT_LE(moved.prefaulted_bytes(), moved.size());
  MappedRegion assigned = std::move(moved);
  ASSERT_TRUE(assigned.wait_prefault().ok());
  EXPECT_EQ(assigned.prefaulted_bytes(), assigned.size());

  // Destroyed while prefaulting: the destructor stops the thread before unmapping.
  ScopedPath other("/dev/shm", "prefault-stop");
  {
    auto region = MappedRegion::create(other.path(), 512 * kMiB);
    ASSERT_TRUE(region.ok());
    region->start_prefault();
  }
}

// The fallback for kernels without MADV_POPULATE_WRITE touches each page; pages written by
// someone else at the same moment must keep what was written.
TEST(Prefault, TouchFallbackLosesNoConcurrentWrite) {
  ScopedPath file("/dev/shm", "touch");
  auto region = MappedRegion::create(file.path(), 32 * kMiB);
  ASSERT_TRUE(region.ok());
  std::atomic<bool> touching{true};
  uint8_t last_pass = 0;
  std::thread writer([&] {
    // Whole passes, each writing its number into every page, until the touch has finished.
    for (uint8_t pass = 1;; pass = pass == 255 ? 1 : pass + 1) {
      for (uint64_t page = 0; page < region->pages(); ++page) {
        __atomic_store_n(reinterpret_cast<uint8_t*>(region->page(page)), pass, __ATOMIC_RELAXED);
      }
      last_pass = pass;
      if (!touching) break;
    }
  });
  PrefaultProgress progress;
  auto done = prefault_range(region->data(), region->size(), true, PrefaultMethod::touch, progress,
                             file.path());
  touching = false;
  writer.join();
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(progress.bytes.load(), region->size());
  EXPECT_EQ(resident_pages(*region), region->pages());
  for (uint64_t page = 0; page < region->pages(); ++page) {
    ASSERT_EQ(static_cast<uint8_t>(region->page(page)[0]), last_pass) << "page " << page;
  }
}

TEST(Prefault, StopsEarlyWhenAsked) {
  ScopedPath file("/dev/shm", "stop");
  auto region = MappedRegion::create(file.path(), 4 * kPrefaultStep);
  ASSERT_TRUE(region.ok());
  PrefaultProgress progress;
  progress.stop = true;
  ASSERT_TRUE(prefault_range(region->data(), region->size(), true, PrefaultMethod::populate,
                             progress, file.path())
                  .ok());
  EXPECT_EQ(progress.bytes.load(), 0u);
  EXPECT_EQ(resident_pages(*region), 0u);
}

TEST(MappedRegion, UnlinkFileKeepsTheMapping) {
  ScopedPath file("/dev/shm", "unlink");
  auto region = MappedRegion::create(file.path(), 8192);
  ASSERT_TRUE(region.ok());
  region->data()[0] = std::byte{42};
  ASSERT_TRUE(region->unlink_file().ok());
  EXPECT_NE(::access(file.path().c_str(), F_OK), 0);
  EXPECT_EQ(region->data()[0], std::byte{42});
  auto again = region->unlink_file();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Errc::not_found);
}

}  // namespace
}  // namespace ferry
