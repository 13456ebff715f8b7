// ferry-sim-guest: a process that behaves like a VM's memory (see engine/vm/sim/README.md).
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "engine/memory/page.h"
#include "engine/posix/network_namespace.h"
#include "engine/vm/sim/byte_size.h"
#include "engine/vm/sim/control_server.h"
#include "engine/vm/sim/guest_state.h"
#include "engine/vm/sim/sim_guest.h"

namespace {

using ferry::Errc;
using ferry::Error;
using ferry::Result;
using namespace ferry::sim;

struct CommandLine {
  std::string ram_path;
  std::string control_path;
  std::string resume_state_path;
  std::optional<std::string> memory, wss, fill, pattern, content;
  std::optional<int64_t> dirty_rate;
  std::optional<uint64_t> seed;
  std::optional<std::string> tap, mac, ip, netns;
};

Result<uint64_t> size_option(const std::optional<std::string>& text, const char* name,
                             uint64_t fallback) {
  if (!text) return fallback;
  auto size = parse_byte_size(*text);
  if (!size) return std::move(size).error().within(name);
  return *size;
}

Result<GuestState> read_state_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(Errc::not_found, "cannot open resume state file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Error(Errc::invalid_argument, "resume state file " + path + ": not JSON");
  auto state = GuestState::from_json(j);
  if (!state) return std::move(state).error().within("resume state file " + path);
  return state;
}

// Fresh start: the options make the state. Resume: the state file does; options that are given
// must agree with it (a different seed or size would make every page "bad").
Result<GuestState> build_state(const CommandLine& cl) {
  GuestState state;
  if (!cl.resume_state_path.empty()) {
    auto loaded = read_state_file(cl.resume_state_path);
    if (!loaded) return loaded;
    state = *loaded;
    auto mismatch = [&](const char* what) {
      return Error(Errc::invalid_argument,
                   fmt::format("--{} differs from resume state {}", what, cl.resume_state_path));
    };
    auto memory = size_option(cl.memory, "--memory", state.memory);
    auto wss = size_option(cl.wss, "--wss", state.wss);
    auto fill = size_option(cl.fill, "--fill", state.fill);
    if (!memory) return std::move(memory).error();
    if (!wss) return std::move(wss).error();
    if (!fill) return std::move(fill).error();
    if (*memory != state.memory) return mismatch("memory");
    if (*wss != state.wss) return mismatch("wss");
    if (*fill != state.fill) return mismatch("fill");
    if (cl.seed && *cl.seed != state.seed) return mismatch("seed");
    if (cl.pattern && *cl.pattern != pattern_name(state.pattern)) return mismatch("pattern");
    if (cl.content && *cl.content != content_name(state.content)) return mismatch("content");
    if (cl.dirty_rate) state.rate_mib = *cl.dirty_rate;
    return state;
  }
  if (!cl.memory)
    return Error(Errc::invalid_argument, "--memory is required without --resume-state");
  auto memory = size_option(cl.memory, "--memory", 0);
  if (!memory) return std::move(memory).error();
  auto wss = size_option(cl.wss, "--wss", *memory);
  auto fill = size_option(cl.fill, "--fill", *memory);
  if (!wss) return std::move(wss).error();
  if (!fill) return std::move(fill).error();
  auto pattern = parse_pattern(cl.pattern.value_or("uniform"));
  if (!pattern) {
    return Error(Errc::invalid_argument,
                 "--pattern must be uniform, hot or sequential, not " + *cl.pattern);
  }
  auto content = parse_content(cl.content.value_or("random"));
  if (!content) {
    return Error(Errc::invalid_argument,
                 "--content must be random or compressible, not " + *cl.content);
  }
  state.content = *content;
  state.memory = *memory;
  state.wss = *wss;
  state.fill = *fill;
  state.pattern = *pattern;
  state.seed = cl.seed.value_or(1);
  state.rate_mib = cl.dirty_rate.value_or(0);
  state.writes = 0;
  if (auto valid = state.validate(); !valid) return std::move(valid).error();
  return state;
}

// The NIC is all three options or none.
Result<std::optional<NicOptions>> build_nic(const CommandLine& cl) {
  if (!cl.tap && !cl.mac && !cl.ip) return std::optional<NicOptions>();
  if (!cl.tap || !cl.mac || !cl.ip) {
    return Error(Errc::invalid_argument, "--tap, --mac and --ip go together (the guest's NIC)");
  }
  auto address = parse_nic_address(*cl.mac, *cl.ip);
  if (!address) return std::move(address).error().within("--mac/--ip");
  return std::optional<NicOptions>(NicOptions{*cl.tap, *address});
}

int fail(const Error& error) {
  std::fprintf(stderr, "ferry-sim-guest: %s\n", error.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferry-sim-guest: a process that writes its memory like a VM, and verifies it"};
  CommandLine cl;
  app.add_option("--ram", cl.ram_path, "RAM file (normally in /dev/shm)")->required();
  app.add_option("--control", cl.control_path, "unix socket to listen on for commands")->required();
  app.add_option("--memory", cl.memory, "memory size, e.g. 1G (suffixes K, M, G)");
  app.add_option("--dirty-rate", cl.dirty_rate, "MiB/s written: 0 idle, -1 as fast as possible");
  app.add_option("--pattern", cl.pattern, "uniform | hot | sequential");
  app.add_option("--content", cl.content,
                 "page bodies: random (incompressible) | compressible (~60% lz4, ~35% zstd)");
  app.add_option("--wss", cl.wss, "working set size (default: all memory)");
  app.add_option("--seed", cl.seed, "content seed");
  app.add_option("--fill", cl.fill, "bytes written at start (default: all memory)");
  app.add_option("--resume-state", cl.resume_state_path,
                 "continue from this device state; the RAM file holds the migrated memory");
  app.add_option("--tap", cl.tap, "NIC: an existing multi-queue tap whose queue the guest opens");
  app.add_option("--mac", cl.mac, "NIC: the guest's MAC address, e.g. 52:54:00:12:34:56");
  app.add_option("--ip", cl.ip, "NIC: the guest's IPv4 address, e.g. 10.88.0.10/24");
  app.add_option("--netns", cl.netns, "NIC: the network namespace the tap lives in (/run/netns)");
  CLI11_PARSE(app, argc, argv);

  auto state = build_state(cl);
  if (!state) {
    std::fprintf(stderr, "ferry-sim-guest: %s\n", state.error().message().c_str());
    return 2;
  }
  auto nic = build_nic(cl);
  if (!nic) {
    std::fprintf(stderr, "ferry-sim-guest: %s\n", nic.error().message().c_str());
    return 2;
  }
  // The whole guest joins the tap's namespace before any thread starts: a host whose Open vSwitch
  // runs in a namespace of its own (the tests' pools) keeps its guests' taps there.
  if (cl.netns) {
    if (!*nic) return fail(Error(Errc::invalid_argument, "--netns needs --tap, --mac and --ip"));
    if (auto entered = ferry::enter_network_namespace(*cl.netns); !entered)
      return fail(std::move(entered).error().within("--netns"));
  }
  // Before any thread starts, so that every thread leaves termination signals to the signalfd.
  auto signal_fd = ControlServer::block_termination_signals();
  if (!signal_fd) return fail(signal_fd.error());

  auto guest = SimGuest::start({cl.ram_path, *state, !cl.resume_state_path.empty(), *nic});
  if (!guest) return fail(guest.error());
  // Listening last: a client that can connect knows the memory is ready.
  auto server = ControlServer::listen(cl.control_path, std::move(*signal_fd));
  if (!server) return fail(server.error());
  auto served = server->serve([&](const nlohmann::json& r) { return (*guest)->handle(r); });
  if (!served) return fail(served.error());
  return 0;
}
