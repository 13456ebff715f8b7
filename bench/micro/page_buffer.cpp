#include "bench/micro/page_buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <random>

namespace ferry::bench {

void PageBuffer::Free::operator()(std::byte* p) const {
  std::free(p);
}

PageBuffer::PageBuffer(uint64_t pages) : pages_(pages) {
  void* memory = std::aligned_alloc(kPageSize, pages * kPageSize);
  if (memory == nullptr) throw std::bad_alloc();
  data_.reset(static_cast<std::byte*>(memory));
  std::memset(memory, 0, pages * kPageSize);
}

void fill_random_pages(PageBuffer& buffer, double zero_fraction, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::bernoulli_distribution is_zero(zero_fraction);
  for (uint64_t p = 0; p < buffer.pages(); ++p) {
    std::byte* page = buffer.page(p);
    if (is_zero(random)) {
      std::memset(page, 0, kPageSize);
      continue;
    }
    for (std::size_t offset = 0; offset < kPageSize; offset += sizeof(uint64_t)) {
      const uint64_t word = random();
      std::memcpy(page + offset, &word, sizeof word);
    }
  }
}

}  // namespace ferry::bench
