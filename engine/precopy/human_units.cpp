#include "engine/precopy/human_units.h"

#include <cmath>
#include <cstdio>

namespace ferry {

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (std::fabs(bytes) >= 1024.0 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024.0;
    ++unit;
  }
  char text[48];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%.0f B", bytes);
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", bytes, kUnits[unit]);
  }
  return text;
}

std::string format_rate(double bytes_per_second) {
  return format_bytes(bytes_per_second) + "/s";
}

std::string format_duration_ms(double milliseconds) {
  char text[48];
  // Rounded up: a budget check that says "300 ms" must not hide 300.4 ms.
  if (std::ceil(milliseconds) < 1000.0) {
    std::snprintf(text, sizeof text, "%.0f ms", std::ceil(milliseconds));
  } else {
    std::snprintf(text, sizeof text, "%.1f s", milliseconds / 1000.0);
  }
  return text;
}

}  // namespace ferry
