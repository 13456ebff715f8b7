#include "engine/vm/qemu/qemu_attachments.h"

#include <cctype>

#include <fmt/format.h>

namespace ferry {

namespace {
Result<std::string> string_field(const std::string& id, const nlohmann::json& attach,
                                 const char* key) {
  const auto& value = attach.at(key);
  if (!value.is_string() || value.get<std::string>().empty())
    return Error(Errc::invalid_argument,
                 fmt::format("resource {}: attachment \"{}\" is not a non-empty string", id, key));
  return value.get<std::string>();
}
}  // namespace

std::string qemu_drive_id(std::string_view resource_id) {
  // QEMU ids: a letter first, then letters, digits, '-', '.', '_'.
  std::string id = "disk-";
  for (const char c : resource_id)
    id +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_') ? c : '_';
  return id;
}

std::string qemu_drive_node(std::string_view resource_id) {
  return qemu_drive_id(resource_id) + "-format";
}

Result<std::vector<std::string>> qemu_device_args(const nlohmann::json& attachments) {
  std::vector<std::string> args;
  if (attachments.is_null()) return args;
  if (!attachments.is_object())
    return Error(Errc::invalid_argument, "resource attachments are not a JSON object");
  // The legacy IDE controller has two channels of two drives.
  constexpr int kIdeDrives = 4;
  int ide_index = 0;
  for (const auto& [id, attach] : attachments.items()) {
    if (!attach.is_object())
      return Error(Errc::invalid_argument,
                   fmt::format("resource {}: attachment is not a JSON object", id));
    if (attach.contains("qemu-drive")) {
      auto drive = string_field(id, attach, "qemu-drive");
      if (!drive) return std::move(drive).error();
      if (ide_index == kIdeDrives)
        return Error(Errc::invalid_argument,
                     fmt::format("resource {}: more than {} disks", id, kIdeDrives));
      args.push_back("-drive");
      args.push_back(fmt::format("{},if=ide,index={},id={},node-name={}", drive.value(),
                                 ide_index++, qemu_drive_id(id), qemu_drive_node(id)));
    }
    if (attach.contains("qemu-netdev") != attach.contains("qemu-device"))
      return Error(Errc::invalid_argument,
                   fmt::format("resource {}: \"qemu-netdev\" and \"qemu-device\" go together", id));
    if (attach.contains("qemu-netdev")) {
      auto netdev = string_field(id, attach, "qemu-netdev");
      if (!netdev) return std::move(netdev).error();
      auto device = string_field(id, attach, "qemu-device");
      if (!device) return std::move(device).error();
      args.insert(args.end(), {"-netdev", netdev.value(), "-device", device.value()});
    }
    if (attach.contains("qemu-args")) {
      const auto& extra = attach.at("qemu-args");
      if (!extra.is_array())
        return Error(Errc::invalid_argument,
                     fmt::format("resource {}: \"qemu-args\" is not an array", id));
      for (const auto& arg : extra) {
        if (!arg.is_string())
          return Error(Errc::invalid_argument,
                       fmt::format("resource {}: \"qemu-args\" holds a non-string", id));
        args.push_back(arg.get<std::string>());
      }
    }
  }
  return args;
}

}  // namespace ferry
