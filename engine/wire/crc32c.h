// CRC-32C (Castagnoli): the checksum of every record on the wire.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::wire {

// Standard CRC-32C (reflected polynomial 0x82F63B78, init and xorout 0xFFFFFFFF):
// crc32c("123456789", 9) == 0xE3069283. Extendable: pass the CRC of the bytes before as `crc`, so
// crc32c(b, nb, crc32c(a, na)) == crc32c(a || b). Uses the SSE4.2 instruction when the CPU has it.
uint32_t crc32c(const void* data, std::size_t n, uint32_t crc = 0);

// CRC of a || b from crc32c(a) and crc32c(b) (each computed from 0) and the length of b, so pieces
// can be checksummed in any order (zlib's crc32_combine for CRC-32C).
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

namespace detail {
// The two implementations behind crc32c(), exposed so tests can compare them.
uint32_t crc32c_portable(const void* data, std::size_t n, uint32_t crc);
bool crc32c_hardware_available();
// Only call when crc32c_hardware_available().
uint32_t crc32c_hardware(const void* data, std::size_t n, uint32_t crc);
}  // namespace detail

}  // namespace ferry::wire
