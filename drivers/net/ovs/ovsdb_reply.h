// Reads the failure out of OVSDB replies: JSON-RPC errors and per-operation transact errors. Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::ovs {

using Json = nlohmann::json;

// The operation a transaction failed on (RFC 7047 §4.1.3).
struct TransactFailure {
  std::size_t op_index = 0;  // index into the operations sent; == their count for a commit failure
  std::size_t op_count = 0;  // how many operations were sent
  std::string op_label;      // "wait Bridge", "mutate Open_vSwitch", or "commit"
  std::string error;         // RFC 7047 error string: "constraint violation", "timed out", ...
  std::string details;       // the server's explanation, may be empty

  bool commit_failed() const { return op_index == op_count; }
};

// Checks a transact reply's "result" against the `operations` (a JSON array) that were sent.
// nullopt when every operation succeeded; an Error (Errc::protocol) when `result` is not a result
// array for them.
Result<std::optional<TransactFailure>> find_transact_failure(const Json& operations,
                                                             const Json& result);

// The Error for a failed transaction, its Errc chosen from the OVSDB error string. `where` names
// the database and server: "transaction on Open_vSwitch at unix:/run/db.sock: operation 2 of 6
// (mutate Bridge) failed: constraint violation: …".
Error transact_error(std::string_view where, const TransactFailure& failure);

// The Error for a JSON-RPC reply whose "error" member is not null; `error` is a string or an object
// {"error": …, "details": …}. `request` names the call: "get_schema on unix:/run/db.sock".
// "unknown database" maps to Errc::not_found, the rest to Errc::protocol.
Error rpc_error(std::string_view request, const Json& error);

}  // namespace ferry::ovs
