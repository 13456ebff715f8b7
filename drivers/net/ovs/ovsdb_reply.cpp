#include "drivers/net/ovs/ovsdb_reply.h"

#include <fmt/format.h>

#include "drivers/net/ovs/ovsdb_operations.h"

namespace ferry::ovs {

namespace {

std::string string_member(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

Errc transact_errc(std::string_view error) {
  if (error == "timed out") return Errc::timeout;
  if (error == "resources exhausted") return Errc::no_space;
  if (error == "I/O error") return Errc::io;
  // constraint violation, referential integrity violation, domain error, range error, not owner,
  // not allowed, syntax error, duplicate uuid-name, aborted: the request does not fit the database.
  return Errc::invalid_argument;
}

}  // namespace

Result<std::optional<TransactFailure>> find_transact_failure(const Json& operations,
                                                             const Json& result) {
  if (!operations.is_array()) {
    return Error(Errc::invalid_argument, "transact operations must be a JSON array");
  }
  const std::size_t count = operations.size();
  if (!result.is_array() || result.size() < count || result.size() > count + 1) {
    return Error(Errc::protocol,
                 fmt::format("transact reply: expected a result array of {} or {} elements, got {}",
                             count, count + 1, result.dump().substr(0, 200)));
  }
  for (std::size_t i = 0; i < result.size(); ++i) {
    const Json& element = result[i];
    // Operations after a failed one are not attempted and read null; a null before any error breaks
    // the protocol.
    if (element.is_object() && element.contains("error")) {
      TransactFailure failure;
      failure.op_index = i;
      failure.op_count = count;
      failure.op_label = i < count ? operation_label(operations[i]) : "commit";
      failure.error = string_member(element, "error");
      failure.details = string_member(element, "details");
      return std::optional<TransactFailure>(std::move(failure));
    }
    if (!element.is_object()) {
      return Error(Errc::protocol,
                   fmt::format("transact reply: result {} of {} is {} without an earlier error", i,
                               count, element.dump().substr(0, 100)));
    }
  }
  if (result.size() == count + 1) {
    return Error(Errc::protocol, "transact reply: an extra result element that is not an error");
  }
  return std::optional<TransactFailure>();
}

Error transact_error(std::string_view where, const TransactFailure& failure) {
  std::string what = failure.commit_failed()
                         ? fmt::format("transaction on {}: commit of {} operations failed", where,
                                       failure.op_count)
                         : fmt::format("transaction on {}: operation {} of {} ({}) failed", where,
                                       failure.op_index, failure.op_count, failure.op_label);
  std::string message = what + ": " + (failure.error.empty() ? "unspecified error" : failure.error);
  if (!failure.details.empty()) message += ": " + failure.details;
  return Error(transact_errc(failure.error), std::move(message));
}

Error rpc_error(std::string_view request, const Json& error) {
  std::string kind = error.is_object()   ? string_member(error, "error")
                     : error.is_string() ? error.get<std::string>()
                                         : error.dump();
  std::string details = error.is_object() ? string_member(error, "details") : std::string();
  std::string message = fmt::format("ovsdb {} refused: {}", request, kind);
  if (!details.empty()) message += ": " + details;
  return Error(kind == "unknown database" ? Errc::not_found : Errc::protocol, std::move(message));
}

}  // namespace ferry::ovs
