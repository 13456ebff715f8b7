#include "engine/vm/qemu/accelerator.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "engine/posix/unique_fd.h"

namespace ferry {

KvmProbe probe_kvm() {
  KvmProbe probe;
  for (const char* module : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    std::error_code ec;
    if (std::filesystem::exists(std::string("/sys/module/") + module, ec)) {
      probe.vendor_module = module;
      break;
    }
  }
  UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm.valid()) {
    probe.problem = fmt::format("open /dev/kvm: {}", std::strerror(errno));
    return probe;
  }
  probe.device_opens = true;
  probe.api_version = ::ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  return probe;
}

Result<AcceleratorChoice> choose_accelerator(std::string_view requested, const KvmProbe& kvm) {
  const bool kvm_works = kvm.device_opens && kvm.api_version == KVM_API_VERSION;
  // Under kvm_pvm "-cpu host" fails ("failed to set MSR 0x10a"); without arch-capabilities it runs.
  const std::string kvm_cpu = kvm.vendor_module == "kvm_pvm" ? "host,-arch-capabilities" : "host";
  if (requested == "tcg") return AcceleratorChoice{"tcg", "", "tcg requested"};
  if (requested == "kvm") {
    if (!kvm_works) {
      return Error(Errc::not_found,
                   fmt::format("accelerator kvm requested but unusable: {}",
                               kvm.device_opens ? fmt::format("KVM API version {}", kvm.api_version)
                                                : kvm.problem));
    }
    return AcceleratorChoice{"kvm", kvm_cpu, "kvm requested"};
  }
  if (requested != "auto") {
    return Error(Errc::invalid_argument,
                 fmt::format("unknown accelerator '{}' (expected auto, tcg or kvm)", requested));
  }
  if (!kvm_works) {
    return AcceleratorChoice{"tcg", "",
                             kvm.device_opens
                                 ? fmt::format("KVM API version {} unsupported", kvm.api_version)
                                 : kvm.problem};
  }
  if (kvm.vendor_module == "kvm_intel" || kvm.vendor_module == "kvm_amd") {
    return AcceleratorChoice{"kvm", kvm_cpu, fmt::format("hardware KVM ({})", kvm.vendor_module)};
  }
  return AcceleratorChoice{
      "tcg", "",
      fmt::format("/dev/kvm is {}, not hardware virtualization: TCG is faster here",
                  kvm.vendor_module.empty() ? "of unknown origin" : kvm.vendor_module)};
}

}  // namespace ferry
