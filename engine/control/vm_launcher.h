// Starts guests on this host: fresh ones from a spec, and incoming ones from migrated memory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/control/agent_config.h"
#include "engine/error/error.h"
#include "engine/migration/offer.h"
#include "engine/vm/vm.h"

namespace ferry {

class VmLauncher {
 public:
  explicit VmLauncher(AgentConfig config) : config_(std::move(config)) {}

  // "sim" always; "qemu" when qemu-system-x86_64 is in PATH (looked up once).
  static bool supports(std::string_view kind);

  // `kind` "sim": spec is a SimSpec document. "qemu": a QemuVmSpec document (its kernel an
  // absolute path); QEMU runs with its RAM file in ram_dir, ferry's preload library for dirty
  // tracking, and the accelerator chosen for this host.
  // `attachments`: this host's access to the guest's resources ({"<id>": attach}, see
  // engine/vm/qemu/qemu_attachments.h).
  Result<std::shared_ptr<Vm>> start(std::string_view kind, const nlohmann::json& spec,
                                    const nlohmann::json& attachments = {}) const;
  // The guest of an incoming migration, which will run on `files` once they are filled. A QEMU
  // guest starts here and now, paused, waiting for its device state.
  Result<std::unique_ptr<IncomingVm>> prepare_incoming(
      const Offer& offer, const std::vector<RamRegionInfo>& files,
      const nlohmann::json& attachments = {}) const;

  Result<std::string> make_run_dir(const std::string& name) const;

 private:
  Result<std::shared_ptr<Vm>> start_qemu(const nlohmann::json& spec,
                                         const nlohmann::json& attachments) const;
  Result<std::unique_ptr<IncomingVm>> prepare_incoming_qemu(
      const Offer& offer, const std::vector<RamRegionInfo>& files,
      const nlohmann::json& attachments) const;

  AgentConfig config_;
};

}  // namespace ferry
