#include <fmt/format.h>

#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "apps/ferry/migration_follower.h"

namespace ferry::cli {

void add_migrate_command(CLI::App& app, int& exit_code) {
  struct Options {
    std::string state_dir, vm, to, max_bandwidth = "0", on_stall = "abort", compress = "auto";
    int max_downtime_ms = 300;
    unsigned streams = 2, max_rounds = 30, stall_rounds = 5;
    bool verify = false, json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd =
      app.add_subcommand("migrate", "Live-migrate a guest of the local agent to another host");
  cmd->add_option("--vm", o->vm, "VM name")->required();
  cmd->add_option("--to", o->to, "Destination agent, HOST:PORT")->required();
  cmd->add_option("--max-downtime", o->max_downtime_ms, "Downtime budget in ms")
      ->capture_default_str();
  cmd->add_option("--max-bandwidth", o->max_bandwidth,
                  "Bytes per second (suffixes K, M, G; 0 = unlimited)")
      ->capture_default_str();
  cmd->add_option("--streams", o->streams, "Data connections")->capture_default_str();
  cmd->add_option("--max-rounds", o->max_rounds, "Pre-copy rounds before giving up")
      ->capture_default_str();
  cmd->add_option("--stall-rounds", o->stall_rounds,
                  "Give up after this many rounds without progress")
      ->capture_default_str();
  cmd->add_option("--on-stall", o->on_stall,
                  "abort (VM stays on the source) or force (stop-and-copy over budget)")
      ->capture_default_str();
  cmd->add_option("--compress", o->compress,
                  "Page encoding: auto (lz4/zstd only while the link is the bottleneck), none, "
                  "lz4, zstd or delta")
      ->check(CLI::IsMember({"auto", "none", "lz4", "zstd", "delta"}))
      ->capture_default_str();
  cmd->add_flag(
      "--verify", o->verify,
      "Check destination memory against the source page by page, and the guest's own check");
  cmd->add_flag("--json", o->json, "One JSON object per line: one per round, then a final one");
  cmd->add_option("--state-dir", o->state_dir, "Agent state directory");
  cmd->callback([o, &exit_code] {
    auto bandwidth = byte_size_option("migrate", "--max-bandwidth", o->max_bandwidth, exit_code);
    if (!bandwidth) return;
    nlohmann::json request = {{"vm", o->vm},
                              {"to", o->to},
                              {"streams", o->streams},
                              {"verify", o->verify},
                              {"settings",
                               {{"max-downtime-ms", o->max_downtime_ms},
                                {"max-bandwidth", *bandwidth},
                                {"max-rounds", o->max_rounds},
                                {"stall-rounds", o->stall_rounds},
                                {"on-stall", o->on_stall},
                                {"compress", o->compress}}}};
    ApiClient client(api_socket(resolve_state_dir(o->state_dir)));
    ProgressDisplay display(ProgressDisplay::choose(o->json));
    auto final = follow_migration(client, request, display);
    if (!final) {
      fmt::print(stderr, "ferry: migrate: {}\n", final.error().message());
      exit_code = final.error().code() == Errc::unreachable ? kExitAgent : kExitFailed;
      return;
    }
    if (!o->json) print_summary(*final);
    exit_code = exit_code_for(*final, o->verify);
  });
}

}  // namespace ferry::cli
