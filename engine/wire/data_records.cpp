#include "engine/wire/data_records.h"

#include <fmt/format.h>

#include "engine/wire/payload_reader.h"
#include "engine/wire/payload_writer.h"

namespace ferry::wire {
namespace {

template <typename FenceLike>
std::vector<std::byte> encode_fence_fields(const FenceLike& f) {
  PayloadWriter w(24);
  w.u32(f.round);
  w.u32(f.stream);
  w.u64(f.pages);
  w.u64(f.bytes);
  return std::move(w).take();
}

template <typename FenceLike>
Result<FenceLike> decode_fence_fields(std::span<const std::byte> payload) {
  PayloadReader r(payload, FenceLike::kType);
  FenceLike f;
  f.round = r.u32("round");
  f.stream = r.u32("stream");
  f.pages = r.u64("pages");
  f.bytes = r.u64("bytes");
  return r.finish(f);
}

}  // namespace

std::vector<std::byte> encode(const StreamHello& r) {
  PayloadWriter w(4 + r.session.size() + 8);
  w.string(r.session);
  w.u32(r.stream_index);
  w.u32(r.stream_count);
  return std::move(w).take();
}

std::vector<std::byte> encode(const Fence& r) {
  return encode_fence_fields(r);
}
std::vector<std::byte> encode(const FenceAck& r) {
  return encode_fence_fields(r);
}

Result<StreamHello> decode_stream_hello(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::stream_hello);
  StreamHello v;
  v.session = r.string("session");
  v.stream_index = r.u32("stream_index");
  v.stream_count = r.u32("stream_count");
  if (!r.failed() && (v.stream_count == 0 || v.stream_count > kMaxStreams)) {
    r.fail(Errc::corrupt, "stream_count",
           fmt::format("{} streams, allowed 1..{}", v.stream_count, kMaxStreams));
  }
  if (!r.failed() && v.stream_index >= v.stream_count) {
    r.fail(Errc::corrupt, "stream_index",
           fmt::format("stream {} of {} (indexes start at 0)", v.stream_index, v.stream_count));
  }
  return r.finish(std::move(v));
}

Result<Fence> decode_fence(std::span<const std::byte> payload) {
  return decode_fence_fields<Fence>(payload);
}

Result<FenceAck> decode_fence_ack(std::span<const std::byte> payload) {
  return decode_fence_fields<FenceAck>(payload);
}

}  // namespace ferry::wire
