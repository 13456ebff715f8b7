// The delta page encoding: a page as the byte runs that changed since the copy the receiver
// already holds (QEMU's XBZRLE idea, with this protocol's own framing).
//
// Data: a sequence of pairs {skip uleb128, length uleb128, length bytes}. Starting at offset 0,
// each pair leaves `skip` bytes as they are, then overwrites the next `length` bytes with the
// bytes given. Bytes after the last pair are unchanged. An unchanged page is the single pair
// {4096, 0}. uleb128 values are at most 2 bytes and at most 4096 here.
#pragma once

#include <cstddef>
#include <span>

#include "engine/error/error.h"

namespace ferry::wire {

// Encodes `current` against `previous` into `out`; returns the bytes written, or 0 when the delta
// does not fit in out.size() (the caller then sends the page another way). Stops as soon as it
// knows it will not fit, so a page that changed everywhere costs little.
std::size_t encode_page_delta(const std::byte* previous, const std::byte* current,
                              std::span<std::byte> out);

// Applies `delta` to the kPageSize bytes at `page` (which must hold the copy it was made
// against). Errc::corrupt naming the offending byte offset when a run would leave the page, a
// number is malformed, or the data ends inside a pair; the page content is then unspecified.
Result<void> apply_page_delta(std::span<const std::byte> delta, std::byte* page);

}  // namespace ferry::wire
