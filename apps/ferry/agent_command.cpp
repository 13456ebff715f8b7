#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "apps/ferry/journal_logging.h"
#include "apps/ferry/resource_drivers.h"
#include "engine/control/agent.h"
#include "engine/control/agent_config_file.h"
#include "engine/transport/peer_security.h"

namespace ferry::cli {

void add_agent_command(CLI::App& app, int& exit_code) {
  auto config = std::make_shared<AgentConfig>();
  auto state_dir = std::make_shared<std::string>();
  auto config_file = std::make_shared<std::string>();
  auto check_only = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("agent",
                                 "Run the agent of this host: hosts guests, sends and "
                                 "receives migrations, serves the API on STATE_DIR/api.sock");
  cmd->add_option("--config", *config_file,
                  "Agent configuration file (JSON, see docs/operations.md); command-line "
                  "options override it");
  cmd->add_flag("--check-config", *check_only,
                "Check the configuration file and options, print the result, and exit");
  cmd->add_option("--listen", config->listen,
                  "Address for peer agents (HOST:PORT; port 0 picks one)")
      ->capture_default_str();
  cmd->add_option("--api-listen", config->api_listen,
                  "Also serve the API on TCP HOST:PORT (unauthenticated: loopback or a management "
                  "network only)");
  cmd->add_option("--state-dir", *state_dir,
                  "State directory (default $FERRY_STATE_DIR or /run/ferry)");
  cmd->add_option("--ram-dir", config->ram_dir, "Where guest RAM files live")
      ->capture_default_str();
  cmd->add_option("--host-name", config->host_name,
                  "This host's name in reports (default: hostname)");
  cmd->add_option("--io-threads", config->io_threads, "Threads serving connections")
      ->capture_default_str();
  auto* timeout = cmd->add_option("--io-timeout-ms", "Deadline of each network operation (ms)")
                      ->default_val(10000);
  cmd->add_option("--tls-ca", config->tls.ca,
                  "Pool CA certificate (PEM): the only issuer a peer agent may present");
  cmd->add_option("--tls-cert", config->tls.cert,
                  "This host's certificate (PEM), signed by the pool CA (`ferry pki host`)");
  cmd->add_option("--tls-key", config->tls.key, "This host's private key (PEM, mode 0600)");
  cmd->add_flag("--insecure", config->insecure,
                "Talk to peer agents over plain TCP, unauthenticated (loopback demos and tests)");
  cmd->add_option("--protocol-version", config->protocol_version,
                  "Testing: speak only this protocol version")
      ->group("");  // hidden
  cmd->callback([=, &exit_code] {
    use_journal_format_under_systemd();
    AgentConfig effective;
    effective.resource_drivers = linked_resource_drivers();
    if (!config_file->empty()) {
      if (auto loaded = load_agent_config_file(*config_file, effective); !loaded) {
        spdlog::error("agent: {}", loaded.error().message());
        exit_code = kExitUsage;
        return;
      }
    }
    // Options given on the command line win over the file.
    if (cmd->count("--listen")) effective.listen = config->listen;
    if (cmd->count("--api-listen")) effective.api_listen = config->api_listen;
    if (cmd->count("--ram-dir")) effective.ram_dir = config->ram_dir;
    if (cmd->count("--host-name")) effective.host_name = config->host_name;
    if (cmd->count("--io-threads")) effective.io_threads = config->io_threads;
    if (cmd->count("--io-timeout-ms") || config_file->empty())
      effective.io_timeout = std::chrono::milliseconds(timeout->as<int>());
    effective.protocol_version = config->protocol_version;
    // TLS files given as options replace the file's set as a whole (never mix two identities).
    if (cmd->count("--tls-ca") || cmd->count("--tls-cert") || cmd->count("--tls-key"))
      effective.tls = config->tls;
    if (cmd->count("--insecure")) effective.insecure = true;
    auto security = PeerSecurity::configure(effective.tls, effective.insecure);
    if (!security) {
      spdlog::error("agent: {}", security.error().message());
      exit_code = kExitUsage;
      return;
    }
    const bool file_named_state_dir = effective.state_dir != AgentConfig{}.state_dir;
    if (!state_dir->empty() || !file_named_state_dir)
      effective.state_dir = resolve_state_dir(*state_dir);
    if (*check_only) {
      std::vector<std::string> mapped;
      for (const auto& item : effective.host_resources.items()) mapped.push_back(item.key());
      fmt::print(
          "configuration OK: host {}, listen {}, state dir {}, RAM dir {}, API on TCP {}, "
          "drivers [{}], host mappings for [{}], peers: {}\n",
          effective.host_name.empty() ? "(system host name)" : effective.host_name,
          effective.listen, effective.state_dir, effective.ram_dir,
          effective.api_listen.empty() ? "no" : effective.api_listen,
          fmt::join(effective.resource_drivers->names(), ", "), fmt::join(mapped, ", "),
          security->description());
      exit_code = kExitOk;
      return;
    }
    Agent agent(effective);
    if (auto started = agent.start(); !started) {
      spdlog::error("agent: {}", started.error().message());
      exit_code = kExitFailed;
      return;
    }
    agent.run_until_signal();
    exit_code = kExitOk;
  });
}

}  // namespace ferry::cli
