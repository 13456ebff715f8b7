// What a simulated guest is (SimSpec, travels in the OFFER) and where it runs (SimLaunch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

// The guest's NIC (ferry-sim-guest --tap --mac --ip [--netns]):
// "nic": {"tap", "mac", "ip": "A.B.C.D/NN", "netns" (optional: the namespace the tap lives in)}.
struct SimNic {
  std::string tap;
  std::string mac;
  std::string ip;
  std::string netns;
};

struct SimSpec {
  std::string name;
  uint64_t memory = uint64_t{1} << 30;  // bytes, multiple of 4 KiB, >= 1 MiB
  int64_t dirty_rate_mib = 0;           // 0 idle, -1 as fast as it can
  std::string pattern = "uniform";      // uniform | hot | sequential
  std::string content = "random";       // random | compressible (page bodies)
  uint64_t wss = 0;                     // working set bytes; 0 = all memory
  uint64_t seed = 1;
  std::optional<uint64_t> fill;  // bytes written at start; unset = all memory
  std::optional<SimNic> nic;

  // Names the first field that does not hold.
  Result<void> validate() const;
  nlohmann::json to_json() const;
  static Result<SimSpec> from_json(const nlohmann::json& j);
};

struct SimLaunch {
  std::string run_dir;  // sockets and guest.log live here; must exist
  std::string ram_path;
  std::string guest_binary;     // default: "ferry-sim-guest" beside /proc/self/exe
  std::string preload_library;  // default: default_preload_library_path()
  std::optional<std::vector<std::byte>> resume_state;  // the source's device state
};

}  // namespace ferry
