// `ferry demo`: the main job with no set-up. Two agents on loopback, a simulated guest that keeps
// writing its memory, migrated live from one to the other with progress, then verified.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "apps/ferry/commands.h"
#include "apps/ferry/exit_codes.h"
#include "apps/ferry/migration_follower.h"

extern char** environ;

namespace ferry::cli {

namespace fs = std::filesystem;

namespace {

// An agent process the demo started; stopped (SIGTERM, then SIGKILL) when it goes out of scope.
class DemoAgent {
 public:
  static Result<DemoAgent> start(const fs::path& dir, const std::string& name) {
    fs::create_directories(dir);
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    // Both agents are on loopback: plain TCP, said out loud in the demo's output.
    std::vector<std::string> args = {self,          "agent",       "--listen",
                                     "127.0.0.1:0", "--state-dir", dir.string(),
                                     "--host-name", name,          "--insecure"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = (dir / "agent.log").string();
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return errno_error("starting agent " + name, rc);
    DemoAgent agent(pid, dir);
    // The agent writes agent.json once it listens.
    for (int i = 0; i < 200; ++i) {
      std::ifstream in(dir / "agent.json");
      if (in) {
        try {
          auto info = nlohmann::json::parse(in);
          agent.port_ = info.at("port").get<uint16_t>();
          return agent;
        } catch (const std::exception&) {
        }
      }
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        agent.pid_ = -1;
        return Error(Errc::internal, fmt::format("agent {} exited at start; see {}", name, log));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return Error(Errc::timeout,
                 fmt::format("agent {} did not start within 5 s; see {}", name, log));
  }
  DemoAgent(DemoAgent&& o) noexcept
      : pid_(std::exchange(o.pid_, -1)), dir_(o.dir_), port_(o.port_) {}
  ~DemoAgent() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  uint16_t port() const { return port_; }
  std::string socket() const { return (dir_ / "api.sock").string(); }

 private:
  DemoAgent(pid_t pid, fs::path dir) : pid_(pid), dir_(std::move(dir)) {}
  pid_t pid_;
  fs::path dir_;
  uint16_t port_ = 0;
};

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  struct Options {
    std::string memory = "1G";
    int64_t dirty_rate = 64;
    unsigned streams = 2;
    int max_downtime_ms = 300;
    bool json = false;
    bool keep = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "demo", "Migrate a simulated guest between two agents on loopback, live, and verify it");
  cmd->add_option("--memory", o->memory, "Guest RAM")->capture_default_str();
  cmd->add_option("--dirty-rate", o->dirty_rate, "MiB/s the guest writes while it moves")
      ->capture_default_str();
  cmd->add_option("--streams", o->streams, "Data connections")->capture_default_str();
  cmd->add_option("--max-downtime", o->max_downtime_ms, "Downtime budget in ms")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "End with one JSON object (progress as JSON lines before it)");
  cmd->add_flag("--keep", o->keep, "Keep the demo's directory (agent logs) afterwards");
  cmd->callback([o, &exit_code] {
    auto memory = byte_size_option("demo", "--memory", o->memory, exit_code);
    if (!memory) return;
    char tmpl[] = "/tmp/ferry-demo-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      fmt::print(stderr, "ferry demo: mkdtemp: {}\n", std::strerror(errno));
      exit_code = kExitFailed;
      return;
    }
    const fs::path dir = tmpl;
    auto say = [&](const std::string& text) {
      if (!o->json) fmt::print("{}\n", text);
    };
    nlohmann::json final;
    {
      auto a = DemoAgent::start(dir / "host-a", "host-a");
      if (!a) {
        fmt::print(stderr, "ferry demo: {}\n", a.error().message());
        exit_code = kExitFailed;
        return;
      }
      auto b = DemoAgent::start(dir / "host-b", "host-b");
      if (!b) {
        fmt::print(stderr, "ferry demo: {}\n", b.error().message());
        exit_code = kExitFailed;
        return;
      }
      say(fmt::format("ferry demo: agents host-a (127.0.0.1:{}) and host-b (127.0.0.1:{})",
                      a->port(), b->port()));
      say("peers: plain TCP (--insecure, loopback demo)");
      ApiClient client_a(a->socket(), std::chrono::seconds(120));
      ApiClient client_b(b->socket(), std::chrono::seconds(120));
      nlohmann::json spec = {{"name", "demo-vm"},
                             {"memory", *memory},
                             {"dirty_rate_mib", o->dirty_rate},
                             {"pattern", "uniform"},
                             {"seed", 42}};
      say(fmt::format(
          "ferry demo: starting simulated guest demo-vm ({} MiB, writing {} MiB/s) on host-a",
          *memory >> 20, o->dirty_rate));
      auto vm = client_a.call("POST", "/v1/vms", {{"kind", "sim"}, {"spec", spec}});
      if (!vm || vm->status >= 300) {
        fmt::print(stderr, "ferry demo: starting the guest: {}\n",
                   vm ? vm->body.dump() : vm.error().message());
        exit_code = kExitFailed;
        return;
      }
      // Let the guest run for a moment so that the migration meets a working set, not a fresh one.
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      say(fmt::format("ferry demo: migrating demo-vm to host-b over {} streams", o->streams));
      nlohmann::json request = {{"vm", "demo-vm"},
                                {"to", fmt::format("127.0.0.1:{}", b->port())},
                                {"streams", o->streams},
                                {"verify", true},
                                {"settings", {{"max-downtime-ms", o->max_downtime_ms}}}};
      ProgressDisplay display(ProgressDisplay::choose(o->json));
      auto result = follow_migration(client_a, request, display);
      if (!result) {
        fmt::print(stderr, "ferry demo: {}\n", result.error().message());
        exit_code = kExitFailed;
        return;
      }
      final = *result;
      // Where does the guest run now? On B, and no longer on A.
      auto on_b = client_b.call("GET", "/v1/vms/demo-vm");
      auto on_a = client_a.call("GET", "/v1/vms/demo-vm");
      final["running-on-destination"] =
          on_b && on_b->status == 200 && on_b->body.value("state", "") == "running";
      final["gone-from-source"] = on_a && on_a->status == 404;
      (void)client_b.call("DELETE", "/v1/vms/demo-vm");
      (void)client_a.call("DELETE", "/v1/vms/demo-vm");
    }
    if (!o->keep) fs::remove_all(dir);

    const bool completed = final.value("status", "") == "completed";
    const bool verified = completed && final.contains("verification") &&
                          final["verification"].value("verified", false) &&
                          final.value("running-on-destination", false) &&
                          final.value("gone-from-source", false);
    const double total_ms = final.value("total-time", 0.0);
    const double transferred = final.value("transferred", 0.0);
    nlohmann::json summary = {
        {"status", final.value("status", "failed")},
        {"verified", verified},
        {"total_time_ms", total_ms},
        {"downtime_ms", final.value("downtime", 0.0)},
        {"transferred_bytes", transferred},
        {"rounds", final.value("round", 0) + 1},
        {"throughput_mbps", total_ms > 0 ? transferred * 8 / (total_ms / 1000) / 1e6 : 0.0},
        {"memory_bytes", *memory},
        {"dirty_rate_mib", o->dirty_rate},
        {"streams", o->streams},
        {"stats", final}};
    if (o->json) {
      fmt::print("{}\n", summary.dump());
    } else {
      print_summary(final);
      fmt::print("throughput:   {:.0f} Mbit/s over the whole job\n",
                 summary["throughput_mbps"].get<double>());
      fmt::print("guest:        {} on host-b, {} on host-a\n",
                 final.value("running-on-destination", false) ? "running" : "NOT running",
                 final.value("gone-from-source", false) ? "gone" : "STILL PRESENT");
      if (o->keep) fmt::print("logs:         {}\n", dir.string());
    }
    exit_code = verified ? kExitOk : (completed ? kExitNotVerified : kExitFailed);
  });
}

}  // namespace ferry::cli
