// `ferry evacuate --to A,B`: empties this host through its agent (POST /v1/evacuations), follows
// it, and prints where each VM went, or why it is still here.
#include <chrono>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "apps/ferry/api_client.h"
#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "engine/control/http/api_error.h"

namespace ferry::cli {
namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

std::string number_or_dash(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? fmt::format("{}", j[key].dump()) : "-";
}

void print_report(const nlohmann::json& report) {
  fmt::print("evacuation {} of {}: {} ({} moved, {} left)\n", report.value("id", ""),
             report.value("host", ""), report.value("state", ""), report.value("moved", 0),
             report["remaining"].size());
  fmt::print("{:<20} {:<10} {:<24} {:>12} {:>14}  {}\n", "VM", "STATE", "DESTINATION",
             "DOWNTIME ms", "TOTAL TIME ms", "REASON");
  for (const auto& vm : report["vms"]) {
    const nlohmann::json move = vm.value("move", nlohmann::json::object());
    fmt::print("{:<20} {:<10} {:<24} {:>12} {:>14}  {}\n", vm.value("vm", ""),
               vm.value("state", ""), vm.value("destination", "-"),
               number_or_dash(move, "downtime"), number_or_dash(move, "total-time"),
               vm.value("reason", ""));
  }
}

}  // namespace

void add_evacuation_command(CLI::App& app, int& exit_code) {
  struct Options {
    std::string state_dir, to, max_bandwidth = "0";
    unsigned concurrency = 2, streams = 2;
    int max_downtime_ms = 300;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "evacuate", "Move every VM of the local agent to other hosts (maintenance), live");
  cmd->add_option("--to", o->to, "Destination agents, HOST:PORT,HOST:PORT,...")->required();
  cmd->add_option("--concurrency", o->concurrency, "Migrations at once")->capture_default_str();
  cmd->add_option("--max-bandwidth", o->max_bandwidth,
                  "Bytes per second shared by the running migrations (K, M, G; 0 = unlimited)")
      ->capture_default_str();
  cmd->add_option("--max-downtime", o->max_downtime_ms, "Downtime budget of each move in ms")
      ->capture_default_str();
  cmd->add_option("--streams", o->streams, "Data connections per move")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the final report as JSON");
  cmd->add_option("--state-dir", o->state_dir, "Agent state directory");
  cmd->callback([o, &exit_code] {
    auto bandwidth = byte_size_option("evacuate", "--max-bandwidth", o->max_bandwidth, exit_code);
    if (!bandwidth) return;
    const nlohmann::json request = {{"to", split_commas(o->to)},
                                    {"concurrency", o->concurrency},
                                    {"max-bandwidth", *bandwidth},
                                    {"streams", o->streams},
                                    {"settings", {{"max-downtime-ms", o->max_downtime_ms}}}};
    ApiClient client(api_socket(resolve_state_dir(o->state_dir)));
    auto started = client.call("POST", "/v1/evacuations", request);
    if (!started || started->status != 202) {
      const std::string why =
          !started
              ? started.error().message()
              : error_from_api_body(started->body).value_or(Error(Errc::internal, "?")).message();
      fmt::print(stderr, "ferry: evacuate: {}\n", why);
      exit_code = kExitAgent;
      return;
    }
    const std::string id = started->body.value("id", "");
    std::string last_line;
    for (;;) {
      auto report = client.call("GET", "/v1/evacuations/" + id);
      if (!report || report->status != 200) {
        fmt::print(stderr, "ferry: evacuate: lost the agent while following evacuation {}: {}\n",
                   id, report ? report->body.dump() : report.error().message());
        exit_code = kExitAgent;
        return;
      }
      const nlohmann::json& r = report->body;
      const std::string state = r.value("state", "");
      if (state != "running") {
        if (o->json)
          fmt::print("{}\n", r.dump());
        else
          print_report(r);
        exit_code = state == "completed" ? kExitOk : kExitFailed;
        return;
      }
      if (!o->json) {
        size_t moving = 0;
        for (const auto& vm : r["vms"]) moving += vm.value("state", "") == "running";
        const std::string line =
            fmt::format("evacuating: {} moved, {} moving, {} waiting", r.value("moved", 0), moving,
                        r["remaining"].size() - moving);
        if (line != last_line) fmt::print("{}\n", line);
        last_line = line;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
}

}  // namespace ferry::cli
