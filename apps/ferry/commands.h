// Each subcommand of the ferry command line registers itself on the CLI11 app; its callback sets
// the process exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace ferry::cli {

void add_agent_command(CLI::App& app, int& exit_code);
void add_vm_commands(CLI::App& app, int& exit_code);
void add_migrate_command(CLI::App& app, int& exit_code);
void add_demo_command(CLI::App& app, int& exit_code);
void add_pki_command(CLI::App& app, int& exit_code);
void add_evacuation_command(CLI::App& app, int& exit_code);
void add_job_commands(CLI::App& app, int& exit_code);

// A size option ("64M", "1G"): the bytes, or nullopt after printing "ferry COMMAND: OPTION: why"
// and setting the usage exit code.
std::optional<uint64_t> byte_size_option(std::string_view command, std::string_view option,
                                         const std::string& text, int& exit_code);

// Where the local agent keeps its API socket: --state-dir, else $FERRY_STATE_DIR, else /run/ferry.
std::string resolve_state_dir(const std::string& flag);
std::string api_socket(const std::string& state_dir);

}  // namespace ferry::cli
