#include "engine/vm/vm.h"

#include <string>

namespace ferry {

Result<std::string> Vm::console_command(std::string_view line, std::string_view,
                                        std::chrono::milliseconds) {
  return Error(Errc::invalid_argument, "VM '" + name() + "' (" + std::string(kind()) +
                                           ") takes no console commands (\"" + std::string(line) +
                                           "\"): only test guests under QEMU do");
}

}  // namespace ferry
