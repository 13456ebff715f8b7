// ferry: live migration of virtual machines. Thin: parses, calls the agent, prints.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdlib>

#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "engine/vm/sim/byte_size.h"

namespace ferry::cli {

std::string resolve_state_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("FERRY_STATE_DIR"); env && *env) return env;
  return "/run/ferry";
}

std::optional<uint64_t> byte_size_option(std::string_view command, std::string_view option,
                                         const std::string& text, int& exit_code) {
  auto bytes = sim::parse_byte_size(text);
  if (bytes) return *bytes;
  fmt::print(stderr, "ferry {}: {}: {}\n", command, option, bytes.error().message());
  exit_code = kExitUsage;
  return std::nullopt;
}

std::string api_socket(const std::string& state_dir) {
  return state_dir + "/api.sock";
}

}  // namespace ferry::cli

int main(int argc, char** argv) {
  CLI::App app{"ferry: live migration of virtual machines between hosts"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ferry 0.1.0 (protocol 1)");
  int exit_code = ferry::cli::kExitOk;
  ferry::cli::add_agent_command(app, exit_code);
  ferry::cli::add_vm_commands(app, exit_code);
  ferry::cli::add_migrate_command(app, exit_code);
  ferry::cli::add_demo_command(app, exit_code);
  ferry::cli::add_pki_command(app, exit_code);
  ferry::cli::add_evacuation_command(app, exit_code);
  ferry::cli::add_job_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : ferry::cli::kExitUsage;
  }
  return exit_code;
}
