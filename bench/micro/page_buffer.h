// Page-aligned memory for the benchmarks, touched up front so that no first-touch fault lands in
// a timed loop (first touch costs 1-2 s per GiB here).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/memory/page.h"

namespace ferry::bench {

class PageBuffer {
 public:
  explicit PageBuffer(uint64_t pages);  // zero-filled

  uint64_t pages() const { return pages_; }
  uint64_t bytes() const { return pages_ * kPageSize; }
  std::byte* data() const { return data_.get(); }
  std::byte* page(uint64_t n) const { return data_.get() + n * kPageSize; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  uint64_t pages_;
  std::unique_ptr<std::byte, Free> data_;
};

// Fills the buffer with pseudo-random bytes from a fixed seed; each page is instead left all zero
// with probability `zero_fraction`, so a codec sees a realistic mix.
void fill_random_pages(PageBuffer& buffer, double zero_fraction, uint64_t seed);

}  // namespace ferry::bench
