#include "engine/memory/prefault.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <string>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace ferry {

namespace {

// Returns 0, or the errno of the failed madvise.
int populate(std::byte* data, uint64_t size, bool writable) {
  const int advice = writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
  for (;;) {
    if (::madvise(data, size, advice) == 0) return 0;
    // EINTR: a signal arrived while populating; the pages done so far stay done.
    if (errno != EINTR && errno != EAGAIN) return errno;
  }
}

void touch(std::byte* data, uint64_t size, bool writable) {
  for (uint64_t off = 0; off < size; off += 4096) {
    auto* byte = reinterpret_cast<unsigned char*>(data + off);
    if (writable) {
      // An atomic OR with 0 takes a write fault without changing the byte, so a page being
      // received into at the same moment keeps its new content (a plain read-then-write could
      // write back a stale value).
      __atomic_fetch_or(byte, static_cast<unsigned char>(0), __ATOMIC_RELAXED);
    } else {
      (void)*static_cast<volatile unsigned char*>(byte);
    }
  }
}

}  // namespace

Result<void> prefault_range(std::byte* data, uint64_t size, bool writable, PrefaultMethod method,
                            PrefaultProgress& progress, const std::string& what) {
  for (uint64_t off = 0; off < size; off += kPrefaultStep) {
    if (progress.stop.load(std::memory_order_relaxed)) return ok();
    const uint64_t step = std::min(kPrefaultStep, size - off);
    if (method == PrefaultMethod::populate) {
      const int err = populate(data + off, step, writable);
      if (err == EINVAL) {
        method = PrefaultMethod::touch;  // kernel older than 5.14 or a mapping it cannot populate
      } else if (err != 0) {
        return errno_error(std::string(writable ? "MADV_POPULATE_WRITE " : "MADV_POPULATE_READ ") +
                               what + " at offset " + std::to_string(off) + " (" +
                               std::to_string(step) + " bytes)",
                           err);
      }
    }
    if (method == PrefaultMethod::touch) touch(data + off, step, writable);
    progress.bytes.store(off + step, std::memory_order_release);
  }
  return ok();
}

}  // namespace ferry
