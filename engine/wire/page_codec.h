// Per-page compression for PAGES entries (lz4, zstd) and the decoder for every encoding.
#pragma once

#include <cstddef>
#include <span>

#include "engine/error/error.h"
#include "engine/memory/page.h"
#include "engine/wire/pages.h"

namespace ferry::wire {

// An encoded page must come out below this many bytes to be sent encoded: saving less than 256
// bytes of 4096 does not pay for the receiver's decoding.
inline constexpr std::size_t kEncodedPageLimit = kPageSize - 256;
// zstd level: the fastest positive level; its ratio on memory is close to level 3's.
inline constexpr int kZstdLevel = 1;

// Compresses pages with lz4 or zstd, reusing its zstd context (one per stream; not thread-safe).
class PageCompressor {
 public:
  PageCompressor();
  ~PageCompressor();
  PageCompressor(const PageCompressor&) = delete;
  PageCompressor& operator=(const PageCompressor&) = delete;

  // Compresses the kPageSize bytes at `page` with `encoding` (lz4 or zstd) into `out` (at least
  // kEncodedPageLimit bytes). Returns the size, or 0 when the result would not be below
  // kEncodedPageLimit (send the page raw). Any other encoding is a caller bug: aborts.
  std::size_t compress(PageEncoding encoding, const std::byte* page, std::span<std::byte> out);

 private:
  struct Zstd;
  Zstd* zstd_;
};

// Decodes entries into guest memory (one per stream; not thread-safe).
class PageDecoder {
 public:
  PageDecoder();
  ~PageDecoder();
  PageDecoder(const PageDecoder&) = delete;
  PageDecoder& operator=(const PageDecoder&) = delete;

  // Writes the page `entry` carries to the kPageSize bytes at `target`. For delta entries
  // `target` must hold the copy the sender encoded against (its previous copy of that page).
  // Errc::corrupt naming the page and the encoding when the data does not decode to exactly one
  // page; the content of `target` is then unspecified.
  Result<void> decode(const PageEntry& entry, std::byte* target);

 private:
  struct Zstd;
  Zstd* zstd_;
};

}  // namespace ferry::wire
