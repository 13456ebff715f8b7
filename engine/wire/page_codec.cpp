#include "engine/wire/page_codec.h"

#include <fmt/format.h>
#include <lz4.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/wire/page_delta.h"

namespace ferry::wire {
namespace {

[[noreturn]] void misuse(const std::string& what) {
  std::fprintf(stderr, "ferry: page codec misuse: %s\n", what.c_str());
  std::abort();
}

Error decode_error(const PageEntry& entry, std::string_view what) {
  return Error(Errc::corrupt,
               fmt::format("page {}: {} data of {} bytes: {}", entry.page,
                           page_encoding_name(entry.encoding), entry.data.size(), what));
}

}  // namespace

struct PageCompressor::Zstd {
  ZSTD_CCtx* context = nullptr;
};

PageCompressor::PageCompressor() : zstd_(new Zstd) {
  zstd_->context = ZSTD_createCCtx();
  if (!zstd_->context) misuse("ZSTD_createCCtx failed (out of memory)");
  // Every byte counts on 4 KiB inputs: the receiver knows the size and needs no checksum (the
  // record has a CRC).
  ZSTD_CCtx_setParameter(zstd_->context, ZSTD_c_compressionLevel, kZstdLevel);
  ZSTD_CCtx_setParameter(zstd_->context, ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(zstd_->context, ZSTD_c_checksumFlag, 0);
  ZSTD_CCtx_setParameter(zstd_->context, ZSTD_c_dictIDFlag, 0);
}

PageCompressor::~PageCompressor() {
  ZSTD_freeCCtx(zstd_->context);
  delete zstd_;
}

std::size_t PageCompressor::compress(PageEncoding encoding, const std::byte* page,
                                     std::span<std::byte> out) {
  if (out.size() < kEncodedPageLimit)
    misuse(fmt::format("output of {} bytes, need {}", out.size(), kEncodedPageLimit));
  // One byte less than the limit: a result that does not fit is one that does not pay.
  const std::size_t capacity = kEncodedPageLimit - 1;
  switch (encoding) {
    case PageEncoding::lz4: {
      const int n = LZ4_compress_default(reinterpret_cast<const char*>(page),
                                         reinterpret_cast<char*>(out.data()),
                                         static_cast<int>(kPageSize), static_cast<int>(capacity));
      return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    case PageEncoding::zstd: {
      const std::size_t n = ZSTD_compress2(zstd_->context, out.data(), capacity, page, kPageSize);
      return ZSTD_isError(n) ? 0 : n;
    }
    default:
      misuse(fmt::format("compress() with encoding {}", page_encoding_name(encoding)));
  }
}

struct PageDecoder::Zstd {
  ZSTD_DCtx* context = nullptr;
};

PageDecoder::PageDecoder() : zstd_(new Zstd) {
  zstd_->context = ZSTD_createDCtx();
  if (!zstd_->context) misuse("ZSTD_createDCtx failed (out of memory)");
}

PageDecoder::~PageDecoder() {
  ZSTD_freeDCtx(zstd_->context);
  delete zstd_;
}

Result<void> PageDecoder::decode(const PageEntry& entry, std::byte* target) {
  switch (entry.encoding) {
    case PageEncoding::zero:
      std::memset(target, 0, kPageSize);
      return ok();
    case PageEncoding::raw:
      if (entry.data.size() != kPageSize) return decode_error(entry, "a raw page is 4096 bytes");
      std::memcpy(target, entry.data.data(), kPageSize);
      return ok();
    case PageEncoding::lz4: {
      // LZ4_decompress_safe never reads or writes outside the two buffers, whatever the input.
      const int n = LZ4_decompress_safe(
          reinterpret_cast<const char*>(entry.data.data()), reinterpret_cast<char*>(target),
          static_cast<int>(entry.data.size()), static_cast<int>(kPageSize));
      if (n < 0) return decode_error(entry, "not a valid lz4 block of at most 4096 bytes");
      if (static_cast<std::size_t>(n) != kPageSize)
        return decode_error(entry, fmt::format("decompresses to {} bytes, not 4096", n));
      return ok();
    }
    case PageEncoding::zstd: {
      const std::size_t n = ZSTD_decompressDCtx(zstd_->context, target, kPageSize,
                                                entry.data.data(), entry.data.size());
      if (ZSTD_isError(n))
        return decode_error(entry, fmt::format("zstd: {}", ZSTD_getErrorName(n)));
      if (n != kPageSize)
        return decode_error(entry, fmt::format("decompresses to {} bytes, not 4096", n));
      return ok();
    }
    case PageEncoding::delta: {
      auto applied = apply_page_delta(entry.data, target);
      if (!applied) return decode_error(entry, applied.error().message());
      return ok();
    }
  }
  return decode_error(entry, fmt::format("unknown encoding {}", static_cast<int>(entry.encoding)));
}

}  // namespace ferry::wire
