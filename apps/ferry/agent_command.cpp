#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "engine/control/agent.h"

namespace ferry::cli {

void add_agent_command(CLI::App& app, int& exit_code) {
  auto config = std::make_shared<AgentConfig>();
  auto state_dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("agent",
                                 "Run the agent of this host: hosts guests, sends and "
                                 "receives migrations, serves the API on STATE_DIR/api.sock");
  cmd->add_option("--listen", config->listen,
                  "Address for peer agents (HOST:PORT; port 0 picks one)")
      ->capture_default_str();
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
  cmd->add_option("--protocol-version", config->protocol_version,
                  "Testing: speak only this protocol version")
      ->group("");  // hidden
  cmd->callback([=, &exit_code] {
    config->state_dir = resolve_state_dir(*state_dir);
    config->io_timeout = std::chrono::milliseconds(timeout->as<int>());
    Agent agent(*config);
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
