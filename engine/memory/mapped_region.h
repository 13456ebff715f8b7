// A guest RAM region: a file (normally in /dev/shm) mapped MAP_SHARED into this process.
// The source maps the guest's file read-only and reads pages from it; the destination creates its
// own file, allocates it (up front, or ahead of the writers with create_reserving_ahead) so that
// "out of space" is an error, never a SIGBUS, and writes received pages into it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "engine/error/error.h"
#include "engine/memory/page.h"
#include "engine/posix/unique_fd.h"

namespace ferry {

class MappedRegion {
 public:
  enum class Access { read_only, read_write };

  // Maps an existing file of exactly `size` bytes.
  static Result<MappedRegion> open(const std::string& path, uint64_t size, Access access);
  // Creates (or truncates) `path`, reserves `size` bytes with fallocate (Errc::no_space when the
  // file system is full) and maps it read-write. The pages are not yet touched: see prefault().
  static Result<MappedRegion> create(const std::string& path, uint64_t size);
  // Same, but only checks now that the file system has room (statvfs; Errc::no_space) and reserves
  // the space on a background thread, front to back, together with the prefault (started here):
  // reserving 1 GiB of tmpfs takes ~0.4 s here, which a migration's setup should not wait for.
  // Writers must call wait_reserved() before touching a page: past the reserved part a write could
  // fault with SIGBUS if another process took the space meanwhile.
  static Result<MappedRegion> create_reserving_ahead(const std::string& path, uint64_t size);
  // Returns once [0, end) is reserved (at once for regions made by create or open); Errc::no_space
  // when the background reservation failed.
  Result<void> wait_reserved(uint64_t end) const;
  // The page loop's fast check: true when [0, end) is reserved (no call, one atomic load).
  bool reserved_through(uint64_t end) const {
    return reserved_ == nullptr || reserved_->load(std::memory_order_acquire) >= end;
  }

  MappedRegion(MappedRegion&&) noexcept;
  MappedRegion& operator=(MappedRegion&&) noexcept;
  ~MappedRegion();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  uint64_t pages() const { return size_ >> kPageShift; }
  std::byte* data() const { return data_; }
  std::byte* page(uint64_t n) const { return data_ + (n << kPageShift); }

  // Touches every page with MADV_POPULATE_WRITE (MADV_POPULATE_READ for a read-only region) on a
  // background thread, front to back, so that received pages land in memory that is already
  // faulted in (first touch costs 1-2 s per GiB here). It changes no byte, so pages may be written
  // while it runs. prefaulted_bytes() tells how far it got; wait_prefault() joins it; destroying
  // the region stops it early. A second call does nothing.
  void start_prefault();
  uint64_t prefaulted_bytes() const;
  Result<void> wait_prefault();

  // Removes the file from the file system (the mapping stays valid until destruction).
  Result<void> unlink_file();

 private:
  MappedRegion() = default;
  enum class Reserve { now, check_room };
  static Result<MappedRegion> create_mapped(const std::string& path, uint64_t size, Reserve reserve,
                                            UniqueFd* keep_file);
  void unmap();

  std::string path_;
  uint64_t size_ = 0;
  std::byte* data_ = nullptr;
  bool writable_ = false;
  struct Prefault;
  std::unique_ptr<Prefault> prefault_;
  const std::atomic<uint64_t>* reserved_ = nullptr;  // in prefault_, when reserving ahead
};

}  // namespace ferry
