#include "engine/vm/sim/sim_vm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "engine/agent/uffd_handoff.h"
#include "engine/memory/uffd_dirty_log.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kUffdTimeout = 5s;
constexpr auto kStatusTimeout = 2s;
constexpr auto kPauseTimeout = 5s;
constexpr auto kVerifyTimeout = 60s;
constexpr auto kQuitTimeout = 2s;
constexpr int kLogLinesInErrors = 5;

// Filling memory costs about 1 s per GiB here; leave generous room on a busy machine.
std::chrono::milliseconds ready_timeout(uint64_t memory) {
  return std::chrono::milliseconds(15000 + 5000 * (memory >> 30));
}

std::string default_guest_binary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "ferry-sim-guest";
  return (self.parent_path() / "ferry-sim-guest").string();
}

Result<void> write_file(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Error(Errc::io, "write " + path);
  return ok();
}

std::vector<std::string> guest_arguments(const SimSpec& spec, const std::string& ram_path,
                                         const std::string& control_path,
                                         const std::string& resume_state_path) {
  std::vector<std::string> args{"--ram",     ram_path,
                                "--control", control_path,
                                "--memory",  std::to_string(spec.memory),
                                "--pattern", spec.pattern,
                                "--content", spec.content,
                                "--wss",     std::to_string(spec.wss ? spec.wss : spec.memory),
                                "--seed",    std::to_string(spec.seed),
                                "--fill",    std::to_string(spec.fill.value_or(spec.memory))};
  if (spec.nic) {
    args.insert(args.end(), {"--tap", spec.nic->tap, "--mac", spec.nic->mac, "--ip", spec.nic->ip});
    if (!spec.nic->netns.empty()) args.insert(args.end(), {"--netns", spec.nic->netns});
  }
  if (resume_state_path.empty()) {
    // On resume the rate comes from the device state (the source may have changed it).
    args.insert(args.end(), {"--dirty-rate", std::to_string(spec.dirty_rate_mib)});
  } else {
    args.insert(args.end(), {"--resume-state", resume_state_path});
  }
  return args;
}

}  // namespace

Result<std::unique_ptr<SimVm>> SimVm::launch(const SimSpec& spec, const SimLaunch& launch) {
  if (auto valid = spec.validate(); !valid) return std::move(valid).error();
  const std::string where = fmt::format("launch sim VM '{}'", spec.name);
  struct stat st {};
  if (::stat(launch.run_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(Errc::not_found,
                 fmt::format("{}: run directory {} does not exist", where, launch.run_dir));
  }
  if (launch.ram_path.empty()) return Error(Errc::invalid_argument, where + ": no RAM file path");
  // /proc/PID/maps names the file by its canonical path; find_file_mapping compares with it.
  const std::string ram_path = std::filesystem::weakly_canonical(launch.ram_path).string();
  const std::string control_path = launch.run_dir + "/control.sock";
  const std::string log_path = launch.run_dir + "/guest.log";
  std::string resume_state_path;

  auto receiver = UffdReceiver::listen(launch.run_dir + "/uffd.sock");
  if (!receiver) return std::move(receiver).error().within(where);
  if (launch.resume_state) {
    resume_state_path = launch.run_dir + "/resume-state.json";
    if (auto written = write_file(resume_state_path, *launch.resume_state); !written) {
      return std::move(written).error().within(where);
    }
  }
  ::unlink(control_path.c_str());  // never connect to a previous guest's socket

  sim::GuestProcess::Options options;
  options.binary = launch.guest_binary.empty() ? default_guest_binary() : launch.guest_binary;
  options.args = guest_arguments(spec, ram_path, control_path, resume_state_path);
  const std::string preload =
      launch.preload_library.empty() ? default_preload_library_path() : launch.preload_library;
  options.env = {"LD_PRELOAD=" + preload, std::string(kUffdSocketEnv) + "=" + receiver->path(),
                 "FERRY_UFFD_THP_DISABLE=1"};
  options.stderr_path = log_path;
  auto process = sim::GuestProcess::spawn(options);
  if (!process) return std::move(process).error().within(where);

  auto cleanup_failed = [&](Error error) -> Error {
    process->kill_and_reap();
    if (!launch.resume_state) ::unlink(ram_path.c_str());  // ours; a migrated file is the caller's
    ::unlink(control_path.c_str());
    if (!resume_state_path.empty()) ::unlink(resume_state_path.c_str());
    return std::move(error).within(where);
  };
  auto exited_early = [&](std::string_view during) {
    const int status = *process->poll_exit();
    return cleanup_failed(
        Error(Errc::guest, fmt::format("guest {} {} {}; {}: {}", process->pid(),
                                       sim::GuestProcess::describe_status(status), during, log_path,
                                       sim::last_lines_of(log_path, kLogLinesInErrors))));
  };

  // The preload library sends the uffd before the guest's main() runs. One wait for the whole
  // timeout: a shorter one could give up on a guest that has connected but not yet sent.
  auto received = receiver->accept_fd(kUffdTimeout);
  if (!received) {
    if (process->wait_exit(100ms)) return exited_early("before sending its userfaultfd");
    return cleanup_failed(
        Error(received.error().code(),
              fmt::format("{}; guest {} log {}: {}", received.error().message(), process->pid(),
                          log_path, sim::last_lines_of(log_path, kLogLinesInErrors))));
  }
  UniqueFd uffd = std::move(*received);

  // The guest listens once its memory is ready.
  std::optional<sim::ControlClient> control;
  const auto ready_within = ready_timeout(spec.memory);
  for (const auto deadline = Clock::now() + ready_within;;) {
    auto connected = sim::ControlClient::connect(control_path);
    if (connected) {
      control = std::move(*connected);
      break;
    }
    if (process->poll_exit()) return exited_early("before its control socket was ready");
    if (Clock::now() >= deadline) {
      return cleanup_failed(
          Error(Errc::timeout, fmt::format("guest {} did not open {} within {} ms", process->pid(),
                                           control_path, ready_within.count())));
    }
    std::this_thread::sleep_for(5ms);
  }

  std::unique_ptr<SimVm> vm(new SimVm(spec, launch.run_dir, ram_path, std::move(*process),
                                      std::move(uffd), std::move(*control)));
  std::lock_guard lock(vm->mutex_);
  auto status = vm->call_locked({{"cmd", "status"}}, kStatusTimeout);
  if (!status) return std::move(status).error().within(where);
  vm->state_ = status->value("state", "") == "paused" ? VmState::paused : VmState::running;
  return vm;
}

SimVm::SimVm(SimSpec spec, std::string run_dir, std::string ram_path, sim::GuestProcess process,
             UniqueFd uffd, sim::ControlClient control)
    : spec_(std::move(spec)),
      run_dir_(std::move(run_dir)),
      ram_path_(std::move(ram_path)),
      process_(std::move(process)),
      uffd_(std::move(uffd)),
      control_(std::move(control)) {}

SimVm::~SimVm() {
  if (!stopped_) (void)stop();
}

void SimVm::notice_exit_locked() const {
  if (state_ == VmState::stopped || state_ == VmState::failed) return;
  if (auto status = process_.poll_exit()) {
    state_ = (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) ? VmState::stopped : VmState::failed;
  }
}

Error SimVm::guest_gone_locked(std::string_view during) const {
  const std::string log_path = run_dir_ + "/guest.log";
  auto status = process_.poll_exit();
  return Error(
      Errc::guest,
      fmt::format("sim VM '{}': {}: guest {} {}; {}: {}", spec_.name, during, process_.pid(),
                  status ? sim::GuestProcess::describe_status(*status) : "is not running", log_path,
                  sim::last_lines_of(log_path, kLogLinesInErrors)));
}

Result<nlohmann::json> SimVm::call_locked(const nlohmann::json& request,
                                          std::chrono::milliseconds timeout) const {
  const std::string cmd = request.value("cmd", "?");
  notice_exit_locked();
  if (stopped_ || state_ == VmState::stopped || state_ == VmState::failed) {
    return guest_gone_locked(cmd);
  }
  auto reply = control_.request(request, timeout);
  if (!reply) {
    // A broken connection usually means the guest died: say so, with its last words.
    if (process_.wait_exit(50ms)) {
      notice_exit_locked();
      return guest_gone_locked(cmd);
    }
    return std::move(reply).error().within(fmt::format("sim VM '{}'", spec_.name));
  }
  if (reply->contains("error")) {
    return Error(Errc::guest, fmt::format("sim VM '{}': {}: {}", spec_.name, cmd,
                                          reply->value("error", std::string("?"))));
  }
  return reply;
}

VmState SimVm::state() const {
  std::lock_guard lock(mutex_);
  notice_exit_locked();
  return state_;
}

pid_t SimVm::pid() const {
  return process_.pid();
}

std::vector<RamRegionInfo> SimVm::ram_regions() const {
  return {RamRegionInfo{0, "ram", ram_path_, spec_.memory}};
}

nlohmann::json SimVm::spec() const {
  std::lock_guard lock(mutex_);
  return spec_.to_json();
}

nlohmann::json SimVm::describe() const {
  std::lock_guard lock(mutex_);
  notice_exit_locked();
  nlohmann::json writes = nullptr, fill_seconds = nullptr;
  if (state_ == VmState::running || state_ == VmState::paused) {
    if (auto status = call_locked({{"cmd", "status"}}, 1s)) {
      writes = status->value("writes", uint64_t{0});
      fill_seconds = status->value("fill_seconds", 0.0);
    }
  }
  return {{"name", spec_.name},
          {"kind", "sim"},
          {"state", vm_state_name(state_)},
          {"pid", process_.pid()},
          {"memory", spec_.memory},
          {"dirty_rate_mib", spec_.dirty_rate_mib},
          {"pattern", spec_.pattern},
          {"content", spec_.content},
          {"ram_path", ram_path_},
          {"writes", writes},
          {"fill_seconds", fill_seconds}};
}

Result<std::unique_ptr<DirtyLog>> SimVm::open_dirty_log() {
  std::lock_guard lock(mutex_);
  const std::string where = fmt::format("sim VM '{}': open dirty log", spec_.name);
  notice_exit_locked();
  if (state_ == VmState::stopped || state_ == VmState::failed)
    return guest_gone_locked("open dirty log");
  auto address = find_file_mapping(process_.pid(), ram_path_, spec_.memory);
  if (!address) return std::move(address).error().within(where);
  UniqueFd uffd(::fcntl(uffd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!uffd.valid()) return errno_error(where + ": duplicate the userfaultfd");
  auto log = UffdDirtyLog::attach(std::move(uffd), process_.pid(), {{0, *address, spec_.memory}});
  if (!log) return std::move(log).error().within(where);
  return std::unique_ptr<DirtyLog>(std::move(*log));
}

Result<void> SimVm::pause() {
  std::lock_guard lock(mutex_);
  auto reply = call_locked({{"cmd", "pause"}}, kPauseTimeout);
  if (!reply) return std::move(reply).error();
  state_ = VmState::paused;
  return ok();
}

Result<void> SimVm::resume() {
  std::lock_guard lock(mutex_);
  auto reply = call_locked({{"cmd", "resume"}}, kPauseTimeout);
  if (!reply) return std::move(reply).error();
  state_ = VmState::running;
  return ok();
}

Result<std::vector<std::byte>> SimVm::save_device_state() {
  std::lock_guard lock(mutex_);
  auto reply = call_locked({{"cmd", "device-state"}}, kStatusTimeout);
  if (!reply) return std::move(reply).error();
  auto state = reply->find("device_state");
  if (state == reply->end() || !state->is_object()) {
    return Error(Errc::protocol,
                 fmt::format("sim VM '{}': device-state reply has no state object", spec_.name));
  }
  const std::string text = state->dump();
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

Result<GuestVerification> SimVm::verify() {
  std::lock_guard lock(mutex_);
  auto reply = call_locked({{"cmd", "verify"}}, kVerifyTimeout);
  if (!reply) return std::move(reply).error();
  GuestVerification v;
  v.ok = reply->value("ok", false);
  v.pages_checked = reply->value("pages", uint64_t{0});
  v.pages_bad = reply->value("bad", uint64_t{0});
  v.detail = reply->value("detail", std::string());
  return v;
}

Result<void> SimVm::set_dirty_rate(int64_t mib) {
  std::lock_guard lock(mutex_);
  if (mib < -1) {
    return Error(Errc::invalid_argument,
                 fmt::format("sim VM '{}': dirty rate {} MiB/s must be >= -1", spec_.name, mib));
  }
  auto reply = call_locked({{"cmd", "set-rate"}, {"mib", mib}}, kStatusTimeout);
  if (!reply) return std::move(reply).error();
  spec_.dirty_rate_mib = mib;
  return ok();
}

Result<uint64_t> SimVm::writes() {
  std::lock_guard lock(mutex_);
  auto reply = call_locked({{"cmd", "status"}}, kStatusTimeout);
  if (!reply) return std::move(reply).error();
  return reply->value("writes", uint64_t{0});
}

Result<void> SimVm::stop() {
  std::lock_guard lock(mutex_);
  if (stopped_) return ok();
  stopped_ = true;
  notice_exit_locked();
  std::optional<Error> failure;
  if (!process_.poll_exit()) {
    // Ask first (the guest removes its socket); force after kQuitTimeout.
    auto quit = control_.request({{"cmd", "quit"}}, kQuitTimeout);
    auto status = process_.wait_exit(kQuitTimeout);
    if (!status) {
      process_.kill_and_reap();
    } else if (quit && !(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)) {
      // It agreed to quit but did not exit cleanly (a crash on the way out, a sanitizer report).
      state_ = VmState::failed;
      failure = guest_gone_locked("stop");
    }
  }
  if (state_ != VmState::failed) state_ = VmState::stopped;
  uffd_.reset();
  for (const std::string& path :
       {ram_path_, run_dir_ + "/control.sock", run_dir_ + "/resume-state.json"}) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && !failure) {
      failure = errno_error(fmt::format("sim VM '{}': stop: remove {}", spec_.name, path));
    }
  }
  if (failure) return std::move(*failure);
  return ok();
}

}  // namespace ferry
