#include "engine/vm/sim/sim_guest.h"

#include <unistd.h>

#include <chrono>

#include "engine/memory/page.h"

namespace ferry::sim {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

nlohmann::json error_reply(std::string message) {
  return {{"ok", false}, {"error", std::move(message)}};
}

}  // namespace

Result<std::unique_ptr<SimGuest>> SimGuest::start(const GuestOptions& options) {
  const GuestState& state = options.state;
  if (auto valid = state.validate(); !valid) return std::move(valid).error();
  const auto start = Clock::now();
  auto ram = options.resume
                 ? GuestRam::open(options.ram_path, state.memory)
                 : GuestRam::create(options.ram_path, state.memory, state.fill / kPageSize,
                                    state.seed, state.content, content_threads());
  if (!ram) return std::move(ram).error();
  std::unique_ptr<TapEndpoint> nic;
  if (options.nic) {
    auto opened = TapEndpoint::open(options.nic->tap, options.nic->address);
    if (!opened) return std::move(opened).error();
    nic = std::move(*opened);
  }
  std::unique_ptr<SimGuest> guest(
      new SimGuest(std::move(*ram), state, seconds_since(start), std::move(nic)));
  if (!options.resume) guest->run();
  return guest;
}

SimGuest::SimGuest(GuestRam ram, GuestState state, double fill_seconds,
                   std::unique_ptr<TapEndpoint> nic)
    : ram_(std::move(ram)), initial_(state), fill_seconds_(fill_seconds), nic_(std::move(nic)) {
  writer_ =
      std::make_unique<PageWriter>(ram_, initial_.model(), initial_.writes, initial_.rate_mib);
}

void SimGuest::run() {
  writer_->run();
  if (nic_) nic_->run();
}

void SimGuest::pause() {
  if (nic_) nic_->pause();
  writer_->pause();
}

nlohmann::json SimGuest::device_state() const {
  GuestState now = initial_;
  now.writes = writer_->writes();
  now.rate_mib = writer_->rate();
  return now.to_json();
}

nlohmann::json SimGuest::status() const {
  nlohmann::json reply = {{"ok", true},
                          {"state", writer_->running() ? "running" : "paused"},
                          {"writes", writer_->writes()},
                          {"rate", writer_->rate()},
                          {"pid", ::getpid()},
                          {"memory", initial_.memory},
                          {"pattern", pattern_name(initial_.pattern)},
                          {"fill_seconds", fill_seconds_}};
  if (nic_) reply["nic"] = nic_->status();
  return reply;
}

nlohmann::json SimGuest::verify() {
  const bool was_running = writer_->running();
  writer_->pause();
  const uint64_t writes = writer_->writes();
  const auto start = Clock::now();
  auto report = ram_.verify(initial_.model(), writes, content_threads());
  const double seconds = seconds_since(start);
  if (was_running) writer_->run();
  if (!report) return error_reply(report.error().message());
  return {{"ok", report->ok()},       {"pages", report->pages_checked},
          {"bad", report->pages_bad}, {"detail", report->describe()},
          {"writes", writes},         {"seconds", seconds}};
}

ControlReply SimGuest::handle(const nlohmann::json& request) {
  auto cmd_field = request.find("cmd");
  if (cmd_field == request.end() || !cmd_field->is_string()) {
    return {error_reply("request has no string field 'cmd'")};
  }
  const std::string cmd = cmd_field->get<std::string>();
  if (cmd == "status") return {status()};
  if (cmd == "pause") {
    pause();
    return {{{"ok", true},
             {"state", "paused"},
             {"writes", writer_->writes()},
             {"device_state", device_state()}}};
  }
  if (cmd == "resume") {
    run();
    return {{{"ok", true}, {"state", "running"}, {"writes", writer_->writes()}}};
  }
  if (cmd == "verify") return {verify()};
  if (cmd == "set-rate") {
    auto mib = request.find("mib");
    if (mib == request.end() || !mib->is_number_integer() || mib->get<int64_t>() < -1) {
      return {error_reply("set-rate: 'mib' must be an integer >= -1 (MiB/s; 0 idle, -1 unpaced)")};
    }
    writer_->set_rate(mib->get<int64_t>());
    return {{{"ok", true}, {"rate", writer_->rate()}}};
  }
  if (cmd == "device-state") {
    if (writer_->running())
      return {error_reply("device-state: the guest is running; pause it first")};
    return {{{"ok", true}, {"device_state", device_state()}}};
  }
  if (cmd == "quit") {
    pause();
    return {{{"ok", true}, {"writes", writer_->writes()}}, /*quit=*/true};
  }
  return {error_reply("unknown command '" + cmd +
                      "' (status, pause, resume, verify, set-rate, device-state, quit)")};
}

}  // namespace ferry::sim
