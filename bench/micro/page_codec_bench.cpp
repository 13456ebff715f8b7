// Per-page encodings (lz4, zstd, delta, and raw's copy + checksum for reference): encode and
// decode throughput in bytes of guest memory per second, and the size they reach, on pages of
// four kinds: zero, text-like, random, and lightly modified (a few bytes changed since the copy
// the delta is made against).
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/micro/page_buffer.h"
#include "engine/wire/crc32c.h"
#include "engine/wire/page_codec.h"
#include "engine/wire/page_delta.h"

namespace ferry::bench {
namespace {

// 16 MiB per kind: larger than the caches, as guest memory is.
constexpr uint64_t kPages = 4096;

enum Kind { kZero, kText, kRandom, kModified };
const char* const kKindNames[] = {"zero", "text", "random", "modified"};

struct PageSet {
  PageBuffer previous{kPages};  // what the receiver holds (delta's reference)
  PageBuffer current{kPages};   // what is sent now
};

void fill_text(PageBuffer& buffer, uint64_t seed) {
  std::mt19937_64 rng(seed);
  static const char* words[] = {"error ", "timeout ", "connection ", "GET /index.html ",
                                "200 ",   "ferry ",   "= ",          "0x7f3a9c ",
                                "\n",     "user=",    "round ",      "stream "};
  for (uint64_t p = 0; p < buffer.pages(); ++p) {
    std::string text;
    while (text.size() < kPageSize) {
      text += words[rng() % 12];
      if (rng() % 3 == 0) text += std::to_string(rng() % 1000000);
    }
    std::memcpy(buffer.page(p), text.data(), kPageSize);
  }
}

const PageSet& pages(Kind kind) {
  static PageSet sets[4];
  static bool ready[4] = {};
  PageSet& s = sets[kind];
  if (ready[kind]) return s;
  ready[kind] = true;
  switch (kind) {
    case kZero:
      break;
    case kText:
      fill_text(s.previous, 1);
      fill_text(s.current, 2);
      break;
    case kRandom:
      fill_random_pages(s.previous, 0, 3);
      fill_random_pages(s.current, 0, 4);
      break;
    case kModified: {
      // A text page where the guest changed a few counters: 4 runs of 8 bytes.
      fill_text(s.previous, 5);
      std::memcpy(s.current.data(), s.previous.data(), s.current.bytes());
      std::mt19937_64 rng(6);
      for (uint64_t p = 0; p < kPages; ++p)
        for (int i = 0; i < 4; ++i) {
          const uint64_t v = rng();
          std::memcpy(s.current.page(p) + rng() % (kPageSize - 8), &v, 8);
        }
      break;
    }
  }
  return s;
}

enum Codec { kRaw, kLz4, kZstd, kDelta };
const char* const kCodecNames[] = {"raw", "lz4", "zstd", "delta"};
const wire::PageEncoding kEncodings[] = {wire::PageEncoding::raw, wire::PageEncoding::lz4,
                                         wire::PageEncoding::zstd, wire::PageEncoding::delta};

// Encodes page p as the sender would; returns the bytes it would send (kPageSize when it falls
// back to raw).
std::size_t encode(Codec codec, wire::PageCompressor& compressor, const PageSet& set, uint64_t p,
                   std::byte* out) {
  std::size_t n = 0;
  switch (codec) {
    case kRaw:
      std::memcpy(out, set.current.page(p), kPageSize);
      benchmark::DoNotOptimize(wire::crc32c(out, kPageSize));
      return kPageSize;
    case kLz4:
    case kZstd:
      n = compressor.compress(kEncodings[codec], set.current.page(p),
                              {out, wire::kMaxEncodedPageBytes});
      break;
    case kDelta:
      n = wire::encode_page_delta(set.previous.page(p), set.current.page(p),
                                  {out, wire::kEncodedPageLimit - 1});
      break;
  }
  benchmark::DoNotOptimize(wire::crc32c(out, n ? n : kPageSize));
  return n ? n : kPageSize;
}

void BM_PageEncode(benchmark::State& state) {
  const auto codec = static_cast<Codec>(state.range(0));
  const auto kind = static_cast<Kind>(state.range(1));
  const PageSet& set = pages(kind);
  wire::PageCompressor compressor;
  std::vector<std::byte> out(wire::kMaxEncodedPageBytes);
  uint64_t p = 0, sent = 0, pages_done = 0;
  for (auto _ : state) {
    sent += encode(codec, compressor, set, p, out.data());
    benchmark::ClobberMemory();
    ++pages_done;
    p = (p + 1) % kPages;
  }
  state.SetBytesProcessed(static_cast<int64_t>(pages_done * kPageSize));
  state.counters["sent_ratio"] =
      static_cast<double>(sent) / static_cast<double>(pages_done * kPageSize);
  state.SetLabel(std::string(kCodecNames[codec]) + "/" + kKindNames[kind]);
}

void BM_PageDecode(benchmark::State& state) {
  const auto codec = static_cast<Codec>(state.range(0));
  const auto kind = static_cast<Kind>(state.range(1));
  const PageSet& set = pages(kind);
  wire::PageCompressor compressor;
  // Encode every page once; the ones that fall back to raw decode as raw.
  std::vector<std::vector<std::byte>> encoded(kPages);
  std::vector<wire::PageEncoding> encodings(kPages);
  std::vector<std::byte> out(wire::kMaxEncodedPageBytes);
  for (uint64_t p = 0; p < kPages; ++p) {
    const std::size_t n = encode(codec, compressor, set, p, out.data());
    const bool fell_back = codec != kRaw && n == kPageSize;
    encodings[p] = fell_back ? wire::PageEncoding::raw : kEncodings[codec];
    const std::byte* data = fell_back ? set.current.page(p) : out.data();
    encoded[p].assign(data, data + n);
  }
  PageBuffer target(kPages);
  std::memcpy(target.data(), set.previous.data(), target.bytes());
  wire::PageDecoder decoder;
  uint64_t p = 0, pages_done = 0;
  for (auto _ : state) {
    // A delta overwrites the changed runs with their new bytes, so applying it again to the
    // page it produced gives the same page: no need to restore the reference between runs.
    auto r = decoder.decode({p, encodings[p], encoded[p]}, target.page(p));
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      break;
    }
    ++pages_done;
    p = (p + 1) % kPages;
  }
  state.SetBytesProcessed(static_cast<int64_t>(pages_done * kPageSize));
  state.SetLabel(std::string(kCodecNames[codec]) + "/" + kKindNames[kind]);
}

void codec_arguments(benchmark::internal::Benchmark* b) {
  for (int codec = kRaw; codec <= kDelta; ++codec)
    for (int kind = kZero; kind <= kModified; ++kind) b->Args({codec, kind});
}

BENCHMARK(BM_PageEncode)->Apply(codec_arguments);
BENCHMARK(BM_PageDecode)->Apply(codec_arguments);

}  // namespace
}  // namespace ferry::bench
