#include "engine/wire/sent_page_cache.h"

#include <bit>
#include <cstring>

namespace ferry::wire {

SentPageCache::SentPageCache(std::size_t slots) {
  const std::size_t n = std::bit_ceil(slots < 1 ? std::size_t{1} : slots);
  tags_.assign(n, Tag{});
  copies_ = std::make_unique<std::byte[]>(n * kPageSize);
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
}

std::size_t SentPageCache::slot_of(uint32_t region, uint64_t page) const {
  if (shift_ == 64) return 0;
  // Multiplicative hashing spreads the chunk-strided pages of one stream over every slot.
  const uint64_t key = page ^ (static_cast<uint64_t>(region) << 40);
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
}

const std::byte* SentPageCache::find(uint32_t region, uint64_t page) const {
  const std::size_t slot = slot_of(region, page);
  const Tag& tag = tags_[slot];
  if (!tag.used || tag.region != region || tag.page != page) return nullptr;
  return copies_.get() + slot * kPageSize;
}

std::byte* SentPageCache::claim(uint32_t region, uint64_t page) {
  const std::size_t slot = slot_of(region, page);
  Tag& tag = tags_[slot];
  const bool own = tag.used && tag.region == region && tag.page == page;
  if (tag.used && !own && tag.round + kLifetime > round_) return nullptr;
  tag = Tag{page, round_, region, true};
  return copies_.get() + slot * kPageSize;
}

bool SentPageCache::store(uint32_t region, uint64_t page, const std::byte* copy) {
  std::byte* slot = claim(region, page);
  if (slot) std::memcpy(slot, copy, kPageSize);
  return slot != nullptr;
}

bool SentPageCache::store_zero(uint32_t region, uint64_t page) {
  std::byte* slot = claim(region, page);
  if (slot) std::memset(slot, 0, kPageSize);
  return slot != nullptr;
}

}  // namespace ferry::wire
