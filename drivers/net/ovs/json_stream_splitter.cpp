#include "drivers/net/ovs/json_stream_splitter.h"

#include <fmt/format.h>

namespace ferry::ovs {

namespace {

bool is_json_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

Error JsonStreamSplitter::fail(Error error) {
  failed_ = error;
  partial_.clear();
  return error;
}

Result<void> JsonStreamSplitter::feed(std::string_view bytes, std::vector<std::string>& messages) {
  if (failed_) return Error(failed_->code(), "JSON stream already failed: " + failed_->message());

  // [segment_start, i) is the part of the current message inside this chunk; it is appended to
  // partial_ in one piece rather than byte by byte.
  std::size_t segment_start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    const std::uint64_t offset = consumed_ + i;
    if (depth_ == 0) {
      if (is_json_whitespace(c)) continue;
      if (c != '{' && c != '[') {
        return fail(Error(Errc::protocol,
                          fmt::format("JSON stream offset {}: byte 0x{:02x} where a message should "
                                      "start (expected '{{' or '[')",
                                      offset, static_cast<unsigned char>(c))));
      }
      depth_ = 1;
      segment_start = i;
      continue;
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (++depth_ > kMaxDepth) {
        return fail(Error(Errc::protocol,
                          fmt::format("JSON stream offset {}: message nests deeper than {} levels",
                                      offset, kMaxDepth)));
      }
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        const std::size_t length = partial_.size() + (i + 1 - segment_start);
        if (length > max_message_bytes_) {
          return fail(Error(Errc::protocol,
                            fmt::format("JSON stream offset {}: message of {} bytes exceeds the "
                                        "limit of {} bytes",
                                        offset, length, max_message_bytes_)));
        }
        partial_.append(bytes.substr(segment_start, i + 1 - segment_start));
        messages.push_back(std::move(partial_));
        partial_.clear();
      }
    }
  }
  if (depth_ > 0) {
    const std::size_t tail = bytes.size() - segment_start;
    if (partial_.size() + tail > max_message_bytes_) {
      return fail(
          Error(Errc::protocol,
                fmt::format(
                    "JSON stream offset {}: incomplete message of {} bytes exceeds the limit of {} "
                    "bytes",
                    consumed_ + bytes.size(), partial_.size() + tail, max_message_bytes_)));
    }
    partial_.append(bytes.substr(segment_start));
  }
  consumed_ += bytes.size();
  return ok();
}

}  // namespace ferry::ovs
