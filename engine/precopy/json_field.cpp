#include "engine/precopy/json_field.h"

namespace ferry::json_field {
namespace {

// Long values are cut so a hostile document cannot blow up an error message.
std::string describe(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return std::string(value.type_name()) + " " + text;
}

Error bad_field(std::string_view where, std::string_view key, std::string_view expected,
                const nlohmann::json& value) {
  return Error(Errc::invalid_argument, std::string(where) + ": \"" + std::string(key) +
                                           "\" must be " + std::string(expected) + ", got " +
                                           describe(value));
}

Result<const nlohmann::json*> member(const nlohmann::json& object, std::string_view key,
                                     std::string_view where) {
  auto found = object.find(key);
  if (found == object.end()) {
    return Error(Errc::invalid_argument,
                 std::string(where) + ": missing key \"" + std::string(key) + "\"");
  }
  return &*found;
}

}  // namespace

Result<void> require_object(const nlohmann::json& value, std::string_view where) {
  if (!value.is_object()) {
    return Error(Errc::invalid_argument,
                 std::string(where) + ": expected a JSON object, got " + describe(value));
  }
  return ok();
}

Result<uint64_t> read_unsigned(const nlohmann::json& object, std::string_view key,
                               std::string_view where, uint64_t max) {
  auto value = member(object, key, where);
  if (!value) return std::move(value).error();
  const nlohmann::json& json = **value;
  const std::string expected = "an unsigned integer <= " + std::to_string(max);
  uint64_t number = 0;
  if (json.is_number_unsigned()) {
    number = json.get<uint64_t>();
  } else if (json.is_number_integer() && json.get<int64_t>() >= 0) {
    number = static_cast<uint64_t>(json.get<int64_t>());
  } else {
    return bad_field(where, key, expected, json);
  }
  if (number > max) return bad_field(where, key, expected, json);
  return number;
}

Result<double> read_number(const nlohmann::json& object, std::string_view key,
                           std::string_view where) {
  auto value = member(object, key, where);
  if (!value) return std::move(value).error();
  if (!(*value)->is_number()) return bad_field(where, key, "a number", **value);
  return (*value)->get<double>();
}

Result<std::string> read_string(const nlohmann::json& object, std::string_view key,
                                std::string_view where) {
  auto value = member(object, key, where);
  if (!value) return std::move(value).error();
  if (!(*value)->is_string()) return bad_field(where, key, "a string", **value);
  return (*value)->get<std::string>();
}

}  // namespace ferry::json_field
