#include "engine/vm/vm.h"

#include <string>

#include <fmt/format.h>

namespace ferry {

Result<std::string> Vm::console_command(std::string_view line, std::string_view,
                                        std::chrono::milliseconds) {
  return Error(Errc::invalid_argument,
               fmt::format("VM '{}' ({}) takes no console commands (\"{}\"): only test guests "
                           "under QEMU do",
                           name(), kind(), line));
}

Result<void> Vm::start_disk_copy(const std::vector<DiskCopyTarget>& targets) {
  return Error(
      Errc::invalid_argument,
      fmt::format("VM '{}' ({}) cannot copy its {} local disk(s) live: only QEMU guests can",
                  name(), kind(), targets.size()));
}

Result<DiskCopyProgress> Vm::disk_copy_progress() {
  return Error(Errc::invalid_argument, fmt::format("VM '{}' copies no disk", name()));
}

Result<void> Vm::complete_disk_copy(std::chrono::milliseconds) {
  return Error(Errc::invalid_argument, fmt::format("VM '{}' copies no disk", name()));
}

Result<nlohmann::json> IncomingVm::export_disks(const std::vector<std::string>& resource_ids,
                                                const std::string&) {
  return Error(Errc::rejected,
               fmt::format("this guest kind cannot receive a live copy of {} local disk(s): only "
                           "QEMU guests can",
                           resource_ids.size()));
}

}  // namespace ferry
