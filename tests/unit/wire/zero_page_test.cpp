#include "engine/wire/zero_page.h"

#include <gtest/gtest.h>

#include <vector>

#include "engine/memory/page.h"

namespace ferry::wire {
namespace {

template <typename Check>
void expect_detects_every_non_zero_byte(Check is_zero) {
  // Offset by one byte so unaligned loads are exercised too.
  std::vector<std::byte> storage(kPageSize + 1);
  std::byte* page = storage.data() + 1;
  ASSERT_TRUE(is_zero(page));
  for (std::size_t i = 0; i < kPageSize; ++i) {
    for (uint8_t v : {uint8_t{1}, uint8_t{0x80}, uint8_t{0xFF}}) {
      page[i] = std::byte{v};
      ASSERT_FALSE(is_zero(page)) << "byte " << i << " = " << int(v);
    }
    page[i] = std::byte{0};
  }
  ASSERT_TRUE(is_zero(page));
}

TEST(ZeroPage, PortableDetectsEveryNonZeroByte) {
  expect_detects_every_non_zero_byte(detail::is_zero_page_portable);
}

TEST(ZeroPage, Avx2DetectsEveryNonZeroByte) {
  if (!detail::is_zero_page_avx2_available()) GTEST_SKIP() << "CPU without AVX2";
  expect_detects_every_non_zero_byte(detail::is_zero_page_avx2);
}

TEST(ZeroPage, DispatchedDetectsEveryNonZeroByte) {
  expect_detects_every_non_zero_byte(is_zero_page);
}

}  // namespace
}  // namespace ferry::wire
