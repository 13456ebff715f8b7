#include "engine/wire/page_encoder.h"

#include <chrono>
#include <cstring>

#include "engine/wire/crc32c.h"
#include "engine/wire/page_delta.h"
#include "engine/wire/zero_page.h"

namespace ferry::wire {

PageEncoder::PageEncoder(std::size_t delta_cache_pages)
    : cache_(delta_cache_pages ? std::make_unique<SentPageCache>(delta_cache_pages) : nullptr),
      snapshot_(std::make_unique<std::byte[]>(kPageSize)),
      encoded_(std::make_unique<std::byte[]>(kMaxEncodedPageBytes)) {}

PageEncoding PageEncoder::add(PagesBuilder& builder, uint64_t page, const std::byte* src,
                              PageEncoding encoding) {
  if (encoding == PageEncoding::raw || encoding == PageEncoding::zero ||
      (encoding == PageEncoding::delta && !cache_)) {
    return builder.add_page(page, src);  // copies straight into the record
  }
  std::byte* snapshot = snapshot_.get();
  std::memcpy(snapshot, src, kPageSize);
  const uint32_t region = builder.region_id();
  const std::span<std::byte> out(encoded_.get(), kMaxEncodedPageBytes);
  if (is_zero_page(snapshot)) {
    builder.add_zero(page);
    if (encoding == PageEncoding::delta) cache_->store_zero(region, page);
    return PageEncoding::zero;
  }
  std::size_t size = 0;
  if (encoding == PageEncoding::delta) {
    if (const std::byte* previous = cache_->find(region, page))
      size = encode_page_delta(previous, snapshot, out.first(kEncodedPageLimit - 1));
    cache_->store(region, page, snapshot);
  } else {
    size = compressor_.compress(encoding, snapshot, out);
  }
  if (size == 0) {
    builder.add_raw(page, snapshot);
    return PageEncoding::raw;
  }
  builder.add_encoded(page, encoding, out.first(size));
  return encoding;
}

void PageEncoder::sample(const std::byte* src, AutoCompression& policy) {
  using Clock = std::chrono::steady_clock;
  std::byte* snapshot = snapshot_.get();
  std::byte* out = encoded_.get();
  for (PageEncoding candidate : policy.candidates()) {
    if (candidate != PageEncoding::raw && candidate != PageEncoding::lz4 &&
        candidate != PageEncoding::zstd)
      continue;  // delta depends on the page's history: not something one page can sample
    // What add() does for the candidate: the copy, the encoding, the checksum of what is sent.
    const auto start = Clock::now();
    std::size_t size = kPageSize;
    if (candidate == PageEncoding::raw) {
      std::memcpy(out, src, kPageSize);
      (void)crc32c(out, kPageSize, 0);
    } else {
      std::memcpy(snapshot, src, kPageSize);
      const std::size_t n = compressor_.compress(candidate, snapshot, {out, kMaxEncodedPageBytes});
      if (n != 0) size = n;
      (void)crc32c(n ? out : snapshot, size, 0);
    }
    policy.record_sample(candidate, size, Clock::now() - start);
  }
}

}  // namespace ferry::wire
