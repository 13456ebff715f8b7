#include "engine/memory/uffd_dirty_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "engine/memory/page.h"
#include "engine/memory/uffd_abi.h"

namespace ferry {

namespace {

// Regions returned per PAGEMAP_SCAN call; a scan that finds more continues at walk_end.
constexpr size_t kScanRegions = 4096;

std::string hex(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::string describe(pid_t pid, const RemoteRange& range) {
  return "guest pid " + std::to_string(pid) + " region " + std::to_string(range.region_id) + " [" +
         hex(range.address) + ", " + hex(range.address + range.size) + ")";
}

// errno_error, but a guest that exited is Errc::guest rather than an I/O failure.
Error ioctl_error(const std::string& what, int err) {
  Error error = errno_error(what, err);
  if (err == ESRCH) return Error(Errc::guest, error.message() + " (the guest process is gone)");
  return error;
}

Result<void> check_ranges(const std::vector<RemoteRange>& ranges, pid_t pid) {
  if (ranges.empty()) {
    return Error(Errc::invalid_argument,
                 "dirty log for guest pid " + std::to_string(pid) + ": no memory ranges to track");
  }
  for (size_t i = 0; i < ranges.size(); ++i) {
    const RemoteRange& range = ranges[i];
    if (range.size == 0 || range.size % kPageSize != 0 || range.address % kPageSize != 0) {
      return Error(Errc::invalid_argument, "dirty log for " + describe(pid, range) +
                                               ": address and size must be page "
                                               "aligned and the size not zero");
    }
    for (size_t j = 0; j < i; ++j) {
      if (ranges[j].region_id == range.region_id) {
        return Error(Errc::invalid_argument,
                     "dirty log for " + describe(pid, range) + ": region id used twice");
      }
    }
  }
  return ok();
}

}  // namespace

struct UffdDirtyLog::Impl {
  UniqueFd uffd;
  pid_t pid = 0;
  std::vector<RemoteRange> ranges;
  size_t registered = 0;  // ranges[0, registered) are registered with the uffd
  UniqueFd pagemap;
  std::vector<page_region> regions = std::vector<page_region>(kScanRegions);

  const RemoteRange* find(uint32_t region_id) const {
    for (const RemoteRange& range : ranges) {
      if (range.region_id == region_id) return &range;
    }
    return nullptr;
  }

  void unregister_all() {
    for (; registered > 0; --registered) {
      const RemoteRange& range = ranges[registered - 1];
      uffdio_range span{range.address, range.size};
      // Fails only when the guest is gone, and then its mappings are gone too.
      (void)::ioctl(uffd.get(), UFFDIO_UNREGISTER, &span);
    }
  }

  // One PAGEMAP_SCAN call over [start, end) of `range`: the written pages, re-protected.
  // Without `report`, nothing is returned (write-protect only).
  Result<long> scan(const RemoteRange& range, uint64_t start, uint64_t end, uint64_t flags,
                    uint64_t max_pages, bool report, uint64_t& walk_end) {
    pm_scan_arg arg{};
    arg.size = sizeof arg;
    arg.flags = flags;
    arg.start = start;
    arg.end = end;
    arg.vec = report ? reinterpret_cast<uintptr_t>(regions.data()) : 0;
    arg.vec_len = report ? regions.size() : 0;
    arg.max_pages = max_pages;
    arg.category_mask = PAGE_IS_WRITTEN;
    arg.return_mask = PAGE_IS_WRITTEN;
    long found;
    do {
      found = ::ioctl(pagemap.get(), PAGEMAP_SCAN, &arg);
    } while (found < 0 && errno == EINTR);
    if (found < 0) {
      const int err = errno;
      std::string what = "PAGEMAP_SCAN of " + describe(pid, range) + " from " + hex(start);
      if (err == EPERM && (flags & PM_SCAN_CHECK_WPASYNC)) {
        return Error(Errc::guest, what +
                                      ": the range is not write-protect-async tracked "
                                      "(UFFDIO_API without UFFD_FEATURE_WP_ASYNC?)");
      }
      return ioctl_error(what, err);
    }
    walk_end = arg.walk_end;
    return found;
  }
};

Result<std::unique_ptr<UffdDirtyLog>> UffdDirtyLog::attach(UniqueFd uffd, pid_t pid,
                                                           std::vector<RemoteRange> ranges) {
  if (auto checked = check_ranges(ranges, pid); !checked) return std::move(checked).error();
  std::unique_ptr<UffdDirtyLog> log(new UffdDirtyLog());
  log->impl_ = std::make_unique<Impl>();
  Impl& impl = *log->impl_;
  impl.uffd = std::move(uffd);
  impl.pid = pid;
  impl.ranges = std::move(ranges);

  const std::string pagemap_path = "/proc/" + std::to_string(pid) + "/pagemap";
  impl.pagemap = UniqueFd(::open(pagemap_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!impl.pagemap.valid()) return errno_error("open " + pagemap_path);

  for (const RemoteRange& range : impl.ranges) {
    uffdio_register reg{};
    reg.range = {range.address, range.size};
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (::ioctl(impl.uffd.get(), UFFDIO_REGISTER, &reg) != 0) {
      const int err = errno;
      Error error = ioctl_error("UFFDIO_REGISTER (write-protect) of " + describe(pid, range), err);
      if (err == EINVAL) {
        error = Error(error.code(), error.message() +
                                        " (was UFFDIO_API done by the preload "
                                        "library, and is the range mapped?)");
      }
      return error;  // the destructor unregisters the ranges registered so far
    }
    ++impl.registered;
    if (!(reg.ioctls & (uint64_t{1} << _UFFDIO_WRITEPROTECT))) {
      return Error(Errc::guest, "UFFDIO_REGISTER (write-protect) of " + describe(pid, range) +
                                    ": the kernel offers no UFFDIO_WRITEPROTECT for this mapping");
    }
    // In synchronous mode a write-protected page would stop the guest until someone resolved
    // the fault; only async mode is safe, so make sure the uffd is in it before protecting.
    uint64_t walk_end = 0;
    auto probe = impl.scan(range, range.address, range.address + range.size, PM_SCAN_CHECK_WPASYNC,
                           1, /*report=*/true, walk_end);
    if (!probe) return std::move(probe).error();
  }
  return log;
}

UffdDirtyLog::~UffdDirtyLog() {
  stop();
}

Result<void> UffdDirtyLog::start() {
  if (!impl_ || !impl_->pagemap.valid()) {
    return Error(Errc::internal, "dirty log start: tracking was stopped");
  }
  // A PAGEMAP_SCAN that re-protects, with no output vector (the kernel's "exclusive WP" fast
  // path), rather than UFFDIO_WRITEPROTECT: both were measured exact here for pages never
  // touched, written, only read, and populated through another mapping; on 1 GiB of populated
  // RAM this takes 25-45 ms against 90-150 ms. (A kernel without the 2026 fix for PMD holes in
  // pagemap_scan_pte_hole leaves never-mapped 2 MiB areas unprotected: their first access is
  // then reported even if it only read, an extra page sent, never a missed one.)
  for (const RemoteRange& range : impl_->ranges) {
    const uint64_t end = range.address + range.size;
    for (uint64_t start = range.address; start < end;) {
      uint64_t walk_end = 0;
      auto done = impl_->scan(range, start, end, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, 0,
                              /*report=*/false, walk_end);
      if (!done) return std::move(done).error().within("write-protecting every page");
      if (walk_end <= start) {
        return Error(Errc::internal, "PAGEMAP_SCAN of " + describe(impl_->pid, range) +
                                         " made no progress at " + hex(start));
      }
      start = walk_end;
    }
  }
  return ok();
}

Result<uint64_t> UffdDirtyLog::collect(uint32_t region_id, PageBitmap& dirty) {
  if (!impl_ || !impl_->pagemap.valid()) {
    return Error(Errc::internal, "dirty log collect of region " + std::to_string(region_id) +
                                     ": tracking was stopped");
  }
  const RemoteRange* range = impl_->find(region_id);
  if (range == nullptr) {
    return Error(Errc::invalid_argument, "dirty log collect: guest pid " +
                                             std::to_string(impl_->pid) + " has no region " +
                                             std::to_string(region_id));
  }
  const uint64_t pages = range->size >> kPageShift;
  if (dirty.size() != pages) {
    return Error(Errc::invalid_argument, "dirty log collect of " + describe(impl_->pid, *range) +
                                             ": bitmap has " + std::to_string(dirty.size()) +
                                             " pages, the region " + std::to_string(pages));
  }
  const uint64_t end = range->address + range->size;
  uint64_t start = range->address;
  uint64_t reported = 0;
  while (start < end) {
    uint64_t walk_end = 0;
    auto found = impl_->scan(*range, start, end, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, 0,
                             /*report=*/true, walk_end);
    if (!found) return std::move(found).error();
    for (long i = 0; i < *found; ++i) {
      const page_region& region = impl_->regions[i];
      if (region.start < start || region.end > end || region.start >= region.end) {
        return Error(Errc::internal, "PAGEMAP_SCAN of " + describe(impl_->pid, *range) +
                                         " returned pages outside it: [" + hex(region.start) +
                                         ", " + hex(region.end) + ")");
      }
      const uint64_t count = (region.end - region.start) >> kPageShift;
      dirty.set_range((region.start - range->address) >> kPageShift, count);
      reported += count;
    }
    if (walk_end <= start) {
      return Error(Errc::internal, "PAGEMAP_SCAN of " + describe(impl_->pid, *range) +
                                       " made no progress at " + hex(start));
    }
    start = walk_end;
  }
  return reported;
}

void UffdDirtyLog::stop() {
  if (!impl_) return;
  impl_->unregister_all();
  impl_->pagemap.reset();
}

Result<uint64_t> find_file_mapping(pid_t pid, const std::string& path, uint64_t size) {
  const std::string maps_path = "/proc/" + std::to_string(pid) + "/maps";
  std::ifstream maps(maps_path);
  if (!maps) return errno_error("open " + maps_path);

  // The guest may map the file as several adjacent mappings (a mapping splits where flags change
  // over part of it, e.g. at UFFDIO_REGISTER): follow a run that continues the file contiguously.
  std::string resolved_path = path;
  if (char* real = ::realpath(path.c_str(), nullptr)) {
    resolved_path = real;
    std::free(real);
  }
  auto names_file = [&](const std::string& name) {
    for (const std::string& candidate : {path, resolved_path}) {
      if (name == candidate || name == candidate + " (deleted)") return true;
    }
    return false;
  };

  bool in_run = false;
  uint64_t run_start = 0;
  uint64_t run_end = 0;
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long long lo = 0, hi = 0, offset = 0;
    int name_at = 0;
    char perms[8];
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &lo, &hi, perms, &offset,
                    &name_at) < 4 ||
        name_at == 0) {
      in_run = false;
      continue;
    }
    if (!names_file(line.substr(name_at))) {
      in_run = false;
      continue;
    }
    if (in_run && lo == run_end && offset == run_end - run_start) {
      run_end = hi;
    } else if (offset == 0) {
      in_run = true;
      run_start = lo;
      run_end = hi;
    } else {
      in_run = false;
    }
    if (in_run && run_end - run_start >= size) return run_start;
  }
  return Error(Errc::not_found, maps_path + ": process does not map " + path +
                                    " from offset 0 "
                                    "over " +
                                    std::to_string(size) + " bytes");
}

}  // namespace ferry
