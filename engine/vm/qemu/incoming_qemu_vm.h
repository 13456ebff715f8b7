// The destination's QEMU guest during an incoming migration, as the engine drives it (IncomingVm).
// QEMU starts at prepare, paused and waiting for its device state (-incoming defer), on the RAM
// file the engine is filling: its start-up is not part of the downtime, and a host that cannot
// start it refuses the migration before any page is sent. At switchover finish() hands it the
// device state; the engine then resumes it (QemuVm::resume() also announces it).
#pragma once

#include <sys/types.h>

#include <memory>
#include <vector>

#include "engine/error/error.h"
#include "engine/vm/qemu/qemu_vm.h"
#include "engine/vm/vm.h"

namespace ferry {

class IncomingQemuVm final : public IncomingVm {
 public:
  // `launch.ram_path` is the file being received: it must exist with the spec's memory size.
  static Result<std::unique_ptr<IncomingQemuVm>> launch(const QemuVmSpec& spec,
                                                        const QemuLaunch& launch);
  ~IncomingQemuVm() override;

  // `files` holds one region, the RAM file under its final name. The guest stays paused.
  Result<std::shared_ptr<Vm>> finish(std::vector<std::byte> device_state,
                                     const std::vector<RamRegionInfo>& files) override;
  // Stops the waiting QEMU. Its RAM file goes with it (the engine removes it anyway).
  void discard() override;
  Result<nlohmann::json> export_disks(const std::vector<std::string>& resource_ids,
                                      const std::string& host) override;

  // The waiting QEMU's process, -1 once finished or discarded.
  pid_t pid() const;

 private:
  explicit IncomingQemuVm(std::unique_ptr<QemuVm> vm) : vm_(std::move(vm)) {}
  std::unique_ptr<QemuVm> vm_;
};

}  // namespace ferry
