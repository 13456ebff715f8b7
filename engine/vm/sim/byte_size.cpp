#include "engine/vm/sim/byte_size.h"

#include <charconv>
#include <string>

namespace ferry::sim {

Result<uint64_t> parse_byte_size(std::string_view text) {
  uint64_t number = 0;
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(text.data(), end, number);
  if (ec != std::errc() || rest == text.data()) {
    return Error(Errc::invalid_argument,
                 "size '" + std::string(text) + "' does not start with a number");
  }
  std::string_view unit(rest, static_cast<std::size_t>(end - rest));
  unsigned shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "KiB" || unit == "k") {
    shift = 10;
  } else if (unit == "M" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "GiB") {
    shift = 30;
  } else if (unit == "T" || unit == "TiB") {
    shift = 40;
  } else {
    return Error(Errc::invalid_argument,
                 "size '" + std::string(text) + "' has an unknown unit (use K, M, G or T)");
  }
  if (shift > 0 && number > (~uint64_t{0} >> shift)) {
    return Error(Errc::invalid_argument, "size '" + std::string(text) + "' is too large");
  }
  return number << shift;
}

}  // namespace ferry::sim
