// The sender's per-page encoding step: turns a guest page into a PAGES entry under the encoding
// the stream uses this round, falling back to zero or raw where the protocol says so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "engine/wire/auto_compression.h"
#include "engine/wire/page_codec.h"
#include "engine/wire/pages.h"
#include "engine/wire/sent_page_cache.h"

namespace ferry::wire {

// One per stream (holds compression contexts and, for delta, the stream's last-sent copies).
class PageEncoder {
 public:
  // `delta_cache_pages`: how many last-sent copies to keep for delta; 0 = delta is never used.
  explicit PageEncoder(std::size_t delta_cache_pages = 0);

  // Adds the kPageSize bytes at `src` (guest memory, possibly being written meanwhile) to
  // `builder` as `encoding` wants and returns the encoding the entry got:
  //   - zero when the page is all zeros (for every encoding);
  //   - raw: the page;
  //   - lz4 / zstd: compressed when that comes out below kEncodedPageLimit, else raw;
  //   - delta: against the copy this encoder last sent of the page when it has one and the
  //     delta is below kEncodedPageLimit, else raw; either way the sent copy is remembered.
  // Decisions and the entry are made on one snapshot of the page, so what is remembered is
  // exactly what the receiver gets. The builder must not be full().
  PageEncoding add(PagesBuilder& builder, uint64_t page, const std::byte* src,
                   PageEncoding encoding);

  // Call at the start of each round (the delta cache ages its copies by rounds).
  void start_round() {
    if (cache_) cache_->start_round();
  }

  // Encodes the page once under every candidate of `policy` into scratch space and reports each
  // one's CPU time and size to it; nothing is sent.
  void sample(const std::byte* src, AutoCompression& policy);

  const SentPageCache* delta_cache() const { return cache_.get(); }

 private:
  PageCompressor compressor_;
  std::unique_ptr<SentPageCache> cache_;
  std::unique_ptr<std::byte[]> snapshot_;
  std::unique_ptr<std::byte[]> encoded_;
};

}  // namespace ferry::wire
