// Appends the fixed-width fields of one record payload. Never fails: string fields are made valid
// UTF-8 and cut to kMaxStringBytes at a character boundary, so a REJECT or ABORT carrying an odd
// message always goes out (a JSON field cut that way is refused by the peer's decoder).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry::wire {

class PayloadWriter {
 public:
  explicit PayloadWriter(std::size_t expected_size = 0) { bytes_.reserve(expected_size); }

  void u16(uint16_t v);
  void u32(uint32_t v);
  void u64(uint64_t v);
  void string(std::string_view text);
  void json(const nlohmann::json& document);
  void bytes(std::span<const std::byte> data);

  std::vector<std::byte> take() && { return std::move(bytes_); }

 private:
  std::byte* grow(std::size_t n);

  std::vector<std::byte> bytes_;
};

}  // namespace ferry::wire
