// A running guest as the engine sees it: its RAM files, its dirty log, pause/resume, device state.
// Implemented by the simulated guest (engine/vm/sim) and by QEMU (engine/vm/qemu).
// Calls block the calling thread for at most a few hundred milliseconds (they talk to the guest
// process over a local socket); every call has its own deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/memory/dirty_log.h"
#include "engine/vm/disk_copy.h"

namespace ferry {

struct RamRegionInfo {
  uint32_t id = 0;
  std::string name;  // "ram", "pc.ram", ...
  std::string path;  // the shared file that backs it
  uint64_t size = 0;
};

enum class VmState { starting, running, paused, stopped, failed };
std::string_view vm_state_name(VmState state);

// The guest's own check of all its memory (the simulated guest and the QEMU test guest have one).
struct GuestVerification {
  bool ok = false;
  uint64_t pages_checked = 0;
  uint64_t pages_bad = 0;
  std::string detail;  // first bad page, or the guest's own words
};

class Vm {
 public:
  virtual ~Vm() = default;

  virtual const std::string& name() const = 0;
  virtual std::string_view kind() const = 0;  // "sim" or "qemu"
  virtual VmState state() const = 0;
  virtual pid_t pid() const = 0;
  virtual std::vector<RamRegionInfo> ram_regions() const = 0;

  // The description a destination needs to start the same guest (sent in the OFFER).
  virtual nlohmann::json spec() const = 0;
  // State, memory and process facts for `ferry vm list` and the API.
  virtual nlohmann::json describe() const = 0;

  // Dirty tracking through the guest's userfaultfd; may be called once per migration.
  virtual Result<std::unique_ptr<DirtyLog>> open_dirty_log() = 0;

  // Returns once the guest no longer writes its memory.
  virtual Result<void> pause() = 0;
  virtual Result<void> resume() = 0;
  // Opaque device state, read while paused; the destination's launch consumes it.
  virtual Result<std::vector<std::byte>> save_device_state() = 0;
  virtual Result<GuestVerification> verify() = 0;
  // Sends one line to the guest's serial console and returns the first later line starting with
  // `reply_prefix`: for test guests that take commands there (tests/guest). Guests without a
  // console say so.
  virtual Result<std::string> console_command(std::string_view line, std::string_view reply_prefix,
                                              std::chrono::milliseconds timeout);
  // Terminates the guest process and removes its RAM files.
  virtual Result<void> stop() = 0;

  // Source side of the live copy of disks that are not shared (engine/vm/disk_copy.h). Guests
  // without such disks refuse (the defaults).
  virtual Result<void> start_disk_copy(const std::vector<DiskCopyTarget>& targets);
  virtual Result<DiskCopyProgress> disk_copy_progress();
  // Guest paused and every copy ready: finishes the copies, the destination's disks now equal
  // ours. An error when a copy is not complete.
  virtual Result<void> complete_disk_copy(std::chrono::milliseconds timeout);
  // Stops the copies, leaving our disks as they are (a failed or cancelled migration).
  virtual void cancel_disk_copy() {}
};

// The destination's guest during an incoming migration. Prepared before memory arrives (a QEMU
// guest starts here, paused, mapping the RAM files, so its start-up costs no downtime); finished at
// switchover with the device state.
class IncomingVm {
 public:
  virtual ~IncomingVm() = default;
  // Loads the device state; returns the guest paused (the engine resumes it). `files` are the
  // RAM files' final paths (they may have been renamed since prepare).
  virtual Result<std::shared_ptr<Vm>> finish(std::vector<std::byte> device_state,
                                             const std::vector<RamRegionInfo>& files) = 0;
  // Abandons the guest (stops a process it started); the RAM files belong to the engine.
  virtual void discard() = 0;
  // Exports the (empty, prepared) disks of resources `resource_ids` for the source to copy into,
  // listening on `host`: {"<resource id>": "nbd://host:port/name"}. The exports close at finish().
  virtual Result<nlohmann::json> export_disks(const std::vector<std::string>& resource_ids,
                                              const std::string& host);
};

}  // namespace ferry
