// The wire fuzz entry point, shared by the libFuzzer binary and the deterministic replay.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry::wire::fuzz {

// How often each typed decoder accepted / refused a payload, so the replay can prove its corpus
// reaches past the checks into every decoder.
inline constexpr std::size_t kDecoderCount = 20;
struct DecoderStats {
  const char* name = "";
  uint64_t accepted = 0;
  uint64_t refused = 0;
};
struct FuzzStats {
  std::array<DecoderStats, kDecoderCount> decoders{};
  uint64_t headers_accepted = 0;
  uint64_t crc_passed = 0;
};
FuzzStats& stats();

}  // namespace ferry::wire::fuzz
