#include "drivers/storage/nfs/ownership_record.h"

#include <fmt/format.h>

namespace ferry::nfs {

namespace {

constexpr int kFormat = 1;

nlohmann::json optional_string(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

Result<std::optional<std::string>> read_optional_string(const nlohmann::json& json, const char* key,
                                                        std::string_view path) {
  if (!json.contains(key) || json.at(key).is_null()) return std::optional<std::string>();
  if (!json.at(key).is_string() || json.at(key).get_ref<const std::string&>().empty())
    return Error(Errc::corrupt, fmt::format("ownership record {}: \"{}\" must be a non-empty "
                                            "string or null",
                                            path, key));
  return std::optional<std::string>(json.at(key).get<std::string>());
}

}  // namespace

nlohmann::json OwnershipRecord::to_json() const {
  return {{"format", kFormat},
          {"generation", generation},
          {"owner", optional_string(owner)},
          {"released-by", optional_string(released_by)},
          {"changed-by", changed_by}};
}

std::string OwnershipRecord::encode() const {
  return to_json().dump() + "\n";
}

Result<OwnershipRecord> OwnershipRecord::from_json(const nlohmann::json& json,
                                                   std::string_view path) {
  if (!json.is_object())
    return Error(Errc::corrupt, fmt::format("ownership record {}: not a JSON object", path));
  if (json.value("format", 0) != kFormat)
    return Error(
        Errc::corrupt,
        fmt::format("ownership record {}: unknown format {} (this ferry reads format {})", path,
                    json.contains("format") ? json.at("format").dump() : "none", kFormat));
  OwnershipRecord out;
  if (!json.contains("generation") ||
      !(json.at("generation").is_number_unsigned() ||
        (json.at("generation").is_number_integer() && json.at("generation").get<int64_t>() >= 0)))
    return Error(
        Errc::corrupt,
        fmt::format("ownership record {}: \"generation\" must be an unsigned number", path));
  out.generation = json.at("generation").get<uint64_t>();
  auto owner = read_optional_string(json, "owner", path);
  if (!owner) return std::move(owner).error();
  out.owner = std::move(owner).value();
  auto released_by = read_optional_string(json, "released-by", path);
  if (!released_by) return std::move(released_by).error();
  out.released_by = std::move(released_by).value();
  if (json.contains("changed-by") && json.at("changed-by").is_string())
    out.changed_by = json.at("changed-by").get<std::string>();
  if (out.owner && out.released_by)
    return Error(Errc::corrupt, fmt::format("ownership record {}: names both an owner ({}) and a "
                                            "releasing host ({})",
                                            path, *out.owner, *out.released_by));
  return out;
}

Result<OwnershipRecord> OwnershipRecord::decode(std::string_view text, std::string_view path) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    return Error(Errc::corrupt, fmt::format("ownership record {}: not JSON ({} bytes: \"{}\")",
                                            path, text.size(), text.substr(0, 80)));
  return from_json(json, path);
}

std::string OwnershipRecord::describe() const {
  if (owner) return "owned by " + *owner;
  if (released_by) return "released by " + *released_by;
  return generation == 0 ? "never owned" : "owned by nobody";
}

}  // namespace ferry::nfs
