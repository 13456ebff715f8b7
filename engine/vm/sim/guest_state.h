// The simulated guest's device state: everything needed to continue it elsewhere and to verify
// its memory. Travels as a small JSON document, opaque to the engine. Pure.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/vm/sim/content_model.h"

namespace ferry::sim {

struct GuestState {
  uint64_t seed = 1;
  uint64_t writes = 0;  // W: writes [0, W) have landed in memory
  WritePattern pattern = WritePattern::uniform;
  uint64_t wss = 0;      // bytes, page multiple, 1 page..memory
  uint64_t memory = 0;   // bytes, page multiple
  uint64_t fill = 0;     // bytes written at start, page multiple, <= memory
  int64_t rate_mib = 0;  // MiB/s; 0 idle, -1 unpaced
  PageContent content = PageContent::random;

  ContentModel model() const;
  // Names the first field that does not hold (sizes, pattern, rate).
  Result<void> validate() const;
  nlohmann::json to_json() const;
  static Result<GuestState> from_json(const nlohmann::json& j);
};

}  // namespace ferry::sim
