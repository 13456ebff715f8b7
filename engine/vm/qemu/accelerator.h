// Which QEMU accelerator to use on this host. /dev/kvm may exist and still be a poor choice: here
// it is kvm_pvm, a software hypervisor that runs guests far slower than TCG (platform.md), so
// "auto" takes KVM only when a hardware vendor module (kvm_intel, kvm_amd) drives it.
#pragma once

#include <string>
#include <string_view>

#include "engine/error/error.h"

namespace ferry {

// Facts about /dev/kvm on this host (probe_kvm() gathers them).
struct KvmProbe {
  bool device_opens = false;
  int api_version = -1;       // KVM_GET_API_VERSION; 12 for every usable KVM
  std::string vendor_module;  // "kvm_intel", "kvm_amd", "kvm_pvm", or "" when none is loaded
  std::string problem;        // why the device did not open, when it did not
};

struct AcceleratorChoice {
  std::string accel;   // "tcg" or "kvm"
  std::string cpu;     // the -cpu model to use; empty: QEMU's default for the accelerator
  std::string reason;  // why, for describe() and logs
};

KvmProbe probe_kvm();

// Pure: "tcg", "kvm" (refused when /dev/kvm cannot be used) or "auto".
Result<AcceleratorChoice> choose_accelerator(std::string_view requested, const KvmProbe& kvm);

}  // namespace ferry
