#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry {

inline constexpr std::size_t kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;

inline constexpr uint64_t pages_for(uint64_t bytes) {
  return (bytes + kPageSize - 1) >> kPageShift;
}

}  // namespace ferry
