#include "engine/wire/payload_reader.h"

#include <fmt/format.h>

#include "engine/wire/field_limits.h"
#include "engine/wire/little_endian.h"
#include "engine/wire/utf8.h"

namespace ferry::wire {

void PayloadReader::fail(Errc code, std::string_view field, std::string_view what) {
  if (error_) return;
  error_.emplace(code,
                 fmt::format("{} payload, field {}: {}", record_type_name(record_), field, what));
}

const std::byte* PayloadReader::take(std::size_t n, std::string_view field) {
  if (error_) return nullptr;
  const std::size_t remaining = payload_.size() - offset_;
  if (n > remaining) {
    fail(Errc::corrupt, field,
         fmt::format("truncated: needs {} bytes at offset {}, only {} remain (payload {} bytes)", n,
                     offset_, remaining, payload_.size()));
    return nullptr;
  }
  const std::byte* p = payload_.data() + offset_;
  offset_ += n;
  return p;
}

uint16_t PayloadReader::u16(std::string_view field) {
  const std::byte* p = take(2, field);
  return p ? load_le16(p) : 0;
}

uint32_t PayloadReader::u32(std::string_view field) {
  const std::byte* p = take(4, field);
  return p ? load_le32(p) : 0;
}

uint64_t PayloadReader::u64(std::string_view field) {
  const std::byte* p = take(8, field);
  return p ? load_le64(p) : 0;
}

std::string PayloadReader::string(std::string_view field) {
  const uint32_t length = u32(field);
  if (error_) return {};
  if (length > kMaxStringBytes) {
    fail(Errc::corrupt, field,
         fmt::format("string of {} bytes is above the limit of {}", length, kMaxStringBytes));
    return {};
  }
  const std::byte* p = take(length, field);
  if (!p) return {};
  std::string text(reinterpret_cast<const char*>(p), length);
  if (const std::size_t bad = first_invalid_utf8(text); bad != text.size()) {
    fail(Errc::corrupt, field, fmt::format("invalid UTF-8 at byte {} of {}", bad, length));
    return {};
  }
  return text;
}

namespace {

// Builds the document with nlohmann's own DOM builder, but stops at the first syntax error without
// throwing (a hostile peer can send many) and refuses nesting deeper than kMaxJsonDepth: the
// parser is iterative, but dump() and most consumers of a document recurse.
class BoundedJsonBuilder {
 public:
  using json = nlohmann::json;
  explicit BoundedJsonBuilder(json& result) : dom_(result, false) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool key(json::string_t& v) { return dom_.key(v); }
  bool start_object(std::size_t n) { return enter() && dom_.start_object(n); }
  bool start_array(std::size_t n) { return enter() && dom_.start_array(n); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    error_ = e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool enter() {
    if (++depth_ > kMaxJsonDepth) {
      error_ = fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth);
      return false;
    }
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int depth_ = 0;
  std::string error_;
};

}  // namespace

nlohmann::json PayloadReader::json(std::string_view field) {
  const std::string text = string(field);
  if (error_) return {};
  nlohmann::json value;
  BoundedJsonBuilder builder(value);
  const bool parsed = nlohmann::json::sax_parse(text, &builder);
  if (!parsed || !builder.error().empty()) {
    fail(Errc::corrupt, field,
         fmt::format("not a JSON document: {}",
                     builder.error().empty() ? "parse failed" : builder.error()));
    return {};
  }
  return value;
}

std::vector<std::byte> PayloadReader::rest() {
  if (error_) return {};
  std::vector<std::byte> bytes(payload_.begin() + static_cast<std::ptrdiff_t>(offset_),
                               payload_.end());
  offset_ = payload_.size();
  return bytes;
}

void PayloadReader::check_fully_consumed() {
  if (error_ || offset_ == payload_.size()) return;
  error_.emplace(
      Errc::corrupt,
      fmt::format("{} payload: {} trailing bytes after the last field (payload {} "
                  "bytes, fields end at {})",
                  record_type_name(record_), payload_.size() - offset_, payload_.size(), offset_));
}

}  // namespace ferry::wire
