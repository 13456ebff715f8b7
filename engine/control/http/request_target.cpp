#include "engine/control/http/request_target.h"

#include <fmt/format.h>

namespace ferry {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      int low = high >= 0 ? hex_value(text[i + 2]) : -1;
      if (low < 0)
        return Error(Errc::invalid_argument,
                     fmt::format("'{}': bad percent escape at offset {}", text, i));
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<RequestTarget> parse_request_target(std::string_view target) {
  RequestTarget parsed;
  auto question = target.find('?');
  parsed.path = std::string(target.substr(0, question));
  if (question == std::string_view::npos) return parsed;
  std::string_view rest = target.substr(question + 1);
  // A fragment is never sent by conforming clients; drop it rather than fold it into a value.
  rest = rest.substr(0, rest.find('#'));
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto equals = pair.find('=');
    auto key = percent_decode(pair.substr(0, equals), true);
    if (!key) return std::move(key).error().within("query parameter name");
    std::string value;
    if (equals != std::string_view::npos) {
      auto decoded = percent_decode(pair.substr(equals + 1), true);
      if (!decoded) return std::move(decoded).error().within("query parameter '" + *key + "'");
      value = std::move(*decoded);
    }
    if (key->empty())
      return Error(Errc::invalid_argument,
                   fmt::format("query parameter '{}' has no name", std::string(pair)));
    parsed.query[std::move(*key)] = std::move(value);
  }
  return parsed;
}

}  // namespace ferry
