// DirtyLog through userfaultfd write-protect in async mode + the PAGEMAP_SCAN ioctl (Linux >= 6.7).
// The userfaultfd was created inside the guest process (engine/agent's preload library) and handed
// to us, so UFFDIO_REGISTER acts on the guest's address space; PAGEMAP_SCAN reads the guest's
// /proc/PID/pagemap and re-protects what it reports in the same call (PM_SCAN_WP_MATCHING).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/memory/dirty_log.h"
#include "engine/posix/unique_fd.h"

namespace ferry {

// A range of guest RAM as the *guest process* maps it.
struct RemoteRange {
  uint32_t region_id = 0;
  uint64_t address = 0;  // start address in the guest process, page aligned
  uint64_t size = 0;     // bytes, page multiple
};

class UffdDirtyLog final : public DirtyLog {
 public:
  // Performs UFFDIO_REGISTER (WP) for every range and opens /proc/<pid>/pagemap. UFFDIO_API
  // (WP_ASYNC | WP_UNPOPULATED | WP_HUGETLBFS_SHMEM) was done by the preload library, because it
  // succeeds only once per uffd and the same uffd serves every migration of the guest: keep a
  // dup() of it to attach again after stop(). Fails (Errc::guest) when the uffd is not in async
  // write-protect mode. Errors name the ioctl, the pid and the range.
  static Result<std::unique_ptr<UffdDirtyLog>> attach(UniqueFd uffd, pid_t pid,
                                                      std::vector<RemoteRange> ranges);
  ~UffdDirtyLog() override;

  Result<void> start() override;
  Result<uint64_t> collect(uint32_t region_id, PageBitmap& dirty) override;
  void stop() override;

 private:
  UffdDirtyLog() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Finds where process `pid` maps file `path` (reads /proc/<pid>/maps; the mapping must cover
// `size` bytes from offset 0). Errc::not_found when it does not map it.
Result<uint64_t> find_file_mapping(pid_t pid, const std::string& path, uint64_t size);

}  // namespace ferry
