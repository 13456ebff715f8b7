// Typed reads of one JSON object member, with errors that name the document and the key.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::json_field {

// `where` names the document in messages: "precopy settings: \"max-rounds\" must be ...".
// Every reader fails with Errc::invalid_argument when the key is missing or has the wrong type.
Result<uint64_t> read_unsigned(const nlohmann::json& object, std::string_view key,
                               std::string_view where,
                               uint64_t max = std::numeric_limits<uint64_t>::max());
Result<double> read_number(const nlohmann::json& object, std::string_view key,
                           std::string_view where);
Result<std::string> read_string(const nlohmann::json& object, std::string_view key,
                                std::string_view where);

// Fails unless `value` is a JSON object.
Result<void> require_object(const nlohmann::json& value, std::string_view where);

}  // namespace ferry::json_field
