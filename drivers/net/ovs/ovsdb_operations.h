// Builders for OVSDB values and transact operations in RFC 7047's JSON notation, and readers for
// the values a select returns. Pure: no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::ovs {

using Json = nlohmann::json;

// Values (RFC 7047 §5.1).
namespace datum {

Json uuid(std::string_view uuid);             // ["uuid", "…"]: an existing row
Json named_uuid(std::string_view uuid_name);  // ["named-uuid", name]: a row inserted earlier in the
                                              // same transaction
Json set(std::vector<Json> elements);         // ["set", [...]]
Json map(const std::map<std::string, std::string>& entries);  // ["map", [[k, v], ...]]
Json empty_set();  // ["set", []]: "no value" for an optional column

// A set column holds a bare atom when it has exactly one element; this returns the elements either
// way. A uuid atom ["uuid", "…"] is one element, not a set.
std::vector<Json> set_elements(const Json& value);
// The single value of an optional column (a set of 0 or 1 atoms), or nullopt when it is empty.
std::optional<Json> optional_atom(const Json& value);
// A string-to-string map column, e.g. external_ids. Fails on anything that is not ["map", [[k, v],
// ...]].
Result<std::map<std::string, std::string>> string_map(const Json& value);
// The uuid string of a ["uuid", "…"] atom.
Result<std::string> uuid_string(const Json& value);

}  // namespace datum

// A condition in a "where" clause (RFC 7047 §5.1): [column, function, value]; function is one of
// "==", "!=", "<", "<=", ">", ">=", "includes", "excludes".
Json condition(std::string_view column, std::string_view function, Json value);
// A mutation (RFC 7047 §5.1): [column, mutator, value]; mutator is "+=", "-=", "*=", "/=", "%=",
// "insert" or "delete".
Json mutation(std::string_view column, std::string_view mutator, Json value);

// Operations (RFC 7047 §5.2). `where` is an array of conditions; an empty array matches every row.
namespace op {

Json insert(std::string_view table, Json row, std::optional<std::string_view> uuid_name = {});
Json update(std::string_view table, Json where, Json row);
Json mutate(std::string_view table, Json where, Json mutations);
Json delete_rows(std::string_view table, Json where);
Json select(std::string_view table, Json where, std::vector<std::string> columns);
// Succeeds when the rows matching `where`, projected to `columns`, equal `rows` (until_equal) or
// differ from them; otherwise waits up to timeout_ms (0: fail at once with "timed out"). With
// timeout 0 it is an atomic precondition: the whole transaction is refused when it does not hold.
Json wait(std::string_view table, Json where, std::vector<std::string> columns, bool until_equal,
          Json rows, std::optional<std::int64_t> timeout_ms = 0);
Json comment(std::string_view text);

}  // namespace op

// A short label for error messages: "mutate Bridge", "comment".
std::string operation_label(const Json& operation);

}  // namespace ferry::ovs
