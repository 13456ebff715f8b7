// The typed conversation on a job's control connection, shared by both sides: HELLO exchange,
// JSON-carrying records, and reading "the record we expect next" with ABORT and REJECT turned into
// errors that say what the peer reported.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/transport/record_connection.h"
#include "engine/wire/control_records.h"
#include "engine/wire/hello.h"

namespace ferry {

class ControlChannel {
 public:
  ControlChannel(RecordConnection& connection, std::chrono::milliseconds timeout)
      : connection_(connection), timeout_(timeout) {}

  // Sends our HELLO, reads theirs, returns the version both speak. `only_version` 0 = offer
  // every version we speak; otherwise offer just that one (tests provoke mismatches with it).
  awaitable<Result<uint16_t>> exchange_hello(const std::string& host, uint16_t only_version);
  // The destination's half: the peer's HELLO was read already; answers with ours.
  awaitable<Result<uint16_t>> answer_hello(const wire::Hello& theirs, const std::string& host,
                                           uint16_t only_version);

  // The capability bits of the peer's HELLO (0 before the exchange).
  uint64_t peer_capabilities() const { return peer_capabilities_; }

  awaitable<Result<void>> send(wire::RecordType type, std::span<const std::byte> payload);
  awaitable<Result<void>> send_json(wire::RecordType type, const nlohmann::json& json);
  awaitable<Result<void>> send_abort(const Error& error, std::string_view phase);
  awaitable<Result<void>> send_reject(const Error& error);

  // Reads ACCEPT (its JSON); REJECT and ABORT become errors carrying the peer's reason.
  awaitable<Result<nlohmann::json>> expect_accept(std::chrono::milliseconds timeout);
  awaitable<Result<nlohmann::json>> expect_resumed(std::chrono::milliseconds timeout);
  awaitable<Result<nlohmann::json>> expect_status();
  // QUERY(session) -> STATUS json {"state": "in-progress" | "resumed" | "aborted" | "unknown"}.
  awaitable<Result<nlohmann::json>> query_session(const std::string& session);

  // Reads one record; ABORT from the peer becomes Errc::peer_abort.
  awaitable<Result<Record>> read(std::chrono::milliseconds timeout);

  static Result<nlohmann::json> parse_json(std::span<const std::byte> payload,
                                           std::string_view record);
  static Error error_from_abort(std::span<const std::byte> payload, const std::string& peer);

 private:
  awaitable<Result<nlohmann::json>> expect_json(wire::RecordType type,
                                                std::chrono::milliseconds timeout);

  RecordConnection& connection_;
  std::chrono::milliseconds timeout_;
  uint64_t peer_capabilities_ = 0;
};

}  // namespace ferry
