// A QEMU guest as the engine drives it (the Vm interface) plus the destination's steps.
//
// RAM is a shared file (memory-backend-file,share=on) that ferry maps and copies itself; QEMU only
// moves the device state, with the x-ignore-shared capability (≈300 KB), through a socketpair
// ferry owns and passes with getfd:
//   source:      pause() -> save_device_state() -> bytes (ferry carries them)
//   destination: launch_incoming() on a RAM file that receives the guest's memory
//                -> [ram_file_renamed()] -> load_device_state(bytes) -> resume(), which also
//                announces the guest's network cards the first time
//
// The return-path capability stays off on both sides. With it, the source only reports
// "completed" once the destination has answered on the return channel (measured: it waits
// forever on a captured stream), which cannot work when ferry stores the stream and carries it
// over its own connection. The guarantee return-path would give — the destination really loaded
// the state — comes from load_device_state() instead: it watches the destination's migration
// status and the process itself (QEMU 7.2 exits when a load fails) and reports the failure.
// QEMU's stream has no checksum: a flipped byte inside a device's data loads silently, so ferry's
// own record checksums must protect the bytes in transit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"
#include "engine/vm/qemu/accelerator.h"
#include "engine/vm/qemu/child_process.h"
#include "engine/vm/qemu/qemu_vm_spec.h"
#include "engine/vm/qemu/qmp_client.h"
#include "engine/vm/qemu/serial_console.h"
#include "engine/vm/vm.h"

namespace ferry {

class QemuVm final : public Vm {
 public:
  // Starts a new guest. QEMU creates `launch.ram_path`, which must not exist yet. Returns once QMP
  // and the serial console are connected (and the preload library's userfaultfd received) and the
  // guest runs.
  static Result<std::unique_ptr<QemuVm>> launch(const QemuVmSpec& spec, const QemuLaunch& launch);
  // Starts the destination of a move: `launch.ram_path` must exist with the spec's size and hold
  // the guest's memory (QEMU maps it, it does not clear it). The guest stays paused until
  // load_device_state() and resume().
  static Result<std::unique_ptr<QemuVm>> launch_incoming(const QemuVmSpec& spec,
                                                         const QemuLaunch& launch);
  ~QemuVm() override;

  const std::string& name() const override { return spec_.name; }
  std::string_view kind() const override { return "qemu"; }
  VmState state() const override;
  pid_t pid() const override;
  std::vector<RamRegionInfo> ram_regions() const override;
  nlohmann::json spec() const override { return spec_.to_json(); }
  nlohmann::json describe() const override;

  Result<std::unique_ptr<DirtyLog>> open_dirty_log() override;
  Result<void> pause() override;  // QMP stop, then waits until QEMU reports the VM not running
  // QMP cont; after load_device_state(), the first resume also announces the guest's MAC
  // addresses (announce-self). A failed announcement does not fail the resume (the guest runs
  // here by then); describe() reports it.
  Result<void> resume() override;
  Result<std::vector<std::byte>> save_device_state() override;
  Result<GuestVerification> verify() override;  // ferry-test-guest only: serial "v"
  Result<std::string> console_command(std::string_view line, std::string_view reply_prefix,
                                      std::chrono::milliseconds timeout) override;
  Result<void> stop() override;  // quit, SIGKILL after a deadline; removes RAM file and sockets

  // Live copy of local disks (engine/vm/disk_copy.h), qemu_disk_copy.cpp: drive-mirror into the
  // destination's NBD exports; complete = block-job-cancel once ready (the copy stays whole and
  // the source keeps its own disk, as libvirt does).
  Result<void> start_disk_copy(const std::vector<DiskCopyTarget>& targets) override;
  Result<DiskCopyProgress> disk_copy_progress() override;
  Result<void> complete_disk_copy(std::chrono::milliseconds timeout) override;
  void cancel_disk_copy() override;
  // Destination: an NBD server on `host` (an ephemeral port, a socket ferry binds and hands over)
  // exporting the drives of `resource_ids` writable. {"<id>": "nbd://host:port/<drive id>"}.
  Result<nlohmann::json> export_disks(const std::vector<std::string>& resource_ids,
                                      const std::string& host);
  // Destination: closes the NBD server (before the device state loads). Idempotent.
  Result<void> stop_disk_exports();

  // Destination: feeds a saved device-state stream (migrate-incoming on a getfd descriptor) and
  // checks QEMU loaded it. Errc::rejected with QEMU's own words when it refused the stream.
  Result<void> load_device_state(std::span<const std::byte> stream);
  // Makes the guest's network cards announce their MAC addresses (QMP announce-self).
  Result<void> announce();
  // The RAM file was renamed (QEMU's mapping survives a rename): remember its new path, which
  // ram_regions() and the dirty log use from now on. An error when `path` is not a file of the
  // guest's memory size. Called before the VM is shared with other threads.
  Result<void> ram_file_renamed(const std::string& path);

  const AcceleratorChoice& accelerator() const { return accelerator_; }
  const QemuVmSpec& vm_spec() const { return spec_; }
  const std::string& ram_path() const { return launch_.ram_path; }
  QmpClient& qmp() { return *qmp_; }
  SerialConsole& serial() { return *serial_; }

 private:
  QemuVm(QemuVmSpec spec, QemuLaunch launch, bool incoming);
  static Result<std::unique_ptr<QemuVm>> start(const QemuVmSpec& spec, const QemuLaunch& launch,
                                               bool incoming);
  // The last lines QEMU printed (its stdout and stderr log), for error messages.
  std::string qemu_log_tail() const;
  // An error about QEMU itself: its exit, when it exited, and its last words.
  Error qemu_failure(Errc code, std::string_view what) const;
  Result<std::string> query_status();
  Result<void> wait_running(bool running, std::chrono::milliseconds timeout);
  Result<nlohmann::json> wait_migration(std::string_view side, std::chrono::milliseconds timeout);
  Result<void> set_device_state_capabilities();
  void teardown();  // kills QEMU, closes the clients, removes sockets (and the RAM file if owned)

  QemuVmSpec spec_;
  QemuLaunch launch_;
  QemuRunFiles files_;
  AcceleratorChoice accelerator_;
  bool incoming_ = false;
  std::unique_ptr<ChildProcess> process_;
  std::unique_ptr<QmpClient> qmp_;
  std::unique_ptr<SerialConsole> serial_;
  UniqueFd uffd_;  // from the preload library; each dirty log gets a duplicate

  std::mutex operation_mutex_;  // one state-changing operation at a time
  mutable std::mutex state_mutex_;
  mutable VmState state_ = VmState::starting;
  bool device_state_loaded_ = false;
  std::vector<std::string> copy_jobs_;  // our drive-mirror job ids (source)
  bool exporting_disks_ = false;        // an NBD server runs (destination)
  bool announce_pending_ = false;       // set by a load, cleared by the resume that follows
  std::string announce_result_;         // "" before any, "ok", or why it failed
  bool owns_ram_file_ = false;
  std::chrono::steady_clock::time_point launched_at_;
  nlohmann::json last_transfer_;  // bytes and timings of the last save or load
};

}  // namespace ferry
