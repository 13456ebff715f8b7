// Faulting in the pages of a mapping ahead of use (first touch of tmpfs costs 1-2 s per GiB here).
// Internal to engine/memory; separate from MappedRegion so the fallback path can be tested.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error/error.h"

namespace ferry {

enum class PrefaultMethod {
  populate,  // MADV_POPULATE_WRITE / _READ, falling back to `touch` where the kernel lacks it
  touch,     // one access per page
};

struct PrefaultProgress {
  std::atomic<uint64_t> bytes{0};  // faulted in so far, from the start of the range
  std::atomic<bool> stop{false};   // set by another thread to end the work early
};

inline constexpr uint64_t kPrefaultStep = uint64_t{64} << 20;

// Faults in [data, data + size) front to back in kPrefaultStep steps, publishing progress after
// each step and returning early (successfully) when progress.stop is set. `writable` selects
// write faults (a writable MAP_SHARED mapping) or read faults. `what` names the region in errors.
Result<void> prefault_range(std::byte* data, uint64_t size, bool writable, PrefaultMethod method,
                            PrefaultProgress& progress, const std::string& what);

}  // namespace ferry
