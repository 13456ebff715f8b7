// The phases of a migration job, in order. Errors name the phase they happened in.
#pragma once

#include <string_view>

namespace ferry {

enum class Phase { negotiate, prepare, precopy, stop_and_copy, switchover, commit, rollback, done };

constexpr std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::negotiate:
      return "negotiate";
    case Phase::prepare:
      return "prepare";
    case Phase::precopy:
      return "precopy";
    case Phase::stop_and_copy:
      return "stop-and-copy";
    case Phase::switchover:
      return "switchover";
    case Phase::commit:
      return "commit";
    case Phase::rollback:
      return "rollback";
    case Phase::done:
      return "done";
  }
  return "unknown";
}

}  // namespace ferry
