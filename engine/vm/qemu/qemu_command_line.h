// The QEMU command line for a guest: pure, so it is tested without QEMU.
// RAM is a shared file (memory-backend-file,share=on) the engine maps too; QMP and the serial
// console are unix sockets in the run directory; QEMU starts paused (-S) so the engine is
// connected to both sockets before the guest prints its first line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/vm/qemu/accelerator.h"
#include "engine/vm/qemu/qemu_vm_spec.h"

namespace ferry {

// The id of the memory backend; QEMU names the RAM block after it.
inline constexpr const char* kQemuRamBackendId = "ferry-ram";

// QEMU separates option properties with commas; a comma inside a value is written twice.
std::string qemu_escape_option_value(std::string_view value);

// `incoming`: the destination form, waiting for its device state (-incoming defer).
std::vector<std::string> qemu_command_line(const QemuVmSpec& spec, const QemuLaunch& launch,
                                           const AcceleratorChoice& accelerator, bool incoming);

}  // namespace ferry
