// Zero-page detection: a zero page travels as an entry without data instead of 4 KiB of zeros.
#pragma once

#include <cstddef>

namespace ferry::wire {

// True when all ferry::kPageSize bytes at `page` are zero. Uses AVX2 when the CPU has it; stops at
// the first non-zero 256-byte block.
bool is_zero_page(const std::byte* page);

namespace detail {
// The implementations behind is_zero_page(), exposed so tests can compare them.
bool is_zero_page_portable(const std::byte* page);
bool is_zero_page_avx2_available();
bool is_zero_page_avx2(const std::byte* page);  // only when is_zero_page_avx2_available()
}  // namespace detail

}  // namespace ferry::wire
