#include "engine/wire/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "engine/wire/little_endian.h"

namespace ferry::wire {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // Castagnoli, bit-reflected

// Polynomials mod P in the reflected representation: bit 31 is x^0, bit 0 is x^31.
constexpr uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// x^(8 * bytes) mod P: the operator that appends `bytes` zero bytes to a CRC register.
constexpr uint32_t x_pow_8n_mod_p(uint64_t bytes) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t square = 1u << 23;  // x^8
  while (bytes != 0) {
    if (bytes & 1) result = multiply_mod_p(square, result);
    square = multiply_mod_p(square, square);
    bytes >>= 1;
  }
  return result;
}

using SliceTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr SliceTables make_slice_tables() {
  SliceTables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[0][i] = c;
  }
  for (int k = 1; k < 8; ++k) {
    for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}

constexpr SliceTables kSlice = make_slice_tables();

}  // namespace

namespace detail {

// Slicing-by-8: one table lookup per byte, eight independent lookups per 8-byte word.
uint32_t crc32c_portable(const void* data, std::size_t n, uint32_t crc) {
  const auto* p = static_cast<const std::byte*>(data);
  uint32_t state = ~crc;
  while (n >= 8) {
    const uint64_t w = load_le64(p) ^ state;
    state = kSlice[7][w & 0xff] ^ kSlice[6][(w >> 8) & 0xff] ^ kSlice[5][(w >> 16) & 0xff] ^
            kSlice[4][(w >> 24) & 0xff] ^ kSlice[3][(w >> 32) & 0xff] ^
            kSlice[2][(w >> 40) & 0xff] ^ kSlice[1][(w >> 48) & 0xff] ^ kSlice[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0)
    state = (state >> 8) ^ kSlice[0][(state ^ std::to_integer<uint32_t>(*p++)) & 0xff];
  return ~state;
}

}  // namespace detail

#if defined(__x86_64__)
namespace {

// The crc32 instruction has a latency of 3 cycles and a throughput of 1: three independent lanes
// keep it busy. Each lane's CRC is then moved past the following lanes with a zeros-operator table
// (the register times x^(8 * lane length), one lookup per byte of the register).
constexpr std::size_t kLongLane = 8192;
constexpr std::size_t kShortLane = 256;

using ShiftTable = std::array<std::array<uint32_t, 256>, 4>;

constexpr ShiftTable make_shift_table(std::size_t bytes) {
  ShiftTable t{};
  const uint32_t op = x_pow_8n_mod_p(bytes);
  for (uint32_t i = 0; i < 256; ++i) {
    for (int k = 0; k < 4; ++k) t[k][i] = multiply_mod_p(op, i << (8 * k));
  }
  return t;
}

constexpr ShiftTable kShiftLong = make_shift_table(kLongLane);
constexpr ShiftTable kShiftShort = make_shift_table(kShortLane);

inline uint32_t shift(const ShiftTable& t, uint64_t reg) {
  return t[0][reg & 0xff] ^ t[1][(reg >> 8) & 0xff] ^ t[2][(reg >> 16) & 0xff] ^
         t[3][(reg >> 24) & 0xff];
}

inline uint64_t load_u64(const std::byte* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <std::size_t Lane>
__attribute__((target("sse4.2"))) inline uint64_t three_lanes(const std::byte* p, uint64_t state,
                                                              const ShiftTable& table) {
  uint64_t c0 = state, c1 = 0, c2 = 0;
  for (std::size_t i = 0; i < Lane; i += 8) {
    c0 = _mm_crc32_u64(c0, load_u64(p + i));
    c1 = _mm_crc32_u64(c1, load_u64(p + Lane + i));
    c2 = _mm_crc32_u64(c2, load_u64(p + 2 * Lane + i));
  }
  const uint64_t c01 = shift(table, c0) ^ c1;
  return shift(table, c01) ^ c2;
}

}  // namespace

namespace detail {

bool crc32c_hardware_available() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(const void* data, std::size_t n,
                                                           uint32_t crc) {
  const auto* p = static_cast<const std::byte*>(data);
  uint64_t state = static_cast<uint32_t>(~crc);
  while (n >= 3 * kLongLane) {
    state = three_lanes<kLongLane>(p, state, kShiftLong);
    p += 3 * kLongLane;
    n -= 3 * kLongLane;
  }
  while (n >= 3 * kShortLane) {
    state = three_lanes<kShortLane>(p, state, kShiftShort);
    p += 3 * kShortLane;
    n -= 3 * kShortLane;
  }
  while (n >= 8) {
    state = _mm_crc32_u64(state, load_u64(p));
    p += 8;
    n -= 8;
  }
  auto s32 = static_cast<uint32_t>(state);
  while (n-- > 0) s32 = _mm_crc32_u8(s32, std::to_integer<uint8_t>(*p++));
  return ~s32;
}

}  // namespace detail
#else
namespace detail {
bool crc32c_hardware_available() {
  return false;
}
uint32_t crc32c_hardware(const void* data, std::size_t n, uint32_t crc) {
  return crc32c_portable(data, n, crc);
}
}  // namespace detail
#endif

uint32_t crc32c(const void* data, std::size_t n, uint32_t crc) {
  using Implementation = uint32_t (*)(const void*, std::size_t, uint32_t);
  static const Implementation implementation =
      detail::crc32c_hardware_available() ? &detail::crc32c_hardware : &detail::crc32c_portable;
  return implementation(data, n, crc);
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  return multiply_mod_p(x_pow_8n_mod_p(length_b), crc_a) ^ crc_b;
}

}  // namespace ferry::wire
