// The engine's handle on a simulated guest (ferry-sim-guest): launches the process with the uffd
// preload library, talks to it over its control socket, and opens its dirty log.
// Thread-safe: calls may come from different threads; control-socket use is serialized.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/posix/unique_fd.h"
#include "engine/vm/sim/control_client.h"
#include "engine/vm/sim/guest_process.h"
#include "engine/vm/sim/sim_spec.h"
#include "engine/vm/vm.h"

namespace ferry {

class SimVm final : public Vm {
 public:
  // Fresh start (no resume_state): the guest creates and fills launch.ram_path and runs.
  // Resume: writes the state to run_dir/resume-state.json; the guest maps the existing RAM file
  // and the VM comes back paused (the engine resumes it at switchover).
  // Files in run_dir: uffd.sock, control.sock, guest.log (the guest's stderr), resume-state.json.
  static Result<std::unique_ptr<SimVm>> launch(const SimSpec& spec, const SimLaunch& launch);
  ~SimVm() override;  // stops the guest if stop() was not called

  const std::string& name() const override { return spec_.name; }
  std::string_view kind() const override { return "sim"; }
  VmState state() const override;
  pid_t pid() const override;
  std::vector<RamRegionInfo> ram_regions() const override;
  nlohmann::json spec() const override;
  nlohmann::json describe() const override;

  Result<std::unique_ptr<DirtyLog>> open_dirty_log() override;
  Result<void> pause() override;
  Result<void> resume() override;
  Result<std::vector<std::byte>> save_device_state() override;
  Result<GuestVerification> verify() override;
  Result<void> stop() override;

  // MiB/s: 0 idle, -1 as fast as it can.
  Result<void> set_dirty_rate(int64_t mib);
  // The guest's write counter W (writes [0, W) are in memory).
  Result<uint64_t> writes();

 private:
  SimVm(SimSpec spec, std::string run_dir, std::string ram_path, sim::GuestProcess process,
        UniqueFd uffd, sim::ControlClient control);
  // One control request under mutex_; a {"ok":false,"error":..} reply becomes Errc::guest.
  Result<nlohmann::json> call_locked(const nlohmann::json& request,
                                     std::chrono::milliseconds timeout) const;
  void notice_exit_locked() const;
  Error guest_gone_locked(std::string_view during) const;

  SimSpec spec_;
  const std::string run_dir_;
  const std::string ram_path_;
  mutable std::mutex mutex_;
  mutable sim::GuestProcess process_;
  UniqueFd uffd_;
  mutable sim::ControlClient control_;
  mutable VmState state_ = VmState::starting;
  bool stopped_ = false;
};

}  // namespace ferry
