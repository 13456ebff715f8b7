// Where a "local" disk lives on this host, and what QEMU is told. Pure.
//   VM description entry  {"id": "disk0", "driver": "local", "image": "vm1/disk0.img"}
//   host configuration    resources.local = {"directory": "/var/lib/ferry/disks"}
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/resources/resource_driver.h"

namespace ferry::local {

struct LocalDiskLocation {
  std::string directory;  // this host's disk directory (absolute)
  std::string image;      // relative path of the image in it
  std::string path;       // directory + "/" + image
};

// Errc::invalid_argument naming the key: no "local" section or directory, a relative directory,
// an image path that is absolute, empty, or climbs out with "..", or characters QEMU's option
// syntax would misread (',').
Result<LocalDiskLocation> locate_local_disk(const ResourceSpec& spec,
                                            const ResourceContext& context);

// -drive value (the launcher adds if/index/id/node-name).
std::string local_qemu_drive(const LocalDiskLocation& location);

// The source's facts: {"size": bytes}. A destination needs the size, and nothing else can match:
// the disk does not exist here yet.
Result<uint64_t> size_from_facts(const nlohmann::json& facts, const std::string& resource_id);

}  // namespace ferry::local
