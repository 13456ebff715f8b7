#include "engine/vm/qemu/qemu_command_line.h"

#include <fmt/format.h>

namespace ferry {

std::string qemu_escape_option_value(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    escaped.push_back(c);
    if (c == ',') escaped.push_back(',');
  }
  return escaped;
}

std::vector<std::string> qemu_command_line(const QemuVmSpec& spec, const QemuLaunch& launch,
                                           const AcceleratorChoice& accelerator, bool incoming) {
  const QemuRunFiles files = QemuRunFiles::in(launch.run_dir);
  const uint64_t mib = spec.memory_bytes >> 20;
  std::vector<std::string> args = {
      launch.qemu_binary,
      "-name",
      fmt::format("guest={},debug-threads=on", qemu_escape_option_value(spec.name)),
      "-machine",
      fmt::format("pc,memory-backend={}", kQemuRamBackendId),
      "-accel",
      accelerator.accel,
      "-m",
      fmt::format("{}M", mib),
      "-smp",
      std::to_string(spec.vcpus),
      "-object",
      fmt::format("memory-backend-file,id={},size={}M,mem-path={},share=on", kQemuRamBackendId, mib,
                  qemu_escape_option_value(launch.ram_path)),
      "-display",
      "none",
      "-nodefaults",
      "-no-user-config",
      "-qmp",
      fmt::format("unix:{},server=on,wait=off", qemu_escape_option_value(files.qmp_socket)),
      "-chardev",
      fmt::format("socket,id=ferry-serial,path={},server=on,wait=off,logfile={}",
                  qemu_escape_option_value(files.serial_socket),
                  qemu_escape_option_value(files.serial_log)),
      "-serial",
      "chardev:ferry-serial",
      "-kernel",
      spec.kernel,
      "-S",
  };
  const std::string& cpu = spec.cpu.empty() ? accelerator.cpu : spec.cpu;
  if (!cpu.empty()) args.insert(args.end(), {"-cpu", cpu});
  if (!spec.append.empty()) args.insert(args.end(), {"-append", spec.append});
  if (incoming) args.insert(args.end(), {"-incoming", "defer"});
  args.insert(args.end(), launch.device_args.begin(), launch.device_args.end());
  args.insert(args.end(), spec.extra_args.begin(), spec.extra_args.end());
  return args;
}

}  // namespace ferry
