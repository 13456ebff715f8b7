#include "engine/vm/vm.h"

namespace ferry {

std::string_view vm_state_name(VmState state) {
  switch (state) {
    case VmState::starting:
      return "starting";
    case VmState::running:
      return "running";
    case VmState::paused:
      return "paused";
    case VmState::stopped:
      return "stopped";
    case VmState::failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace ferry
