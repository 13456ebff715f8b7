// UTF-8 checks for the string fields of records: text from a peer is validated, text we send is
// made valid so a REJECT or ABORT always goes out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::wire {

// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Offset of the first byte that does not start a well-formed sequence; text.size() when valid.
std::size_t first_invalid_utf8(std::string_view text);

// Replaces each ill-formed sequence with U+FFFD.
std::string to_valid_utf8(std::string_view text);

// The longest prefix of valid UTF-8 `text` that has at most `max_bytes` bytes and does not split a
// character.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

}  // namespace ferry::wire
