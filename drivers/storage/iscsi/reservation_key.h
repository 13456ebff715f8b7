// SCSI-3 persistent reservation keys: one per host, derived from its initiator name unless the host
// configuration sets one, so every I_T nexus of a host registers the same key and a PREEMPT of that
// key fences all of them at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::iscsi {

// 64-bit FNV-1a of the initiator name; never 0 (key 0 means "no key" in PERSISTENT RESERVE OUT).
std::uint64_t reservation_key_for(std::string_view initiator);

// "0x0123456789abcdef": keys travel as strings because JSON numbers lose bits above 2^53.
std::string format_reservation_key(std::uint64_t key);

// Accepts "0x..." (hex) or a JSON number; refuses 0. `where` names the key in the message.
Result<std::uint64_t> parse_reservation_key(const nlohmann::json& value, std::string_view where);

// Name of a PERSISTENT RESERVE type code, for messages ("WRITE EXCLUSIVE - REGISTRANTS ONLY").
std::string reservation_type_name(int type);

}  // namespace ferry::iscsi
