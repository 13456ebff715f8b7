#include "engine/wire/record_type.h"

#include <fmt/format.h>

namespace ferry::wire {

std::string_view record_type_name(uint16_t type) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::hello:
      return "HELLO";
    case RecordType::offer:
      return "OFFER";
    case RecordType::accept:
      return "ACCEPT";
    case RecordType::reject:
      return "REJECT";
    case RecordType::round_begin:
      return "ROUND_BEGIN";
    case RecordType::round_end:
      return "ROUND_END";
    case RecordType::device_state:
      return "DEVICE_STATE";
    case RecordType::switchover:
      return "SWITCHOVER";
    case RecordType::ready:
      return "READY";
    case RecordType::resumed:
      return "RESUMED";
    case RecordType::abort:
      return "ABORT";
    case RecordType::ping:
      return "PING";
    case RecordType::pong:
      return "PONG";
    case RecordType::query:
      return "QUERY";
    case RecordType::status:
      return "STATUS";
    case RecordType::stream_hello:
      return "STREAM_HELLO";
    case RecordType::pages:
      return "PAGES";
    case RecordType::fence:
      return "FENCE";
    case RecordType::fence_ack:
      return "FENCE_ACK";
  }
  return type == kInvalidRecordType ? "invalid" : "unknown";
}

bool is_known_type(uint16_t type) {
  const std::string_view name = record_type_name(type);
  return name != "unknown" && name != "invalid";
}

std::string describe_record_type(uint16_t type) {
  if (is_known_type(type)) return fmt::format("{} (0x{:04x})", record_type_name(type), type);
  if (type == kInvalidRecordType) return "invalid type 0x0000";
  return fmt::format("unknown {} type 0x{:04x}", is_optional_type(type) ? "optional" : "mandatory",
                     type);
}

Channel channel_of(RecordType type) {
  return type_number(type) >= 0x0100 ? Channel::data : Channel::control;
}

std::string_view channel_name(Channel channel) {
  return channel == Channel::data ? "data connection" : "control connection";
}

Result<RecordDisposition> classify_record_type(uint16_t type, Channel channel) {
  if (type == kInvalidRecordType) {
    return Error(Errc::corrupt,
                 fmt::format("record type 0 is invalid (on the {})", channel_name(channel)));
  }
  if (!is_known_type(type)) {
    if (is_optional_type(type)) return RecordDisposition::skip;
    return Error(Errc::protocol,
                 fmt::format("{} (decimal {}) on the {}: this agent cannot skip it",
                             describe_record_type(type), type, channel_name(channel)));
  }
  const Channel expected = channel_of(static_cast<RecordType>(type));
  if (expected != channel) {
    return Error(Errc::protocol, fmt::format("{} arrived on the {}; it belongs on the {}",
                                             describe_record_type(type), channel_name(channel),
                                             channel_name(expected)));
  }
  return RecordDisposition::handle;
}

}  // namespace ferry::wire
