#include "engine/vm/qemu/incoming_qemu_vm.h"

#include <fmt/format.h>

namespace ferry {

Result<std::unique_ptr<IncomingQemuVm>> IncomingQemuVm::launch(const QemuVmSpec& spec,
                                                               const QemuLaunch& launch) {
  auto vm = QemuVm::launch_incoming(spec, launch);
  if (!vm) return std::move(vm).error();
  return std::unique_ptr<IncomingQemuVm>(new IncomingQemuVm(std::move(vm).value()));
}

IncomingQemuVm::~IncomingQemuVm() {
  discard();
}

pid_t IncomingQemuVm::pid() const {
  return vm_ ? vm_->pid() : -1;
}

Result<std::shared_ptr<Vm>> IncomingQemuVm::finish(std::vector<std::byte> device_state,
                                                   const std::vector<RamRegionInfo>& files) {
  if (!vm_) return Error(Errc::internal, "incoming QEMU guest already finished or discarded");
  const std::string where = fmt::format("incoming QEMU VM '{}'", vm_->name());
  if (files.size() != 1) {
    return Error(Errc::protocol,
                 fmt::format("{}: expected one RAM region, got {}", where, files.size()));
  }
  // QEMU waited through the whole pre-copy: it may have died meanwhile.
  if (vm_->state() == VmState::failed) {
    return Error(Errc::guest,
                 fmt::format("{}: QEMU (pid {}) {} while the memory arrived", where, vm_->pid(),
                             vm_->describe().value("exit", std::string("exited"))));
  }
  if (files[0].path != vm_->ram_path()) {
    if (auto renamed = vm_->ram_file_renamed(files[0].path); !renamed) return renamed.error();
  }
  // The source finished its disk copies before it sent the device state: nobody may write
  // through the exports any more.
  if (auto closed = vm_->stop_disk_exports(); !closed) return closed.error();
  if (auto loaded = vm_->load_device_state(device_state); !loaded) return loaded.error();
  return std::shared_ptr<Vm>(std::move(vm_));
}

Result<nlohmann::json> IncomingQemuVm::export_disks(const std::vector<std::string>& resource_ids,
                                                    const std::string& host) {
  if (!vm_) return Error(Errc::internal, "incoming QEMU guest already finished or discarded");
  return vm_->export_disks(resource_ids, host);
}

void IncomingQemuVm::discard() {
  if (!vm_) return;
  (void)vm_->stop();
  vm_.reset();
}

}  // namespace ferry
