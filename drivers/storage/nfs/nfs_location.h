// Where an NFS disk image lives as seen from this host: the pool-level name in a VM description
// ({"sr": "sr1", "image": "vm1/disk0.img"}) mapped through this host's configuration
// ({"repositories": {"sr1": {"server": "10.0.0.1", "export": "/srv/sr1"}}}). Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::nfs {

// One NFSv3 export reached from this host.
struct NfsExport {
  std::string server;       // host name or address of the server
  std::string export_path;  // absolute, e.g. "/srv/sr1"
  // Fixed ports instead of asking the server's portmapper (for ferry's own access; QEMU 7.2's nfs
  // driver always asks the portmapper).
  std::optional<uint16_t> nfs_port;
  std::optional<uint16_t> mount_port;

  // "10.0.0.1:/srv/sr1", for messages.
  std::string display() const;
  nlohmann::json to_json() const;
  static Result<NfsExport> from_json(const nlohmann::json& json, std::string_view where);
};

// A disk image inside a storage repository, and its ownership record beside it.
struct NfsImageLocation {
  std::string repository;  // the pool-level storage repository name ("sr1")
  NfsExport where;
  std::string image;  // relative to the export: "vm1/disk0.img"

  // Paths inside the export, as libnfs takes them after mounting it.
  std::string image_path() const { return "/" + image; }
  std::string record_path() const { return "/" + image + ".owner"; }
  // "10.0.0.1:/srv/sr1/vm1/disk0.img", for messages.
  std::string display() const;

  nlohmann::json to_json() const;
  static Result<NfsImageLocation> from_json(const nlohmann::json& json);
};

// Maps a VM description's resource entry through this host's "nfs" host configuration section.
// Refuses unknown repositories and image paths that could leave the export ("..", absolute).
Result<NfsImageLocation> resolve_image(const nlohmann::json& resource_params,
                                       const nlohmann::json& nfs_host_config);

// The libnfs URL that sets the fixed ports, e.g. "nfs://10.0.0.1/srv/sr1?nfsport=2049"; nullopt
// when the portmapper is used.
std::optional<std::string> libnfs_port_url(const NfsExport& where);

// The QEMU -drive value that opens the image with QEMU's own libnfs block driver:
// "file=nfs://10.0.0.1/srv/sr1/vm1/disk0.img,format=raw" (characters outside the URL's
// unreserved set percent-encoded, so the value never contains a comma).
std::string qemu_drive(const NfsImageLocation& location);

}  // namespace ferry::nfs
