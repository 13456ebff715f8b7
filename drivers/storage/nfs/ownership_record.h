// The ownership record beside a disk image ("<image>.owner"): which host may run the VM that uses
// the disk. Changed only by compare-and-swap on `generation` (see ownership_store.h). Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::nfs {

struct OwnershipRecord {
  uint64_t generation = 0;                 // 0: the record file does not exist yet
  std::optional<std::string> owner;        // the host that may run the VM; nullopt: none
  std::optional<std::string> released_by;  // the host that last gave it up (when owner is none)
  std::string changed_by;                  // the host that wrote this generation

  // One line of JSON: {"format":1,"generation":3,"owner":"hostb","released-by":null,...}.
  std::string encode() const;
  // `path` names the file in messages; Errc::corrupt when the text is not a record.
  static Result<OwnershipRecord> decode(std::string_view text, std::string_view path);

  // The same as the file content, for binding state.
  nlohmann::json to_json() const;
  static Result<OwnershipRecord> from_json(const nlohmann::json& json, std::string_view path);

  // "owned by hosta", "released by hosta", "never owned", for messages.
  std::string describe() const;
  bool same_holder(const OwnershipRecord& other) const {
    return owner == other.owner && released_by == other.released_by;
  }
  bool operator==(const OwnershipRecord&) const = default;
};

}  // namespace ferry::nfs
