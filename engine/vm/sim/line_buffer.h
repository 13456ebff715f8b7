// Splits a byte stream into '\n'-terminated lines (the control socket's framing). Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::sim {

class LineBuffer {
 public:
  void append(std::string_view bytes) { pending_.append(bytes); }
  // The next complete line without its '\n' (a trailing '\r' is dropped too), if there is one.
  std::optional<std::string> pop_line() {
    const std::size_t end = pending_.find('\n');
    if (end == std::string::npos) return std::nullopt;
    std::string line = pending_.substr(0, end);
    pending_.erase(0, end + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  // Bytes received after the last complete line.
  std::size_t pending() const { return pending_.size(); }

 private:
  std::string pending_;
};

}  // namespace ferry::sim
