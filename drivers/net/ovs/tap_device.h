// The VM's NIC on a host: a persistent, multi-queue tap device. The guest attaches one or more
// queues (QEMU: -netdev tap,ifname=NAME,queues=2,vnet_hdr=off; ferry-sim-guest --tap NAME) and the
// driver attaches one of its own for a moment to send frames "from the VM" (MAC announcements).
// Every attacher must use the same flags (kTapFlags): the kernel applies the last attacher's
// flags to the whole device.
//
// All functions act in the calling thread's network namespace (see network_namespace.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"

namespace ferry::ovs {

// IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE: Ethernet frames, no packet-info or virtio-net header.
extern const short kTapFlags;

bool interface_exists(const std::string& name);

// Creates tap `name` (persistent, multi-queue, administratively up) unless it exists. Returns
// true when it created the device. Refuses a device of that name that is not a multi-queue tap.
Result<bool> create_persistent_tap(const std::string& name);

// Clears the persistent flag so the device disappears (at once, or when the last queue a guest
// still holds is closed). Succeeds when there is no such device.
Result<void> delete_persistent_tap(const std::string& name);

// Attaches a queue of the existing tap `name`. Errc::not_found when it does not exist (attaching
// would otherwise create a new, unconnected device).
Result<UniqueFd> open_tap_queue(const std::string& name);

// Writes each frame to the queue `fd`: the kernel receives them as if the device had, so they
// enter Open vSwitch from the port, exactly like the guest's own traffic.
Result<void> send_frames(int fd, const std::string& name,
                         const std::vector<std::vector<std::uint8_t>>& frames);

}  // namespace ferry::ovs
