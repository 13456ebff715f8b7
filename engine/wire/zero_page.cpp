#include "engine/wire/zero_page.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/memory/page.h"

namespace ferry::wire {
namespace {

// Most non-zero pages differ early: check block by block, each block one OR-reduction.
constexpr std::size_t kBlock = 256;

}  // namespace

namespace detail {

bool is_zero_page_portable(const std::byte* page) {
  for (std::size_t block = 0; block < kPageSize; block += kBlock) {
    uint64_t any = 0;
    // A fixed trip count with no early exit inside: GCC and Clang vectorise this at -O2.
    for (std::size_t i = 0; i < kBlock; i += 8) {
      uint64_t word;
      std::memcpy(&word, page + block + i, sizeof word);
      any |= word;
    }
    if (any != 0) return false;
  }
  return true;
}

#if defined(__x86_64__)
bool is_zero_page_avx2_available() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

__attribute__((target("avx2"))) bool is_zero_page_avx2(const std::byte* page) {
  for (std::size_t block = 0; block < kPageSize; block += kBlock) {
    const auto* v = reinterpret_cast<const __m256i*>(page + block);
    __m256i any = _mm256_loadu_si256(v);
    for (int i = 1; i < static_cast<int>(kBlock / 32); ++i) {
      any = _mm256_or_si256(any, _mm256_loadu_si256(v + i));
    }
    if (!_mm256_testz_si256(any, any)) return false;
  }
  return true;
}
#else
bool is_zero_page_avx2_available() {
  return false;
}
bool is_zero_page_avx2(const std::byte* page) {
  return is_zero_page_portable(page);
}
#endif

}  // namespace detail

bool is_zero_page(const std::byte* page) {
  using Implementation = bool (*)(const std::byte*);
  static const Implementation implementation = detail::is_zero_page_avx2_available()
                                                   ? &detail::is_zero_page_avx2
                                                   : &detail::is_zero_page_portable;
  return implementation(page);
}

}  // namespace ferry::wire
