// Reads the fixed-width fields of one record payload with bounds checks. The first failure is
// kept (naming the record and the field); later reads return zero values, so a decoder reads all
// its fields and asks finish() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/wire/record_type.h"

namespace ferry::wire {

class PayloadReader {
 public:
  PayloadReader(std::span<const std::byte> payload, RecordType record)
      : payload_(payload), record_(record) {}

  uint16_t u16(std::string_view field);
  uint32_t u32(std::string_view field);
  uint64_t u64(std::string_view field);
  // u32 byte length + UTF-8 bytes, at most kMaxStringBytes.
  std::string string(std::string_view field);
  // A string field holding one JSON document, nested at most kMaxJsonDepth deep.
  nlohmann::json json(std::string_view field);
  // Everything after the fields read so far.
  std::vector<std::byte> rest();

  // Records a semantic failure (a value out of range) unless an earlier one is already kept.
  void fail(Errc code, std::string_view field, std::string_view what);
  bool failed() const { return error_.has_value(); }

  // The value, or the first failure, or a failure for bytes left after the last field.
  template <typename T>
  Result<T> finish(T value) {
    check_fully_consumed();
    if (error_) return std::move(*error_);
    return value;
  }

 private:
  const std::byte* take(std::size_t n, std::string_view field);
  void check_fully_consumed();

  std::span<const std::byte> payload_;
  std::size_t offset_ = 0;
  RecordType record_;
  std::optional<Error> error_;
};

}  // namespace ferry::wire
