// Bounds on variable-size fields that every decoder enforces.
#pragma once

#include <cstddef>

namespace ferry::wire {

inline constexpr std::size_t kMaxStringBytes = 1 << 20;  // any string field, JSON included
inline constexpr int kMaxJsonDepth = 64;  // nesting of arrays/objects in a JSON field

}  // namespace ferry::wire
