#include "engine/wire/payload_writer.h"

#include <cstring>
#include <string>

#include "engine/wire/field_limits.h"
#include "engine/wire/little_endian.h"
#include "engine/wire/utf8.h"

namespace ferry::wire {

std::byte* PayloadWriter::grow(std::size_t n) {
  const std::size_t at = bytes_.size();
  bytes_.resize(at + n);
  return bytes_.data() + at;
}

void PayloadWriter::u16(uint16_t v) {
  store_le16(grow(2), v);
}
void PayloadWriter::u32(uint32_t v) {
  store_le32(grow(4), v);
}
void PayloadWriter::u64(uint64_t v) {
  store_le64(grow(8), v);
}

void PayloadWriter::string(std::string_view text) {
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = to_valid_utf8(text);
    text = repaired;
  }
  text = utf8_prefix(text, kMaxStringBytes);
  u32(static_cast<uint32_t>(text.size()));
  if (!text.empty()) std::memcpy(grow(text.size()), text.data(), text.size());
}

void PayloadWriter::json(const nlohmann::json& document) {
  // replace: a string holding invalid UTF-8 must not throw out of an encoder.
  string(document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void PayloadWriter::bytes(std::span<const std::byte> data) {
  if (!data.empty()) std::memcpy(grow(data.size()), data.data(), data.size());
}

}  // namespace ferry::wire
