// Splits a byte stream of concatenated JSON texts into whole messages. Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error/error.h"

namespace ferry::ovs {

// OVSDB (RFC 7047) sends JSON-RPC messages back to back with no length prefix or delimiter, so the
// receiver finds where one ends by tracking {} and [] nesting outside strings. The splitter only
// frames; the JSON parser validates each message. Every top-level text must be an object or an
// array.
class JsonStreamSplitter {
 public:
  static constexpr std::size_t kDefaultMaxMessageBytes = std::size_t{64} << 20;
  static constexpr std::size_t kMaxDepth = 1024;

  explicit JsonStreamSplitter(std::size_t max_message_bytes = kDefaultMaxMessageBytes)
      : max_message_bytes_(max_message_bytes) {}

  // Consumes `bytes` and appends every message it completes to `messages`, in stream order.
  // Messages completed before a framing error are still appended. After an error the splitter
  // refuses all input.
  Result<void> feed(std::string_view bytes, std::vector<std::string>& messages);

  // Bytes of an incomplete message held until more input arrives.
  std::size_t buffered_bytes() const { return partial_.size(); }
  // Bytes consumed since construction; error messages give stream offsets.
  std::uint64_t consumed_bytes() const { return consumed_; }

 private:
  Error fail(Error error);

  std::size_t max_message_bytes_;
  std::string partial_;
  std::size_t depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  std::uint64_t consumed_ = 0;
  std::optional<Error> failed_;
};

}  // namespace ferry::ovs
