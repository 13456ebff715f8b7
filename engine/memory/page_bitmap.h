// A set of page numbers in [0, size), one bit per page. Pure, no I/O. Not thread-safe.
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace ferry {

class PageBitmap {
 public:
  PageBitmap() = default;
  explicit PageBitmap(uint64_t pages);

  uint64_t size() const { return pages_; }
  bool test(uint64_t page) const { return (words_[page >> 6] >> (page & 63)) & 1; }
  void set(uint64_t page) { words_[page >> 6] |= uint64_t{1} << (page & 63); }
  void clear(uint64_t page) { words_[page >> 6] &= ~(uint64_t{1} << (page & 63)); }
  void set_range(uint64_t first, uint64_t count);  // [first, first + count), clipped to size()
  void set_all();
  void clear_all();
  uint64_t count() const;  // number of set pages
  bool empty() const { return count() == 0; }
  void merge(const PageBitmap& other);  // this |= other; sizes must match

  // First set page >= from, or size() when there is none.
  uint64_t find_next(uint64_t from) const;

  // Calls fn(page) for every set page in increasing order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (uint64_t w = 0; w < words_.size(); ++w) {
      uint64_t bits = words_[w];
      while (bits) {
        fn((w << 6) + std::countr_zero(bits));
        bits &= bits - 1;
      }
    }
  }

  const std::vector<uint64_t>& words() const { return words_; }

 private:
  uint64_t pages_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace ferry
