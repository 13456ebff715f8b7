// The identity of a disk image file as its NFS server reports it: what the source puts in the
// OFFER and the destination must find through its own mapping. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry::nfs {

struct NfsImageFacts {
  uint64_t fileid = 0;  // the server's file id (inode number) of the image
  uint64_t size = 0;    // bytes
  uint64_t fsid = 0;    // the server's file system id: file ids are unique only within one
  // The host the ownership record named when the facts were taken; nullopt: released or never
  // owned. The destination takes ownership only from this host.
  std::optional<std::string> owner;

  nlohmann::json to_json() const;
  static Result<NfsImageFacts> from_json(const nlohmann::json& json);
};

// Errc::rejected naming every differing field with both values when `here` (this host's view of
// `image`) is not the file the source described.
Result<void> check_same_image(const NfsImageFacts& source, const NfsImageFacts& here,
                              std::string_view image);

}  // namespace ferry::nfs
