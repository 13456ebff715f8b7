// End-to-end check of guest memory: one XXH3 hash per page, combined into one digest per region.
// The destination updates the hash of each page as it applies it (so checking costs no downtime);
// the source hashes its paused memory after the switchover. Equal digests mean the destination
// holds, page by page, the memory the source had at pause time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ferry {

class PageHashes {
 public:
  explicit PageHashes(uint64_t pages) : hashes_(pages, 0) {}
  void update(uint64_t page, const std::byte* data);
  uint64_t digest() const;
  uint64_t pages() const { return hashes_.size(); }

 private:
  std::vector<uint64_t> hashes_;
};

// Hashes `pages` pages at `data` the same way, on `threads` threads.
uint64_t digest_memory(const std::byte* data, uint64_t pages, unsigned threads);

}  // namespace ferry
