#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/ferry/api_client.h"
#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "engine/precopy/human_units.h"
#include "engine/vm/sim/byte_size.h"

namespace ferry::cli {

namespace {

// Prints an API error the way every command does, and returns the exit code for it.
int report(const Result<ApiReply>& reply) {
  if (!reply) {
    fmt::print(stderr, "ferry: {}\n", reply.error().message());
    return kExitAgent;
  }
  if (reply->status >= 300) {
    const auto& e = reply->body.contains("error") ? reply->body["error"] : reply->body;
    fmt::print(stderr, "ferry: {} ({})\n", e.value("message", reply->body.dump()),
               e.value("code", std::to_string(reply->status)));
    return kExitAgent;
  }
  return kExitOk;
}

// Reads a VM description: {"kind": "qemu", "spec": {...}} or a bare QEMU VM spec. Comments
// (// and /* */) are allowed. A relative "kernel" is resolved against the file's directory: the
// agent needs absolute paths (it runs elsewhere, and the spec travels to other hosts).
Result<nlohmann::json> read_vm_description(const std::string& path) {
  std::ifstream in(path);
  if (!in) return errno_error(fmt::format("reading VM description {}", path));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false,
                                             /*ignore_comments=*/true);
  if (doc.is_discarded())
    return Error(Errc::invalid_argument, fmt::format("VM description {}: not valid JSON", path));
  if (!doc.is_object())
    return Error(Errc::invalid_argument,
                 fmt::format("VM description {}: expected a JSON object", path));
  if (!doc.contains("spec")) {
    if (doc.contains("kind"))
      return Error(Errc::invalid_argument,
                   fmt::format("VM description {}: has a \"kind\" but no \"spec\"", path));
    doc = {{"kind", "qemu"}, {"spec", doc}};
  }
  if (!doc["kind"].is_string() || !doc["spec"].is_object())
    return Error(
        Errc::invalid_argument,
        fmt::format("VM description {}: \"kind\" must be a string and \"spec\" an object", path));
  auto& spec = doc["spec"];
  if (doc["kind"] == "qemu" && spec.contains("kernel") && spec["kernel"].is_string()) {
    std::filesystem::path kernel = spec["kernel"].get<std::string>();
    if (!kernel.empty() && kernel.is_relative()) {
      const auto base = std::filesystem::absolute(path).parent_path();
      spec["kernel"] = (base / kernel).lexically_normal().string();
    }
  }
  return doc;
}

}  // namespace

void add_vm_commands(CLI::App& app, int& exit_code) {
  auto state_dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);

  auto* sim = app.add_subcommand("sim", "Simulated guests");
  sim->require_subcommand(1);
  auto* start = sim->add_subcommand("start", "Start a simulated guest on the local agent");
  auto name = std::make_shared<std::string>();
  auto memory = std::make_shared<std::string>("1G");
  auto rate = std::make_shared<int64_t>(0);
  auto pattern = std::make_shared<std::string>("uniform");
  auto content = std::make_shared<std::string>("random");
  auto wss = std::make_shared<std::string>("0");
  auto seed = std::make_shared<uint64_t>(1);
  start->add_option("--name", *name, "VM name")->required();
  start->add_option("--memory", *memory, "RAM size (e.g. 512M, 1G)")->capture_default_str();
  start->add_option("--dirty-rate", *rate, "MiB/s the guest writes (0 idle, -1 as fast as it can)")
      ->capture_default_str();
  start->add_option("--pattern", *pattern, "uniform | hot | sequential")->capture_default_str();
  start
      ->add_option("--content", *content,
                   "Page bodies: random (incompressible) | compressible (as real memory)")
      ->check(CLI::IsMember({"random", "compressible"}))
      ->capture_default_str();
  start->add_option("--wss", *wss, "Working set size (0 = all memory)")->capture_default_str();
  start->add_option("--seed", *seed, "Seed of the guest's page contents")->capture_default_str();
  start->add_option("--state-dir", *state_dir, "Agent state directory");
  start->add_flag("--json", *json, "Print JSON");
  start->callback([=, &exit_code] {
    auto bytes = sim::parse_byte_size(*memory);
    auto wss_bytes = sim::parse_byte_size(*wss);
    if (!bytes || !wss_bytes) {
      fmt::print(stderr, "ferry: {}\n", (!bytes ? bytes.error() : wss_bytes.error()).message());
      exit_code = kExitUsage;
      return;
    }
    nlohmann::json spec = {{"name", *name},       {"memory", *bytes},  {"dirty_rate_mib", *rate},
                           {"pattern", *pattern}, {"wss", *wss_bytes}, {"seed", *seed},
                           {"content", *content}};
    ApiClient client(api_socket(resolve_state_dir(*state_dir)));
    auto reply = client.call("POST", "/v1/vms", {{"kind", "sim"}, {"spec", spec}});
    exit_code = report(reply);
    if (exit_code != kExitOk) return;
    if (*json)
      fmt::print("{}\n", reply->body.dump());
    else
      fmt::print("started {} (pid {}, {} RAM)\n", *name, reply->body.value("pid", 0),
                 format_bytes(static_cast<double>(*bytes)));
  });

  auto* vm = app.add_subcommand("vm", "Guests on the local agent");
  vm->require_subcommand(1);
  auto* list = vm->add_subcommand("list", "List the guests this agent hosts");
  list->add_option("--state-dir", *state_dir, "Agent state directory");
  list->add_flag("--json", *json, "Print JSON");
  list->callback([=, &exit_code] {
    ApiClient client(api_socket(resolve_state_dir(*state_dir)));
    auto reply = client.call("GET", "/v1/vms");
    exit_code = report(reply);
    if (exit_code != kExitOk) return;
    if (*json) {
      fmt::print("{}\n", reply->body.dump());
      return;
    }
    fmt::print("{:<20} {:<6} {:<10} {:>8} {:>10}  {}\n", "NAME", "KIND", "STATE", "PID", "MEMORY",
               "MIGRATING");
    for (const auto& v : reply->body["vms"])
      fmt::print("{:<20} {:<6} {:<10} {:>8} {:>10}  {}\n", v.value("name", "?"),
                 v.value("kind", "?"), v.value("state", "?"), v.value("pid", 0),
                 format_bytes(v.value("memory", 0.0)), v.value("migrating", false) ? "yes" : "");
  });

  auto description_file = std::make_shared<std::string>();
  auto* vm_start = vm->add_subcommand(
      "start",
      "Start a guest from a VM description (JSON: {\"kind\":\"qemu\",\"spec\":{...}} or a "
      "bare QEMU VM spec; see tests/guest/example-vm.json)");
  vm_start->add_option("file", *description_file, "VM description file")->required();
  vm_start->add_option("--state-dir", *state_dir, "Agent state directory");
  vm_start->add_flag("--json", *json, "Print JSON");
  vm_start->callback([=, &exit_code] {
    auto description = read_vm_description(*description_file);
    if (!description) {
      fmt::print(stderr, "ferry: {}\n", description.error().message());
      exit_code = kExitUsage;
      return;
    }
    // QEMU's start (connecting QMP, the console, dirty tracking) takes a few seconds on a busy
    // host.
    ApiClient client(api_socket(resolve_state_dir(*state_dir)), std::chrono::seconds(120));
    auto reply = client.call("POST", "/v1/vms", *description);
    exit_code = report(reply);
    if (exit_code != kExitOk) return;
    const auto& vm_info = reply->body;
    if (*json) {
      fmt::print("{}\n", vm_info.dump());
      return;
    }
    std::string accel;
    if (vm_info.contains("accelerator") && vm_info["accelerator"].is_object())
      accel = ", accelerator " + vm_info["accelerator"].value("accel", "?");
    fmt::print("started {} {} (pid {}, {} RAM{})\n", vm_info.value("kind", "?"),
               vm_info.value("name", "?"), vm_info.value("pid", 0),
               format_bytes(vm_info.value("memory", 0.0)), accel);
  });

  auto vm_name = std::make_shared<std::string>();
  auto* stop = vm->add_subcommand("stop", "Stop a guest and remove its memory");
  stop->add_option("name", *vm_name, "VM name")->required();
  stop->add_option("--state-dir", *state_dir, "Agent state directory");
  stop->callback([=, &exit_code] {
    ApiClient client(api_socket(resolve_state_dir(*state_dir)));
    exit_code = report(client.call("DELETE", "/v1/vms/" + *vm_name));
  });

  auto* verify = vm->add_subcommand("verify", "Ask a guest to verify all of its memory");
  verify->add_option("name", *vm_name, "VM name")->required();
  verify->add_option("--state-dir", *state_dir, "Agent state directory");
  verify->add_flag("--json", *json, "Print JSON");
  verify->callback([=, &exit_code] {
    ApiClient client(api_socket(resolve_state_dir(*state_dir)));
    auto reply = client.call("POST", "/v1/vms/" + *vm_name + "/verify");
    exit_code = report(reply);
    if (exit_code != kExitOk) return;
    if (*json)
      fmt::print("{}\n", reply->body.dump());
    else
      fmt::print("{}: {} ({} pages checked, {} bad) {}\n", *vm_name,
                 reply->body.value("ok", false) ? "VERIFY OK" : "VERIFY FAIL",
                 reply->body.value("pages", 0), reply->body.value("bad", 0),
                 reply->body.value("detail", ""));
    if (!reply->body.value("ok", false)) exit_code = kExitNotVerified;
  });
}

}  // namespace ferry::cli
