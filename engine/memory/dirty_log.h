// Which guest pages were written since the last look.
//
// The one ordering rule that keeps memory exact: a page is write-protected *before* it is read for
// sending. start() protects every page; the caller then reads them all. Each collect() returns the
// pages written since the previous call and re-protects them in the same step; the caller then
// reads those. A write that lands after the re-protect marks the page again for the next collect().
#pragma once

#include <cstdint>

#include "engine/error/error.h"
#include "engine/memory/page_bitmap.h"

namespace ferry {

class DirtyLog {
 public:
  virtual ~DirtyLog() = default;

  // Write-protects every page of every tracked region. Pages written afterwards are reported by
  // the next collect().
  virtual Result<void> start() = 0;

  // ORs into `dirty` the pages of region `region_id` written since start() or the previous
  // collect() of that region, and write-protects them again. `dirty.size()` must equal the region's
  // pages. Returns the number of pages this call reported (each once, whether or not `dirty`
  // already had it). After an error, pages it had already re-protected are unaccounted for: do
  // not trust later rounds (abort, or start() again and send everything).
  virtual Result<uint64_t> collect(uint32_t region_id, PageBitmap& dirty) = 0;

  // Stops tracking (unregisters); further writes are not recorded.
  virtual void stop() = 0;
};

}  // namespace ferry
