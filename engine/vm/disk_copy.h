// Disks that are not shared are copied live to the destination (as libvirt's copy-storage): the
// destination's guest exports its new, empty disk over NBD, the source's guest mirrors its disk
// into it while memory pre-copy runs, and the copy completes at switchover with the guest paused.
#pragma once

#include <cstdint>
#include <string>

namespace ferry {

// Source: where one disk goes. `resource_id` names the disk's resource (the guest's drive is
// derived from it on both hosts); `uri` is the destination's export ("nbd://host:port/name").
struct DiskCopyTarget {
  std::string resource_id;
  std::string uri;
};

// All the guest's disk copies together; QEMU's query-migrate calls this "disk".
struct DiskCopyProgress {
  uint64_t total = 0;        // bytes to copy (grows when the guest writes where it was copied)
  uint64_t transferred = 0;  // bytes copied
  bool ready = false;        // every copy caught up: new writes go to both disks at once
};

}  // namespace ferry
