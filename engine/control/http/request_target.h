// Splits an HTTP request target ("/vms/web-1/migrate?dry_run=1&note=a%20b") into its path and its
// percent-decoded query parameters. Pure: no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "engine/error/error.h"

namespace ferry {

struct RequestTarget {
  std::string path;  // before '?', as sent (not decoded, so "%2F" cannot change routing)
  std::map<std::string, std::string> query;
};

// Decodes %XX escapes; with plus_is_space, '+' becomes ' ' (form encoding, used in queries).
Result<std::string> percent_decode(std::string_view text, bool plus_is_space);

// "a=1&b=&c" -> {a:"1", b:"", c:""}; empty pairs ("a=1&&b=2") are skipped; a repeated key keeps
// its last value. Errc::invalid_argument names the bad parameter.
Result<RequestTarget> parse_request_target(std::string_view target);

}  // namespace ferry
