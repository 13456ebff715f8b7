#include "drivers/storage/iscsi/reservation_key.h"

#include <fmt/format.h>

#include <charconv>

namespace ferry::iscsi {

std::uint64_t reservation_key_for(std::string_view initiator) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : initiator) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash == 0 ? 1 : hash;
}

std::string format_reservation_key(std::uint64_t key) {
  return fmt::format("{:#018x}", key);
}

Result<std::uint64_t> parse_reservation_key(const nlohmann::json& value, std::string_view where) {
  std::uint64_t key = 0;
  if (value.is_number_unsigned()) {
    key = value.get<std::uint64_t>();
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    std::string_view digits = text;
    if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), key, 16);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
      return Error(Errc::invalid_argument,
                   fmt::format("{}: \"{}\" is not a 64-bit hexadecimal key", where, text));
  } else {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: must be a hexadecimal string such as \"0x1234abcd\"", where));
  }
  if (key == 0)
    return Error(Errc::invalid_argument,
                 fmt::format("{}: key 0 is reserved (it means \"no key\")", where));
  return key;
}

std::string reservation_type_name(int type) {
  switch (type) {
    case 1:
      return "WRITE EXCLUSIVE";
    case 3:
      return "EXCLUSIVE ACCESS";
    case 5:
      return "WRITE EXCLUSIVE - REGISTRANTS ONLY";
    case 6:
      return "EXCLUSIVE ACCESS - REGISTRANTS ONLY";
    case 7:
      return "WRITE EXCLUSIVE - ALL REGISTRANTS";
    case 8:
      return "EXCLUSIVE ACCESS - ALL REGISTRANTS";
    default:
      return fmt::format("type {}", type);
  }
}

}  // namespace ferry::iscsi
