#include "engine/migration/control_channel.h"

#include <fmt/format.h>

#include "engine/wire/hello.h"

namespace ferry {

namespace {
constexpr const char* kAgentVersion = "ferry 0.1.0";

wire::Hello our_hello(const std::string& host, uint16_t only_version) {
  wire::Hello hello;
  if (only_version != 0) hello.min_version = hello.max_version = only_version;
  // Every agent decodes every page encoding, so it announces them all; what a source sends is its
  // own choice among those the destination announced (PageStreamSender::set_compression).
  hello.capabilities = wire::Capability::zero_pages | wire::Capability::raw_pages |
                       wire::Capability::lz4 | wire::Capability::zstd | wire::Capability::delta |
                       wire::Capability::memory_hash;
  hello.host = host;
  hello.agent_version = kAgentVersion;
  return hello;
}
}  // namespace

awaitable<Result<void>> ControlChannel::send(wire::RecordType type,
                                             std::span<const std::byte> payload) {
  co_return co_await connection_.write(wire::type_number(type), payload, timeout_);
}

awaitable<Result<void>> ControlChannel::send_json(wire::RecordType type,
                                                  const nlohmann::json& json) {
  std::vector<std::byte> payload;
  switch (type) {
    case wire::RecordType::offer:
      payload = wire::encode(wire::Offer{json});
      break;
    case wire::RecordType::accept:
      payload = wire::encode(wire::Accept{json});
      break;
    case wire::RecordType::resumed:
      payload = wire::encode(wire::Resumed{json});
      break;
    case wire::RecordType::status:
      payload = wire::encode(wire::Status{json});
      break;
    default:
      co_return Error(Errc::internal,
                      fmt::format("{} does not carry JSON", wire::record_type_name(type)));
  }
  co_return co_await send(type, payload);
}

awaitable<Result<void>> ControlChannel::send_abort(const Error& error, std::string_view phase) {
  // g++ 12 destroys non-trivial temporaries of a co_await expression twice (seen as a double
  // free here): every payload is built in a statement of its own first.
  const auto payload = wire::encode(wire::Abort{error.code(), std::string(phase), error.message()});
  co_return co_await send(wire::RecordType::abort, payload);
}

awaitable<Result<void>> ControlChannel::send_reject(const Error& error) {
  const auto payload = wire::encode(wire::Reject{error.code(), error.message()});
  co_return co_await send(wire::RecordType::reject, payload);
}

awaitable<Result<uint16_t>> ControlChannel::exchange_hello(const std::string& host,
                                                           uint16_t only_version) {
  const wire::Hello ours = our_hello(host, only_version);
  const auto hello = wire::encode(ours);
  if (auto sent = co_await send(wire::RecordType::hello, hello); !sent)
    co_return std::move(sent).error();
  auto record = co_await read(timeout_);
  if (!record) co_return std::move(record).error();
  if (record->type != wire::type_number(wire::RecordType::hello))
    co_return Error(Errc::protocol, fmt::format("{}: expected HELLO, got {}", connection_.label(),
                                                wire::record_type_name(record->type)));
  auto theirs = wire::decode_hello(record->payload);
  if (!theirs) co_return std::move(theirs).error().within(connection_.label());
  peer_capabilities_ = theirs->capabilities;
  auto version = wire::negotiate_version(ours, *theirs);
  if (!version) co_return std::move(version).error().within(connection_.label());
  co_return *version;
}

awaitable<Result<uint16_t>> ControlChannel::answer_hello(const wire::Hello& theirs,
                                                         const std::string& host,
                                                         uint16_t only_version) {
  const wire::Hello ours = our_hello(host, only_version);
  const auto hello = wire::encode(ours);
  if (auto sent = co_await send(wire::RecordType::hello, hello); !sent)
    co_return std::move(sent).error();
  peer_capabilities_ = theirs.capabilities;
  auto version = wire::negotiate_version(ours, theirs);
  if (!version) co_return std::move(version).error().within(connection_.label());
  co_return *version;
}

Error ControlChannel::error_from_abort(std::span<const std::byte> payload,
                                       const std::string& peer) {
  auto abort = wire::decode_abort(payload);
  if (!abort)
    return Error(Errc::peer_abort,
                 fmt::format("{} aborted (unreadable reason: {})", peer, abort.error().message()));
  return Error(Errc::peer_abort,
               fmt::format("{} aborted in {}: {}", peer, abort->phase, abort->message));
}

awaitable<Result<Record>> ControlChannel::read(std::chrono::milliseconds timeout) {
  auto record = co_await connection_.read(timeout);
  if (!record) co_return std::move(record).error();
  if (record->type == wire::type_number(wire::RecordType::abort))
    co_return error_from_abort(record->payload, connection_.label());
  co_return *record;
}

Result<nlohmann::json> ControlChannel::parse_json(std::span<const std::byte> payload,
                                                  std::string_view record) {
  // Every JSON-carrying record has the same layout; OFFER's decoder reads it.
  auto decoded = wire::decode_offer(payload);
  if (!decoded)
    return Error(Errc::protocol, fmt::format("{}: {}", record, decoded.error().message()));
  return std::move(decoded->document);
}

awaitable<Result<nlohmann::json>> ControlChannel::expect_json(wire::RecordType type,
                                                              std::chrono::milliseconds timeout) {
  auto record = co_await read(timeout);
  if (!record) co_return std::move(record).error();
  if (record->type == wire::type_number(wire::RecordType::reject)) {
    auto reject = wire::decode_reject(record->payload);
    if (!reject) co_return std::move(reject).error();
    co_return Error(reject->code == Errc::no_space ? Errc::no_space : Errc::rejected,
                    fmt::format("destination refused: {}", reject->message));
  }
  if (record->type != wire::type_number(type))
    co_return Error(Errc::protocol, fmt::format("{}: expected {}, got {}", connection_.label(),
                                                wire::record_type_name(type),
                                                wire::record_type_name(record->type)));
  co_return parse_json(record->payload, wire::record_type_name(type));
}

awaitable<Result<nlohmann::json>> ControlChannel::expect_accept(std::chrono::milliseconds timeout) {
  co_return co_await expect_json(wire::RecordType::accept, timeout);
}

awaitable<Result<nlohmann::json>> ControlChannel::expect_resumed(
    std::chrono::milliseconds timeout) {
  co_return co_await expect_json(wire::RecordType::resumed, timeout);
}

awaitable<Result<nlohmann::json>> ControlChannel::expect_status() {
  co_return co_await expect_json(wire::RecordType::status, timeout_);
}

awaitable<Result<nlohmann::json>> ControlChannel::query_session(const std::string& session) {
  const auto query = wire::encode(wire::Query{session});
  if (auto sent = co_await send(wire::RecordType::query, query); !sent)
    co_return std::move(sent).error();
  co_return co_await expect_status();
}

}  // namespace ferry
