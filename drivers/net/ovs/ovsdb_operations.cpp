#include "drivers/net/ovs/ovsdb_operations.h"

#include <fmt/format.h>

namespace ferry::ovs {

namespace datum {

Json uuid(std::string_view uuid) {
  return Json::array({"uuid", uuid});
}

Json named_uuid(std::string_view uuid_name) {
  return Json::array({"named-uuid", uuid_name});
}

Json set(std::vector<Json> elements) {
  return Json::array({"set", Json(std::move(elements))});
}

Json map(const std::map<std::string, std::string>& entries) {
  Json pairs = Json::array();
  for (const auto& [key, value] : entries) pairs.push_back(Json::array({key, value}));
  return Json::array({"map", std::move(pairs)});
}

Json empty_set() {
  return Json::array({"set", Json::array()});
}

std::vector<Json> set_elements(const Json& value) {
  if (value.is_array() && value.size() == 2 && value[0] == "set" && value[1].is_array()) {
    return value[1].get<std::vector<Json>>();
  }
  return {value};
}

std::optional<Json> optional_atom(const Json& value) {
  auto elements = set_elements(value);
  if (elements.empty()) return std::nullopt;
  return std::move(elements.front());
}

Result<std::map<std::string, std::string>> string_map(const Json& value) {
  if (!value.is_array() || value.size() != 2 || value[0] != "map" || !value[1].is_array()) {
    return Error(Errc::protocol, "expected an OVSDB map [\"map\", [...]], got " + value.dump());
  }
  std::map<std::string, std::string> entries;
  for (const Json& pair : value[1]) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
      return Error(Errc::protocol,
                   "expected a string-to-string pair in an OVSDB map, got " + pair.dump());
    }
    entries.emplace(pair[0].get<std::string>(), pair[1].get<std::string>());
  }
  return entries;
}

Result<std::string> uuid_string(const Json& value) {
  if (!value.is_array() || value.size() != 2 || value[0] != "uuid" || !value[1].is_string()) {
    return Error(Errc::protocol, "expected an OVSDB uuid [\"uuid\", \"…\"], got " + value.dump());
  }
  return value[1].get<std::string>();
}

}  // namespace datum

Json condition(std::string_view column, std::string_view function, Json value) {
  return Json::array({column, function, std::move(value)});
}

Json mutation(std::string_view column, std::string_view mutator, Json value) {
  return Json::array({column, mutator, std::move(value)});
}

namespace op {

Json insert(std::string_view table, Json row, std::optional<std::string_view> uuid_name) {
  Json operation = {{"op", "insert"}, {"table", table}, {"row", std::move(row)}};
  if (uuid_name) operation["uuid-name"] = *uuid_name;
  return operation;
}

Json update(std::string_view table, Json where, Json row) {
  return {{"op", "update"}, {"table", table}, {"where", std::move(where)}, {"row", std::move(row)}};
}

Json mutate(std::string_view table, Json where, Json mutations) {
  return {{"op", "mutate"},
          {"table", table},
          {"where", std::move(where)},
          {"mutations", std::move(mutations)}};
}

Json delete_rows(std::string_view table, Json where) {
  return {{"op", "delete"}, {"table", table}, {"where", std::move(where)}};
}

Json select(std::string_view table, Json where, std::vector<std::string> columns) {
  return {{"op", "select"},
          {"table", table},
          {"where", std::move(where)},
          {"columns", std::move(columns)}};
}

Json wait(std::string_view table, Json where, std::vector<std::string> columns, bool until_equal,
          Json rows, std::optional<std::int64_t> timeout_ms) {
  Json operation = {{"op", "wait"},
                    {"table", table},
                    {"where", std::move(where)},
                    {"columns", std::move(columns)},
                    {"until", until_equal ? "==" : "!="},
                    {"rows", std::move(rows)}};
  if (timeout_ms) operation["timeout"] = *timeout_ms;
  return operation;
}

Json comment(std::string_view text) {
  return {{"op", "comment"}, {"comment", text}};
}

}  // namespace op

std::string operation_label(const Json& operation) {
  if (!operation.is_object()) return "malformed operation";
  const auto name = operation.find("op");
  const auto table = operation.find("table");
  std::string label = name != operation.end() && name->is_string() ? name->get<std::string>() : "?";
  if (table != operation.end() && table->is_string()) label += " " + table->get<std::string>();
  return label;
}

}  // namespace ferry::ovs
