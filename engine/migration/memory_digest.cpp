#include "engine/migration/memory_digest.h"

#include <xxhash.h>

#include <algorithm>
#include <thread>

#include "engine/memory/page.h"

namespace ferry {

void PageHashes::update(uint64_t page, const std::byte* data) {
  hashes_[page] = XXH3_64bits(data, kPageSize);
}

uint64_t PageHashes::digest() const {
  return XXH3_64bits(hashes_.data(), hashes_.size() * sizeof(uint64_t));
}

uint64_t digest_memory(const std::byte* data, uint64_t pages, unsigned threads) {
  PageHashes hashes(pages);
  threads = std::max(1u, threads);
  std::vector<std::thread> workers;
  uint64_t per = (pages + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    uint64_t first = t * per, last = std::min(pages, first + per);
    if (first >= last) break;
    workers.emplace_back([&, first, last] {
      for (uint64_t p = first; p < last; ++p) hashes.update(p, data + (p << kPageShift));
    });
  }
  for (auto& w : workers) w.join();
  return hashes.digest();
}

}  // namespace ferry
