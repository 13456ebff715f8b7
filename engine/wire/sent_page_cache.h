// The sender's side of delta encoding: the copy of each page as it was last sent on one stream,
// for a bounded number of pages. The receiver needs no cache: the page in its memory is that copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/memory/page.h"

namespace ferry::wire {

// Direct-mapped: each (region, page) has one slot chosen by a hash. A lookup only ever returns
// the exact page's copy. Storing a page always replaces its own older copy, but evicts another
// page's copy only when that was stored kLifetime rounds ago or more (QEMU's XBZRLE cache does
// the same): a stream sweeps its dirty pages in the same order every round, and replacing on
// every miss would make a working set larger than the cache evict itself before each reuse.
class SentPageCache {
 public:
  // `slots` pages of kPageSize bytes each (rounded up to a power of two, at least 1).
  explicit SentPageCache(std::size_t slots);

  static constexpr uint64_t kLifetime = 2;

  std::size_t slots() const { return tags_.size(); }

  // Starts a new round: copies stored from now on are younger than those stored before.
  void start_round() { ++round_; }
  std::size_t bytes() const { return slots() * kPageSize; }

  // The last-sent copy of the page, or null when it is not cached.
  const std::byte* find(uint32_t region, uint64_t page) const;
  // Records `copy` (kPageSize bytes) as the page's last-sent content. Returns false when the
  // slot holds another page's copy that is still fresh: the page is then not cached (and no
  // older copy of it is either).
  bool store(uint32_t region, uint64_t page, const std::byte* copy);
  // Records an all-zero page (what a zero entry makes the receiver hold); same rule.
  bool store_zero(uint32_t region, uint64_t page);

 private:
  struct Tag {
    uint64_t page = 0;
    uint64_t round = 0;
    uint32_t region = 0;
    bool used = false;
  };
  std::size_t slot_of(uint32_t region, uint64_t page) const;
  std::byte* claim(uint32_t region, uint64_t page);

  std::vector<Tag> tags_;
  std::unique_ptr<std::byte[]> copies_;
  unsigned shift_ = 0;
  uint64_t round_ = 0;
};

}  // namespace ferry::wire
