// The ferry agent of one host: hosts guests, sends and receives migrations, and serves the local
// API (HTTP + JSON on state_dir/api.sock) that the command line and toolstacks use.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/control/agent_config.h"
#include "engine/control/host_evacuation.h"
#include "engine/control/http/api_types.h"
#include "engine/control/migration_table.h"
#include "engine/control/peer_listener.h"
#include "engine/control/vm_launcher.h"
#include "engine/control/vm_registry.h"
#include "engine/error/error.h"
#include "engine/transport/asio.h"

namespace ferry {

class HttpApiServer;

class Agent final : public ApiHandler {
 public:
  explicit Agent(AgentConfig config);
  ~Agent() override;

  // Listens for peers and for the API, writes state_dir/agent.json, starts the io threads.
  Result<void> start();
  // Blocks until SIGINT/SIGTERM or stop(); then stops the guests it hosts and cleans up.
  void run_until_signal();
  void stop();

  uint16_t peer_port() const { return peer_port_; }

  ApiResponse handle(const ApiRequest& request) override;
  std::optional<EventStream> open_stream(const ApiRequest& request) override;

 private:
  ApiResponse host_info() const;
  ApiResponse list_vms() const;
  ApiResponse start_vm(const nlohmann::json& body);
  ApiResponse vm_action(const std::string& name, const std::string& method,
                        const std::string& action, const nlohmann::json& body);
  ApiResponse start_migration(const nlohmann::json& body);
  ApiResponse migration_action(const std::string& id, const std::string& method,
                               const std::string& action, const nlohmann::json& body);
  // {"error": {"code", "message", "host"[, "phase"]}} with the code's HTTP status.
  ApiResponse error_response(const Error& error, std::string_view phase = {}) const;
  ApiResponse error_response(Errc code, const std::string& message) const;
  ApiResponse start_evacuation(const nlohmann::json& body);
  ApiResponse metrics();
  ApiResponse evacuation_action(const std::string& id, const std::string& method,
                                const std::string& action);
  // The evacuation's view of this host's VMs and of its peers (the rest is set per evacuation).
  HostEvacuation::Hooks evacuation_hooks();
  void shutdown_guests();
  // An empty set bound to this host's drivers and mappings.
  std::shared_ptr<ResourceSet> new_resource_set() const;

  AgentConfig config_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  VmRegistry vms_;
  VmLauncher launcher_;
  MigrationTable migrations_;
  std::mutex evacuations_mutex_;
  std::map<std::string, std::shared_ptr<HostEvacuation>> evacuations_;
  uint64_t next_evacuation_ = 1;
  std::unique_ptr<PeerListener> peers_;
  std::unique_ptr<HttpApiServer> api_;
  uint16_t peer_port_ = 0;
};

// HTTP status for an error code (404 for not_found, 400 for invalid_argument, ...).
int http_status_for(Errc code);

}  // namespace ferry
