// What a QEMU guest is (QemuVmSpec: sent to the destination in the OFFER, validated on arrival)
// and where this host runs it (QemuLaunch: local paths and choices, never sent).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error/error.h"

namespace ferry {

struct QemuVmSpec {
  std::string name;           // 1-64 characters of [A-Za-z0-9._-]
  uint64_t memory_bytes = 0;  // a multiple of 1 MiB, at least 16 MiB
  uint32_t vcpus = 1;         // 1..255
  std::string kernel;         // path of the kernel on the host that launches it (-kernel)
  std::string append;         // kernel command line (-append)
  std::string cpu;            // -cpu model; empty: chosen with the accelerator
  // Passed to QEMU verbatim after ferry's own arguments. They run with the agent's rights: accept
  // specs only from authenticated peers.
  std::vector<std::string> extra_args;
  // The kernel is ferry-test-guest, which checks its own memory on the serial command "v".
  bool test_guest = false;

  // Errc::invalid_argument naming the field: "QEMU VM spec field 'memory_bytes': ...".
  Result<void> validate() const;
  // Unknown fields are refused too: a field this version ignores could change the guest.
  static Result<QemuVmSpec> from_json(const nlohmann::json& json);
  nlohmann::json to_json() const;
};

struct QemuLaunch {
  std::string run_dir;          // sockets (qmp.sock, serial.sock, uffd.sock) and logs live here
  std::string ram_path;         // the guest RAM file, normally in /dev/shm
  std::string preload_library;  // libferry_uffd_preload.so; empty: no dirty tracking
  std::string qemu_binary = "qemu-system-x86_64";
  std::string accel = "auto";  // "auto", "tcg" or "kvm"
  std::chrono::milliseconds start_timeout{15000};
  // This host's access to the guest's disks and NICs (from the resource drivers' attachments):
  // QEMU arguments such as "-drive", "file=nfs://...,if=ide,index=0", placed before extra_args.
  std::vector<std::string> device_args;
};

// The files QEMU and ferry use inside a run directory.
struct QemuRunFiles {
  std::string qmp_socket;
  std::string serial_socket;
  std::string serial_log;  // QEMU's own copy of everything the guest printed
  // ferry's copy, each line stamped with the wall-clock time it arrived (SerialConsole)
  std::string serial_host_log;
  std::string qemu_log;  // QEMU's stdout and stderr
  std::string uffd_socket;

  static QemuRunFiles in(const std::string& run_dir);
};

}  // namespace ferry
