#include "engine/wire/crc32c.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "tests/unit/wire/test_bytes.h"

namespace ferry::wire {
namespace {

using test::bytes_of;
using test::random_bytes;

struct Vector {
  std::vector<uint8_t> data;
  uint32_t crc;
};

// RFC 3720 appendix B.4 and the CRC catalogue check value.
std::vector<Vector> known_vectors() {
  std::vector<Vector> v;
  v.push_back({{'1', '2', '3', '4', '5', '6', '7', '8', '9'}, 0xE3069283});
  v.push_back({{}, 0x00000000});
  v.push_back({std::vector<uint8_t>(32, 0x00), 0x8A9136AA});
  v.push_back({std::vector<uint8_t>(32, 0xFF), 0x62A8AB43});
  std::vector<uint8_t> up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  v.push_back({up, 0x46DD794E});
  v.push_back({down, 0x113FDB5C});
  v.push_back({{0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
               0xD9963A56});
  return v;
}

TEST(Crc32c, KnownVectors) {
  for (const auto& v : known_vectors()) {
    SCOPED_TRACE(v.data.size());
    EXPECT_EQ(crc32c(v.data.data(), v.data.size()), v.crc);
    EXPECT_EQ(detail::crc32c_portable(v.data.data(), v.data.size(), 0), v.crc);
    if (detail::crc32c_hardware_available()) {
      EXPECT_EQ(detail::crc32c_hardware(v.data.data(), v.data.size(), 0), v.crc);
    }
  }
}

// A bit-at-a-time reference that shares no code with either implementation.
uint32_t reference_crc32c(const std::byte* p, std::size_t n) {
  uint32_t crc = 0xFFFFFFFF;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= std::to_integer<uint32_t>(p[i]);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78 & (0u - (crc & 1)));
  }
  return ~crc;
}

TEST(Crc32c, ImplementationsAgreeWithReferenceAtEveryLengthAndAlignment) {
  // Long enough for several 3 x 8192-byte and 3 x 256-byte lane blocks plus every tail length.
  const auto data = random_bytes(3 * 8192 * 2 + 3 * 256 * 3 + 64, 7);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n <= 800; ++n) lengths.push_back(n);
  for (std::size_t n : {4095u, 4096u, 4097u, 24575u, 24576u, 24577u, 25000u, 50000u})
    lengths.push_back(n);
  lengths.push_back(data.size() - 7);
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t n : lengths) {
      if (offset + n > data.size()) continue;
      const std::byte* p = data.data() + offset;
      const uint32_t expected = reference_crc32c(p, n);
      ASSERT_EQ(detail::crc32c_portable(p, n, 0), expected) << "offset " << offset << " n " << n;
      if (detail::crc32c_hardware_available()) {
        ASSERT_EQ(detail::crc32c_hardware(p, n, 0), expected) << "offset " << offset << " n " << n;
      }
      ASSERT_EQ(crc32c(p, n), expected);
    }
  }
}

TEST(Crc32c, ExtendsAcrossEverySplitPoint) {
  const auto data = random_bytes(1000, 11);
  const uint32_t whole = crc32c(data.data(), data.size());
  for (std::size_t split = 0; split <= data.size(); ++split) {
    const uint32_t a = crc32c(data.data(), split);
    ASSERT_EQ(crc32c(data.data() + split, data.size() - split, a), whole) << split;
    ASSERT_EQ(detail::crc32c_portable(data.data() + split, data.size() - split,
                                      detail::crc32c_portable(data.data(), split, 0)),
              whole);
  }
}

TEST(Crc32c, CombineMatchesConcatenation) {
  const auto data = random_bytes(70000, 13);
  const uint32_t whole = crc32c(data.data(), data.size());
  for (std::size_t split : {0u, 1u, 7u, 8u, 4096u, 4104u, 30000u, 69999u, 70000u}) {
    const uint32_t a = crc32c(data.data(), split);
    const uint32_t b = crc32c(data.data() + split, data.size() - split);
    EXPECT_EQ(crc32c_combine(a, b, data.size() - split), whole) << split;
  }
  EXPECT_EQ(crc32c_combine(0x12345678, 0, 0), 0x12345678u);
}

TEST(Crc32c, DetectsSingleBitChange) {
  auto data = random_bytes(4096, 17);
  const uint32_t before = crc32c(data.data(), data.size());
  data[1234] ^= std::byte{0x10};
  EXPECT_NE(crc32c(data.data(), data.size()), before);
  EXPECT_EQ(crc32c(bytes_of("a").data(), 1), 0xC1D04330u);
}

}  // namespace
}  // namespace ferry::wire
