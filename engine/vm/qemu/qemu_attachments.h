// Turns the resource drivers' attachments into QEMU arguments for this host. Pure.
//   {"qemu-drive": "file=...,format=raw"}      -> -drive file=...,format=raw,if=ide,index=N,
//                                                   id=ID,node-name=NODE (qemu_drive_id/_node)
//   {"qemu-netdev": "tap,id=n0,...", "qemu-device": "e1000,netdev=n0,..."} -> -netdev ... -device
//   ...
//   {"qemu-args": ["-iscsi", "initiator-name=..."]} -> verbatim
// Disks get IDE indexes in the order of their resource ids (attachments is keyed by id).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

Result<std::vector<std::string>> qemu_device_args(const nlohmann::json& attachments);

// The drive (BlockBackend) and its format node for resource `resource_id`: the same on every host,
// so that the source's mirror and the destination's export name the same disk.
std::string qemu_drive_id(std::string_view resource_id);
std::string qemu_drive_node(std::string_view resource_id);

}  // namespace ferry
