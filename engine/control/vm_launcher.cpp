#include "engine/control/vm_launcher.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "engine/agent/uffd_handoff.h"
#include "engine/vm/qemu/incoming_qemu_vm.h"
#include "engine/vm/qemu/qemu_attachments.h"
#include "engine/vm/qemu/qemu_vm.h"
#include "engine/vm/sim/sim_attachments.h"
#include "engine/vm/sim/sim_vm.h"

namespace ferry {

namespace fs = std::filesystem;

namespace {

bool executable_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    dirs.remove_prefix(colon == std::string_view::npos ? dirs.size() : colon + 1);
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

// The spec travels to other hosts, and the agent's working directory is nobody's business.
Result<void> require_absolute_kernel(const QemuVmSpec& spec) {
  if (!fs::path(spec.kernel).is_absolute())
    return Error(
        Errc::invalid_argument,
        fmt::format("QEMU VM spec field 'kernel': '{}' is not an absolute path", spec.kernel));
  return ok();
}

QemuLaunch qemu_launch(const std::string& run_dir, const std::string& ram_path) {
  QemuLaunch launch;
  launch.run_dir = run_dir;
  launch.ram_path = ram_path;
  launch.preload_library = default_preload_library_path();
  launch.accel = "auto";
  return launch;
}

}  // namespace

bool VmLauncher::supports(std::string_view kind) {
  if (kind == "sim") return true;
  static const bool qemu = executable_in_path(QemuLaunch{}.qemu_binary);
  return kind == "qemu" && qemu;
}

namespace {

// The NIC this host's driver attached wins over one the description names: the description came
// from the source, whose tap is not ours.
Result<void> attach_sim_nic(SimSpec& spec, const nlohmann::json& attachments) {
  auto nic = sim_nic_from_attachments(attachments);
  if (!nic) return std::move(nic).error().within(fmt::format("VM '{}'", spec.name));
  if (*nic) spec.nic = std::move(**nic);
  return ok();
}

}  // namespace

Result<std::string> VmLauncher::make_run_dir(const std::string& name) const {
  if (name.empty() || name.find('/') != std::string::npos || name.front() == '.')
    return Error(Errc::invalid_argument, fmt::format("'{}' is not a valid VM name", name));
  const fs::path dir = fs::path(config_.state_dir) / "vms" / name;
  std::error_code ec;
  fs::remove_all(dir, ec);  // sockets of a guest that ran here before
  fs::create_directories(dir, ec);
  if (ec) return Error(Errc::io, fmt::format("creating {}: {}", dir.string(), ec.message()));
  return dir.string();
}

Result<std::shared_ptr<Vm>> VmLauncher::start(std::string_view kind,
                                              const nlohmann::json& spec_json,
                                              const nlohmann::json& attachments) const {
  if (kind == "qemu") return start_qemu(spec_json, attachments);
  if (kind != "sim")
    return Error(Errc::invalid_argument,
                 fmt::format("unknown VM kind '{}' (known: sim, qemu)", kind));
  auto spec = SimSpec::from_json(spec_json);
  if (!spec) return std::move(spec).error();
  if (auto nic = attach_sim_nic(*spec, attachments); !nic) return std::move(nic).error();
  auto run_dir = make_run_dir(spec->name);
  if (!run_dir) return std::move(run_dir).error();
  std::random_device random;
  SimLaunch launch;
  launch.run_dir = *run_dir;
  launch.ram_path = fmt::format("{}/ferry-{}-{:08x}.ram", config_.ram_dir, spec->name, random());
  auto vm = SimVm::launch(*spec, launch);
  if (!vm) return std::move(vm).error().within(fmt::format("starting VM '{}'", spec->name));
  return std::shared_ptr<Vm>(std::move(*vm));
}

Result<std::shared_ptr<Vm>> VmLauncher::start_qemu(const nlohmann::json& spec_json,
                                                   const nlohmann::json& attachments) const {
  if (!supports("qemu"))
    return Error(Errc::not_found, fmt::format("cannot start a QEMU VM: {} is not in PATH",
                                              QemuLaunch{}.qemu_binary));
  auto spec = QemuVmSpec::from_json(spec_json);
  if (!spec) return std::move(spec).error();
  if (auto absolute = require_absolute_kernel(*spec); !absolute) return absolute.error();
  auto run_dir = make_run_dir(spec->name);
  if (!run_dir) return std::move(run_dir).error();
  std::random_device random;
  auto launch = qemu_launch(
      *run_dir, fmt::format("{}/ferry-{}-{:08x}.ram", config_.ram_dir, spec->name, random()));
  auto devices = qemu_device_args(attachments);
  if (!devices) return std::move(devices).error();
  launch.device_args = std::move(devices).value();
  auto vm = QemuVm::launch(*spec, launch);
  if (!vm) return std::move(vm).error();
  return std::shared_ptr<Vm>(std::move(*vm));
}

namespace {

// A simulated guest is a process that starts in milliseconds: it starts at switchover, paused,
// on the received memory and the source's device state.
class IncomingSimVm final : public IncomingVm {
 public:
  IncomingSimVm(const VmLauncher& launcher, SimSpec spec)
      : launcher_(launcher), spec_(std::move(spec)) {}

  Result<std::shared_ptr<Vm>> finish(std::vector<std::byte> device_state,
                                     const std::vector<RamRegionInfo>& files) override {
    auto run_dir = launcher_.make_run_dir(spec_.name);
    if (!run_dir) return std::move(run_dir).error();
    SimLaunch launch;
    launch.run_dir = *run_dir;
    launch.ram_path = files.at(0).path;
    launch.resume_state = std::move(device_state);
    auto vm = SimVm::launch(spec_, launch);
    if (!vm) return std::move(vm).error();
    return std::shared_ptr<Vm>(std::move(*vm));
  }
  void discard() override {}

 private:
  const VmLauncher& launcher_;
  SimSpec spec_;
};

}  // namespace

Result<std::unique_ptr<IncomingVm>> VmLauncher::prepare_incoming(
    const Offer& offer, const std::vector<RamRegionInfo>& files,
    const nlohmann::json& attachments) const {
  if (offer.vm_kind == "qemu" && supports("qemu"))
    return prepare_incoming_qemu(offer, files, attachments);
  if (offer.vm_kind != "sim")
    return Error(Errc::rejected,
                 fmt::format("this host cannot run VMs of kind '{}'", offer.vm_kind));
  if (files.size() != 1)
    return Error(Errc::protocol, "a simulated guest has exactly one memory region");
  auto spec = SimSpec::from_json(offer.vm_spec);
  if (!spec) return std::move(spec).error();
  if (auto nic = attach_sim_nic(*spec, attachments); !nic) return std::move(nic).error();
  if (spec->memory != files[0].size)
    return Error(Errc::protocol,
                 fmt::format("OFFER: guest memory {} differs from its region ({} bytes)",
                             spec->memory, files[0].size));
  return std::unique_ptr<IncomingVm>(std::make_unique<IncomingSimVm>(*this, std::move(*spec)));
}

Result<std::unique_ptr<IncomingVm>> VmLauncher::prepare_incoming_qemu(
    const Offer& offer, const std::vector<RamRegionInfo>& files,
    const nlohmann::json& attachments) const {
  auto spec = QemuVmSpec::from_json(offer.vm_spec);
  if (!spec) return std::move(spec).error().within("OFFER");
  if (auto absolute = require_absolute_kernel(*spec); !absolute)
    return Error(absolute.error()).within("OFFER");
  if (spec->name != offer.vm_name)
    return Error(Errc::protocol,
                 fmt::format("OFFER: VM '{}' has a spec named '{}'", offer.vm_name, spec->name));
  if (files.size() != 1 || files[0].size != spec->memory_bytes)
    return Error(Errc::protocol,
                 fmt::format("OFFER: a QEMU guest of {} bytes has one memory region of that size "
                             "(got {} regions, the first of {} bytes)",
                             spec->memory_bytes, files.size(), files.empty() ? 0 : files[0].size));
  auto run_dir = make_run_dir(spec->name);
  if (!run_dir) return std::move(run_dir).error();
  auto launch = qemu_launch(*run_dir, files[0].path);
  auto devices = qemu_device_args(attachments);
  if (!devices) return std::move(devices).error();
  launch.device_args = std::move(devices).value();
  auto incoming = IncomingQemuVm::launch(*spec, launch);
  if (!incoming) return std::move(incoming).error();
  return std::unique_ptr<IncomingVm>(std::move(incoming).value());
}

}  // namespace ferry
