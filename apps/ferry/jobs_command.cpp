// Job control from the command line: `ferry jobs`, `ferry cancel ID`, `ferry set-downtime ID MS`,
// `ferry set-bandwidth ID BYTES`, all through the local agent's API.
#include <fmt/format.h>

#include "apps/ferry/api_client.h"
#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "engine/control/http/api_error.h"

namespace ferry::cli {
namespace {

// Calls the agent; prints the error and sets the exit code when it fails. Returns the reply body.
std::optional<nlohmann::json> call(const std::string& state_dir, const std::string& method,
                                   const std::string& path, const nlohmann::json& body,
                                   int expected, int& exit_code, const char* what) {
  ApiClient client(api_socket(resolve_state_dir(state_dir)));
  auto reply = client.call(method, path, body);
  if (!reply) {
    fmt::print(stderr, "ferry: {}: {}\n", what, reply.error().message());
    exit_code = kExitAgent;
    return std::nullopt;
  }
  if (reply->status != expected) {
    const auto error = error_from_api_body(reply->body);
    fmt::print(
        stderr, "ferry: {}: {}\n", what,
        error ? error->message() : fmt::format("HTTP {} {}", reply->status, reply->body.dump()));
    exit_code = reply->status == 404 ? kExitUsage : kExitFailed;
    return std::nullopt;
  }
  exit_code = kExitOk;
  return reply->body;
}

std::string progress_text(const nlohmann::json& stats) {
  const uint64_t total = stats.value("total", uint64_t{0});
  const uint64_t remaining = stats.value("remaining", uint64_t{0});
  if (stats.value("status", "") == "completed") return "100%";
  if (total == 0) return "-";
  return fmt::format("{}% of round", 100 - std::min<uint64_t>(100, remaining * 100 / total));
}

void add_setting_command(CLI::App& app, int& exit_code, const char* name, const char* help,
                         const char* key, bool bytes) {
  struct Options {
    std::string state_dir, id, value;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(name, help);
  cmd->add_option("ID", o->id, "Migration id (ferry jobs)")->required();
  cmd->add_option("VALUE", o->value,
                  bytes ? "Bytes per second (K, M, G; 0 = unlimited)" : "Milliseconds")
      ->required();
  cmd->add_flag("--json", o->json, "Print the agent's answer as JSON");
  cmd->add_option("--state-dir", o->state_dir, "Agent state directory");
  cmd->callback([o, &exit_code, name, key, bytes] {
    nlohmann::json value;
    if (bytes) {
      auto parsed = byte_size_option(name, "VALUE", o->value, exit_code);
      if (!parsed) return;
      value = *parsed;
    } else {
      try {
        value = std::stoull(o->value);
      } catch (const std::exception&) {
        fmt::print(stderr, "ferry: {}: '{}' is not a number of milliseconds\n", name, o->value);
        exit_code = kExitUsage;
        return;
      }
    }
    const nlohmann::json body = {{"settings", {{key, value}}}};
    auto answer =
        call(o->state_dir, "PATCH", "/v1/migrations/" + o->id, body, 200, exit_code, name);
    if (!answer) return;
    if (o->json)
      fmt::print("{}\n", answer->dump());
    else
      fmt::print("migration {}: {} = {}\n", o->id, key, (*answer)["settings"][key].dump());
  });
}

}  // namespace

void add_job_commands(CLI::App& app, int& exit_code) {
  {
    struct Options {
      std::string state_dir;
      bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("jobs", "List the local agent's migrations");
    cmd->add_flag("--json", o->json, "Print the agent's list as JSON");
    cmd->add_option("--state-dir", o->state_dir, "Agent state directory");
    cmd->callback([o, &exit_code] {
      auto list = call(o->state_dir, "GET", "/v1/migrations", nullptr, 200, exit_code, "jobs");
      if (!list) return;
      if (o->json) {
        fmt::print("{}\n", list->dump());
        return;
      }
      fmt::print("{:<6} {:<16} {:<24} {:<10} {:<22} {:>5} {:>12}\n", "ID", "VM", "DESTINATION",
                 "STATE", "PHASE", "ROUND", "PROGRESS");
      for (const auto& m : (*list)["migrations"]) {
        const nlohmann::json stats = m.value("stats", nlohmann::json::object());
        fmt::print("{:<6} {:<16} {:<24} {:<10} {:<22} {:>5} {:>12}\n", m.value("id", ""),
                   m.value("vm", ""), m.value("destination", ""), stats.value("status", ""),
                   stats.value("phase", ""), stats.value("round", 0), progress_text(stats));
      }
    });
  }
  {
    struct Options {
      std::string state_dir, id;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand(
        "cancel", "Cancel a migration; before switchover its VM stays on the source, running");
    cmd->add_option("ID", o->id, "Migration id (ferry jobs)")->required();
    cmd->add_option("--state-dir", o->state_dir, "Agent state directory");
    cmd->callback([o, &exit_code] {
      if (call(o->state_dir, "POST", "/v1/migrations/" + o->id + "/cancel", nullptr, 202, exit_code,
               "cancel"))
        fmt::print("migration {}: cancelling\n", o->id);
    });
  }
  add_setting_command(app, exit_code, "set-downtime",
                      "Change a running migration's maximum downtime", "max-downtime-ms", false);
  add_setting_command(app, exit_code, "set-bandwidth",
                      "Change a running migration's maximum bandwidth", "max-bandwidth", true);
}

}  // namespace ferry::cli
