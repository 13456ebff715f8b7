// Payloads of the control connection (besides HELLO, see hello.h). Each has a kType, an encode()
// overload and a decode_<name>() that rejects truncated, oversized and trailing bytes with
// Errc::corrupt naming the record and the field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/wire/record_type.h"

namespace ferry::wire {

// ferry::Errc travels as its integer value. A code this build does not know decodes as the
// record's fallback (REJECT: rejected, ABORT: peer_abort) with "(peer error code N)" in front of
// the message.
uint16_t errc_to_wire(Errc code);

// Source → destination: the VM spec, memory layout, settings and session id (the engine's JSON).
struct Offer {
  static constexpr RecordType kType = RecordType::offer;
  nlohmann::json document;
  bool operator==(const Offer&) const = default;
};

// Destination → source: the destination is prepared (its JSON: remapped resources, limits).
struct Accept {
  static constexpr RecordType kType = RecordType::accept;
  nlohmann::json document;
  bool operator==(const Accept&) const = default;
};

// Destination → source: the destination refuses; nothing was touched on the source.
struct Reject {
  static constexpr RecordType kType = RecordType::reject;
  Errc code = Errc::rejected;
  std::string message;
  bool operator==(const Reject&) const = default;
};

// Source → destination: pre-copy round `round` starts on the data connections.
struct RoundBegin {
  static constexpr RecordType kType = RecordType::round_begin;
  uint32_t round = 0;
  bool operator==(const RoundBegin&) const = default;
};

// Source → destination: every stream has fenced round `round`; totals over all streams.
struct RoundEnd {
  static constexpr RecordType kType = RecordType::round_end;
  uint32_t round = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;
  bool operator==(const RoundEnd&) const = default;
};

// Source → destination: one chunk of QEMU's device state; chunks arrive in order and
// offset + data.size() <= total.
struct DeviceState {
  static constexpr RecordType kType = RecordType::device_state;
  uint64_t offset = 0;
  uint64_t total = 0;
  std::vector<std::byte> data;
  bool operator==(const DeviceState&) const = default;
};

// Source → destination: the VM is paused, every page and the device state were sent.
struct Switchover {
  static constexpr RecordType kType = RecordType::switchover;
  uint32_t rounds = 0;
  uint64_t total_pages = 0;
  bool operator==(const Switchover&) const = default;
};

// Destination → source: every stream is drained and the device state is loaded.
struct Ready {
  static constexpr RecordType kType = RecordType::ready;
  bool operator==(const Ready&) const = default;
};

// Destination → source: the VM runs on the destination (its JSON: statistics, memory hash).
struct Resumed {
  static constexpr RecordType kType = RecordType::resumed;
  nlohmann::json document;
  bool operator==(const Resumed&) const = default;
};

// Either side, at any time: the job is over and must roll back.
struct Abort {
  static constexpr RecordType kType = RecordType::abort;
  Errc code = Errc::peer_abort;
  std::string phase;  // where the sender was: "precopy round 3", "switchover", ...
  std::string message;
  bool operator==(const Abort&) const = default;
};

struct Ping {
  static constexpr RecordType kType = RecordType::ping;
  uint64_t nonce = 0;
  bool operator==(const Ping&) const = default;
};

struct Pong {
  static constexpr RecordType kType = RecordType::pong;
  uint64_t nonce = 0;  // the nonce of the PING it answers
  bool operator==(const Pong&) const = default;
};

// Source → destination on a new control connection: what became of `session`?
struct Query {
  static constexpr RecordType kType = RecordType::query;
  std::string session;
  bool operator==(const Query&) const = default;
};

// Destination → source: the answer to QUERY (the engine's JSON).
struct Status {
  static constexpr RecordType kType = RecordType::status;
  nlohmann::json document;
  bool operator==(const Status&) const = default;
};

std::vector<std::byte> encode(const Offer& r);
std::vector<std::byte> encode(const Accept& r);
std::vector<std::byte> encode(const Reject& r);
std::vector<std::byte> encode(const RoundBegin& r);
std::vector<std::byte> encode(const RoundEnd& r);
std::vector<std::byte> encode(const DeviceState& r);
std::vector<std::byte> encode(const Switchover& r);
std::vector<std::byte> encode(const Ready& r);
std::vector<std::byte> encode(const Resumed& r);
std::vector<std::byte> encode(const Abort& r);
std::vector<std::byte> encode(const Ping& r);
std::vector<std::byte> encode(const Pong& r);
std::vector<std::byte> encode(const Query& r);
std::vector<std::byte> encode(const Status& r);

Result<Offer> decode_offer(std::span<const std::byte> payload);
Result<Accept> decode_accept(std::span<const std::byte> payload);
Result<Reject> decode_reject(std::span<const std::byte> payload);
Result<RoundBegin> decode_round_begin(std::span<const std::byte> payload);
Result<RoundEnd> decode_round_end(std::span<const std::byte> payload);
Result<DeviceState> decode_device_state(std::span<const std::byte> payload);
Result<Switchover> decode_switchover(std::span<const std::byte> payload);
Result<Ready> decode_ready(std::span<const std::byte> payload);
Result<Resumed> decode_resumed(std::span<const std::byte> payload);
Result<Abort> decode_abort(std::span<const std::byte> payload);
Result<Ping> decode_ping(std::span<const std::byte> payload);
Result<Pong> decode_pong(std::span<const std::byte> payload);
Result<Query> decode_query(std::span<const std::byte> payload);
Result<Status> decode_status(std::span<const std::byte> payload);

}  // namespace ferry::wire
