// What makes a LUN the same disk seen from another host: its logical-unit designators (INQUIRY VPD
// 0x83), its unit serial number (VPD 0x80) and its capacity (READ CAPACITY(16)). Pure data: the
// source reports it in the OFFER, the destination compares what its own path reaches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::iscsi {

// One VPD 0x83 designator of the logical unit itself. Target-port and target-device designators
// are left out on purpose: they name the path (portal group, port), which differs between hosts
// and multipath legs of the very same LUN.
struct LunDesignator {
  int type = 0;       // designator type: 1 T10 vendor id, 2 EUI-64, 3 NAA, 8 SCSI name string...
  int code_set = 0;   // 1 binary, 2 ASCII, 3 UTF-8
  std::string value;  // the designator bytes, lower-case hex

  bool operator==(const LunDesignator&) const = default;
  auto operator<=>(const LunDesignator&) const = default;
  // "NAA 60000000..." or "T10 vendor id 'IET     00010001'"
  std::string describe() const;
};

struct LunIdentity {
  std::vector<LunDesignator> designators;  // sorted, so two reads compare equal
  std::string serial;  // VPD 0x80, trailing blanks removed; empty if not offered
  std::uint32_t block_size = 0;
  std::uint64_t blocks = 0;

  // Fields "vpd83" ([{"type", "code-set", "value"}]), "serial", "block-size", "blocks".
  nlohmann::json to_json() const;
  static Result<LunIdentity> from_json(const nlohmann::json& json);

  // Refuses an identity that could not tell two disks apart (no designator and no serial).
  Result<void> check_identifiable() const;
};

// Every way `here` differs from `source`, one sentence each ("unit serial number (VPD 0x80):
// source 'beaf11', here 'beaf12'"); empty when it is the same LUN.
std::vector<std::string> identity_differences(const LunIdentity& source, const LunIdentity& here);

// Lower-case hex of raw bytes.
std::string to_hex(const unsigned char* data, std::size_t size);

}  // namespace ferry::iscsi
