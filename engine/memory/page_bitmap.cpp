#include "engine/memory/page_bitmap.h"

#include <algorithm>
#include <cassert>

namespace ferry {

namespace {

constexpr uint64_t kAllOnes = ~uint64_t{0};

// Bits [lo, hi) of one word, 0 <= lo < hi <= 64.
constexpr uint64_t word_mask(unsigned lo, unsigned hi) {
  const uint64_t upper = hi == 64 ? kAllOnes : (uint64_t{1} << hi) - 1;
  return upper & (kAllOnes << lo);
}

}  // namespace

PageBitmap::PageBitmap(uint64_t pages) : pages_(pages), words_((pages + 63) / 64, 0) {}

void PageBitmap::set_range(uint64_t first, uint64_t count) {
  if (first >= pages_ || count == 0) return;
  const uint64_t end = first + std::min(count, pages_ - first);
  const uint64_t first_word = first >> 6;
  const uint64_t last_word = (end - 1) >> 6;
  const unsigned lo = first & 63;
  const unsigned hi = ((end - 1) & 63) + 1;
  if (first_word == last_word) {
    words_[first_word] |= word_mask(lo, hi);
    return;
  }
  words_[first_word] |= word_mask(lo, 64);
  std::fill(words_.begin() + first_word + 1, words_.begin() + last_word, kAllOnes);
  words_[last_word] |= word_mask(0, hi);
}

void PageBitmap::set_all() {
  std::fill(words_.begin(), words_.end(), kAllOnes);
  // Bits past size() stay zero so count() and for_each() never see them.
  if (pages_ & 63) words_.back() = word_mask(0, pages_ & 63);
}

void PageBitmap::clear_all() {
  std::fill(words_.begin(), words_.end(), 0);
}

uint64_t PageBitmap::count() const {
  uint64_t n = 0;
  for (uint64_t w : words_) n += std::popcount(w);
  return n;
}

void PageBitmap::merge(const PageBitmap& other) {
  assert(other.pages_ == pages_);
  const size_t n = std::min(words_.size(), other.words_.size());
  for (size_t i = 0; i < n; ++i) words_[i] |= other.words_[i];
}

uint64_t PageBitmap::find_next(uint64_t from) const {
  if (from >= pages_) return pages_;
  uint64_t w = from >> 6;
  uint64_t bits = words_[w] & (kAllOnes << (from & 63));
  while (bits == 0) {
    if (++w == words_.size()) return pages_;
    bits = words_[w];
  }
  return (w << 6) + std::countr_zero(bits);
}

}  // namespace ferry
