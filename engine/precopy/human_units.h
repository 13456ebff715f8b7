// Human-readable sizes, rates and durations for decision reasons and logs. Pure.
#pragma once

#include <string>

namespace ferry {

std::string format_bytes(double bytes);               // "320.0 MiB"
std::string format_rate(double bytes_per_second);     // "512.0 MiB/s"
std::string format_duration_ms(double milliseconds);  // "300 ms", "3.2 s"

}  // namespace ferry
