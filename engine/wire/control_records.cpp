#include "engine/wire/control_records.h"

#include <fmt/format.h>

#include "engine/wire/payload_reader.h"
#include "engine/wire/payload_writer.h"

namespace ferry::wire {
namespace {

// error.h lists Errc::internal last; codes above it come from a newer peer.
constexpr uint16_t kLastKnownErrc = static_cast<uint16_t>(Errc::internal);

struct WireErrc {
  Errc code;
  std::string message_prefix;
};

WireErrc errc_from_wire(uint16_t wire, Errc fallback) {
  if (wire <= kLastKnownErrc) return {static_cast<Errc>(wire), {}};
  return {fallback, fmt::format("(peer error code {}) ", wire)};
}

std::vector<std::byte> encode_json(const nlohmann::json& document) {
  PayloadWriter w;
  w.json(document);
  return std::move(w).take();
}

}  // namespace

uint16_t errc_to_wire(Errc code) {
  return static_cast<uint16_t>(code);
}

std::vector<std::byte> encode(const Offer& r) {
  return encode_json(r.document);
}
std::vector<std::byte> encode(const Accept& r) {
  return encode_json(r.document);
}
std::vector<std::byte> encode(const Resumed& r) {
  return encode_json(r.document);
}
std::vector<std::byte> encode(const Status& r) {
  return encode_json(r.document);
}

std::vector<std::byte> encode(const Reject& r) {
  PayloadWriter w(2 + 4 + r.message.size());
  w.u16(errc_to_wire(r.code));
  w.string(r.message);
  return std::move(w).take();
}

std::vector<std::byte> encode(const RoundBegin& r) {
  PayloadWriter w(4);
  w.u32(r.round);
  return std::move(w).take();
}

std::vector<std::byte> encode(const RoundEnd& r) {
  PayloadWriter w(20);
  w.u32(r.round);
  w.u64(r.pages);
  w.u64(r.bytes);
  return std::move(w).take();
}

std::vector<std::byte> encode(const DeviceState& r) {
  PayloadWriter w(16 + r.data.size());
  w.u64(r.offset);
  w.u64(r.total);
  w.bytes(r.data);
  return std::move(w).take();
}

std::vector<std::byte> encode(const Switchover& r) {
  PayloadWriter w(12);
  w.u32(r.rounds);
  w.u64(r.total_pages);
  return std::move(w).take();
}

std::vector<std::byte> encode(const Ready&) {
  return {};
}

std::vector<std::byte> encode(const Abort& r) {
  PayloadWriter w(2 + 4 + r.phase.size() + 4 + r.message.size());
  w.u16(errc_to_wire(r.code));
  w.string(r.phase);
  w.string(r.message);
  return std::move(w).take();
}

std::vector<std::byte> encode(const Ping& r) {
  PayloadWriter w(8);
  w.u64(r.nonce);
  return std::move(w).take();
}

std::vector<std::byte> encode(const Pong& r) {
  PayloadWriter w(8);
  w.u64(r.nonce);
  return std::move(w).take();
}

std::vector<std::byte> encode(const Query& r) {
  PayloadWriter w(4 + r.session.size());
  w.string(r.session);
  return std::move(w).take();
}

Result<Offer> decode_offer(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::offer);
  Offer v;
  v.document = r.json("json");
  return r.finish(std::move(v));
}

Result<Accept> decode_accept(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::accept);
  Accept v;
  v.document = r.json("json");
  return r.finish(std::move(v));
}

Result<Reject> decode_reject(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::reject);
  const WireErrc code = errc_from_wire(r.u16("code"), Errc::rejected);
  Reject v;
  v.code = code.code;
  v.message = code.message_prefix + r.string("message");
  return r.finish(std::move(v));
}

Result<RoundBegin> decode_round_begin(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::round_begin);
  RoundBegin v;
  v.round = r.u32("round");
  return r.finish(v);
}

Result<RoundEnd> decode_round_end(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::round_end);
  RoundEnd v;
  v.round = r.u32("round");
  v.pages = r.u64("pages");
  v.bytes = r.u64("bytes");
  return r.finish(v);
}

Result<DeviceState> decode_device_state(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::device_state);
  DeviceState v;
  v.offset = r.u64("offset");
  v.total = r.u64("total");
  v.data = r.rest();
  if (!r.failed() && (v.offset > v.total || v.data.size() > v.total - v.offset)) {
    r.fail(Errc::corrupt, "data",
           fmt::format("chunk of {} bytes at offset {} runs past the total of {} bytes",
                       v.data.size(), v.offset, v.total));
  }
  return r.finish(std::move(v));
}

Result<Switchover> decode_switchover(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::switchover);
  Switchover v;
  v.rounds = r.u32("rounds");
  v.total_pages = r.u64("total_pages");
  return r.finish(v);
}

Result<Ready> decode_ready(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::ready);
  return r.finish(Ready{});
}

Result<Resumed> decode_resumed(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::resumed);
  Resumed v;
  v.document = r.json("json");
  return r.finish(std::move(v));
}

Result<Abort> decode_abort(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::abort);
  const WireErrc code = errc_from_wire(r.u16("code"), Errc::peer_abort);
  Abort v;
  v.code = code.code;
  v.phase = r.string("phase");
  v.message = code.message_prefix + r.string("message");
  return r.finish(std::move(v));
}

Result<Ping> decode_ping(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::ping);
  Ping v;
  v.nonce = r.u64("nonce");
  return r.finish(v);
}

Result<Pong> decode_pong(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::pong);
  Pong v;
  v.nonce = r.u64("nonce");
  return r.finish(v);
}

Result<Query> decode_query(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::query);
  Query v;
  v.session = r.string("session");
  return r.finish(std::move(v));
}

Result<Status> decode_status(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::status);
  Status v;
  v.document = r.json("json");
  return r.finish(std::move(v));
}

}  // namespace ferry::wire
