// Turns the resource drivers' attachments into QEMU arguments for this host. Pure.
//   {"qemu-drive": "file=...,format=raw"}      -> -drive file=...,format=raw,if=ide,index=N
//   {"qemu-netdev": "tap,id=n0,...", "qemu-device": "e1000,netdev=n0,..."} -> -netdev ... -device
//   ...
//   {"qemu-args": ["-iscsi", "initiator-name=..."]} -> verbatim
// Disks get IDE indexes in the order of their resource ids (attachments is keyed by id).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

Result<std::vector<std::string>> qemu_device_args(const nlohmann::json& attachments);

}  // namespace ferry
