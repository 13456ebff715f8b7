#include "engine/wire/page_delta.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>

#include "engine/memory/page.h"

namespace ferry::wire {
namespace {

// Bytes a uleb128 of v (v <= kPageSize) takes.
std::size_t uleb_size(std::size_t v) {
  return v < 0x80 ? 1 : 2;
}

std::byte* put_uleb(std::byte* out, std::size_t v) {
  if (v < 0x80) {
    *out++ = static_cast<std::byte>(v);
  } else {
    *out++ = static_cast<std::byte>(0x80 | (v & 0x7f));
    *out++ = static_cast<std::byte>(v >> 7);
  }
  return out;
}

// First offset >= pos where the pages differ, or kPageSize. Word at a time: most of a lightly
// modified page is equal.
std::size_t next_difference(const std::byte* a, const std::byte* b, std::size_t pos) {
  while (pos + 8 <= kPageSize) {
    uint64_t x, y;
    std::memcpy(&x, a + pos, 8);
    std::memcpy(&y, b + pos, 8);
    if (x != y) break;
    pos += 8;
  }
  while (pos < kPageSize && a[pos] == b[pos]) ++pos;
  return pos;
}

// End of the changed run starting at pos: it stops at two equal bytes in a row (a single equal
// byte costs less inside the run than a new pair's two numbers) or at the end of the page.
std::size_t run_end(const std::byte* a, const std::byte* b, std::size_t pos) {
  while (pos < kPageSize) {
    if (a[pos] != b[pos]) {
      ++pos;
      continue;
    }
    if (pos + 1 >= kPageSize || a[pos + 1] == b[pos + 1]) break;
    pos += 2;
  }
  return pos;
}

}  // namespace

std::size_t encode_page_delta(const std::byte* previous, const std::byte* current,
                              std::span<std::byte> out) {
  std::byte* o = out.data();
  std::byte* const limit = out.data() + out.size();
  std::size_t pos = 0;
  while (true) {
    const std::size_t start = next_difference(previous, current, pos);
    if (start == kPageSize) break;
    const std::size_t end = run_end(previous, current, start);
    const std::size_t skip = start - pos;
    const std::size_t length = end - start;
    const std::size_t need = uleb_size(skip) + uleb_size(length) + length;
    if (need > static_cast<std::size_t>(limit - o)) return 0;
    o = put_uleb(o, skip);
    o = put_uleb(o, length);
    std::memcpy(o, current + start, length);
    o += length;
    pos = end;
  }
  if (o == out.data()) {
    if (out.size() < 3) return 0;
    o = put_uleb(o, kPageSize);
    o = put_uleb(o, 0);
  }
  return static_cast<std::size_t>(o - out.data());
}

namespace {

Error delta_error(std::size_t at, std::size_t offset, std::string_view what) {
  return Error(Errc::corrupt,
               fmt::format("delta data byte {} (page offset {}): {}", at, offset, what));
}

}  // namespace

Result<void> apply_page_delta(std::span<const std::byte> delta, std::byte* page) {
  std::size_t i = 0;
  std::size_t pos = 0;
  auto read_uleb = [&](std::size_t& v) -> bool {
    if (i >= delta.size()) return false;
    const auto b0 = std::to_integer<std::size_t>(delta[i++]);
    if (b0 < 0x80) {
      v = b0;
      return true;
    }
    if (i >= delta.size()) return false;
    const auto b1 = std::to_integer<std::size_t>(delta[i++]);
    if (b1 >= 0x80) return false;  // a third byte would exceed any page offset
    v = (b0 & 0x7f) | (b1 << 7);
    return true;
  };
  if (delta.empty()) return delta_error(0, 0, "empty");
  while (i < delta.size()) {
    const std::size_t at = i;
    std::size_t skip = 0, length = 0;
    if (!read_uleb(skip)) return delta_error(at, pos, "malformed or truncated skip");
    if (skip > kPageSize - pos)
      return delta_error(at, pos, fmt::format("skip {} leaves the {}-byte page", skip, kPageSize));
    pos += skip;
    const std::size_t length_at = i;
    if (!read_uleb(length)) return delta_error(length_at, pos, "malformed or truncated length");
    if (length > kPageSize - pos)
      return delta_error(length_at, pos,
                         fmt::format("run of {} bytes leaves the {}-byte page", length, kPageSize));
    if (length > delta.size() - i)
      return delta_error(i, pos,
                         fmt::format("run of {} bytes, only {} left", length, delta.size() - i));
    std::memcpy(page + pos, delta.data() + i, length);
    i += length;
    pos += length;
  }
  return ok();
}

}  // namespace ferry::wire
