#include "engine/vm/qemu/qemu_vm.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "engine/agent/uffd_handoff.h"
#include "engine/memory/uffd_dirty_log.h"
#include "engine/vm/qemu/device_state_stream.h"
#include "engine/vm/qemu/qemu_command_line.h"

namespace ferry {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kStateChangeTimeout = 5s;
constexpr auto kMigrationTimeout = 60s;
constexpr auto kQuitTimeout = 5s;
constexpr auto kUffdTimeout = 5s;
constexpr std::size_t kSerialLinesKept = 100000;
constexpr const char* kOutgoingFdName = "ferry-device-state-out";
constexpr const char* kIncomingFdName = "ferry-device-state-in";
// Unlimited in practice: the default (128 MiB/s) is meant for RAM, not a 300 KB device state.
constexpr uint64_t kDeviceStateBandwidth = uint64_t{64} << 30;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The last `max_lines` lines of a log file, joined with " | ".
std::string file_tail(const std::string& path, std::size_t max_lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = size > 4096 ? size - 4096 : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    if (end > begin) lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  if (start > 0 && !lines.empty()) lines.erase(lines.begin());  // probably cut in the middle
  std::string joined;
  for (std::size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size();
       ++i) {
    if (!joined.empty()) joined += " | ";
    joined += lines[i];
  }
  return joined;
}

// "key=123" inside a guest's report line; nullopt when absent.
std::optional<uint64_t> number_field(std::string_view line, std::string_view key) {
  std::string needle = " " + std::string(key) + "=";
  auto at = line.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  uint64_t value = 0;
  bool any = false;
  for (std::size_t i = at + needle.size(); i < line.size() && line[i] >= '0' && line[i] <= '9';
       ++i) {
    value = value * 10 + static_cast<uint64_t>(line[i] - '0');
    any = true;
  }
  return any ? std::optional(value) : std::nullopt;
}

struct Heartbeat {
  uint64_t beats = 0;
  uint64_t writes = 0;
};

// "HB <beats> <writes>", the test guest's heartbeat; nullopt for any other line.
std::optional<Heartbeat> parse_heartbeat(std::string_view line) {
  if (!line.starts_with("HB ")) return std::nullopt;
  uint64_t values[2] = {0, 0};
  std::size_t i = 3;
  for (uint64_t& value : values) {
    const std::size_t start = i;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
      value = value * 10 + static_cast<uint64_t>(line[i++] - '0');
    }
    if (i == start) return std::nullopt;
    if (i < line.size() && line[i] == ' ') ++i;
  }
  return Heartbeat{values[0], values[1]};
}

struct SocketPair {
  UniqueFd ours;
  UniqueFd theirs;
};

Result<SocketPair> make_socket_pair(std::string_view what) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return errno_error(fmt::format("socketpair for {}", what));
  }
  return SocketPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

QemuVm::QemuVm(QemuVmSpec spec, QemuLaunch launch, bool incoming)
    : spec_(std::move(spec)),
      launch_(std::move(launch)),
      files_(QemuRunFiles::in(launch_.run_dir)),
      incoming_(incoming) {}

QemuVm::~QemuVm() {
  (void)stop();
}

Result<std::unique_ptr<QemuVm>> QemuVm::launch(const QemuVmSpec& spec, const QemuLaunch& launch) {
  return start(spec, launch, /*incoming=*/false);
}

Result<std::unique_ptr<QemuVm>> QemuVm::launch_incoming(const QemuVmSpec& spec,
                                                        const QemuLaunch& launch) {
  return start(spec, launch, /*incoming=*/true);
}

Result<std::unique_ptr<QemuVm>> QemuVm::start(const QemuVmSpec& spec, const QemuLaunch& requested,
                                              bool incoming) {
  namespace fs = std::filesystem;
  const std::string where =
      fmt::format("launch QEMU VM '{}'{}", spec.name, incoming ? " (incoming)" : "");
  if (auto valid = spec.validate(); !valid) return std::move(valid).error().within(where);
  if (requested.run_dir.empty() || requested.ram_path.empty()) {
    return Error(Errc::invalid_argument, where + ": run_dir and ram_path must be set");
  }
  QemuLaunch launch = requested;
  std::error_code ec;
  // QEMU maps the RAM file under this exact name; find_file_mapping() looks for it in /proc.
  launch.run_dir = fs::absolute(launch.run_dir, ec).lexically_normal().string();
  launch.ram_path = fs::absolute(launch.ram_path, ec).lexically_normal().string();
  if (!fs::exists(spec.kernel, ec)) {
    return Error(Errc::not_found, fmt::format("{}: kernel {} does not exist", where, spec.kernel));
  }
  struct stat ram {};
  bool ram_exists = ::stat(launch.ram_path.c_str(), &ram) == 0;
  if (incoming && !ram_exists) {
    return Error(Errc::not_found, fmt::format("{}: RAM file {} does not exist (the destination "
                                              "starts on a file that holds the guest's memory)",
                                              where, launch.ram_path));
  }
  if (incoming && static_cast<uint64_t>(ram.st_size) != spec.memory_bytes) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: RAM file {} has {} bytes, the spec says {}", where,
                             launch.ram_path, ram.st_size, spec.memory_bytes));
  }
  if (!incoming && ram_exists) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: RAM file {} already exists (another guest's memory?)", where,
                             launch.ram_path));
  }
  fs::create_directories(launch.run_dir, ec);
  if (ec) {
    return Error(Errc::io, fmt::format("{}: create run directory {}: {}", where, launch.run_dir,
                                       ec.message()));
  }
  const QemuRunFiles files = QemuRunFiles::in(launch.run_dir);
  for (const auto& stale : {files.qmp_socket, files.serial_socket, files.uffd_socket,
                            files.qemu_log, files.serial_host_log}) {
    fs::remove(stale, ec);
  }

  auto accelerator = choose_accelerator(launch.accel, probe_kvm());
  if (!accelerator) return std::move(accelerator).error().within(where);

  std::optional<UffdReceiver> receiver;
  std::vector<std::pair<std::string, std::string>> env;
  if (!launch.preload_library.empty()) {
    if (!fs::exists(launch.preload_library, ec)) {
      return Error(Errc::not_found, fmt::format("{}: preload library {} does not exist", where,
                                                launch.preload_library));
    }
    auto listening = UffdReceiver::listen(files.uffd_socket);
    if (!listening) return std::move(listening).error().within(where);
    receiver.emplace(std::move(listening).value());
    env = {{"LD_PRELOAD", launch.preload_library},
           {kUffdSocketEnv, files.uffd_socket},
           {"FERRY_UFFD_THP_DISABLE", "1"}};  // 4 KiB pages, so dirty tracking is per page
  }

  std::unique_ptr<QemuVm> vm(new QemuVm(spec, launch, incoming));
  vm->accelerator_ = *accelerator;
  vm->launched_at_ = Clock::now();
  auto process = ChildProcess::spawn(qemu_command_line(spec, launch, *accelerator, incoming), env,
                                     files.qemu_log);
  if (!process) return std::move(process).error().within(where);
  vm->process_ = std::move(process).value();
  vm->owns_ram_file_ = !incoming;  // QEMU creates it; a failed launch removes it again

  auto fail = [&](const Error& error) {
    Error explained = vm->qemu_failure(error.code(), error.message());
    vm->teardown();
    return std::move(explained).within(where);
  };
  ChildProcess* child = vm->process_.get();
  auto alive = [child] { return child->running(); };

  QmpClient::Options options;
  options.connect_timeout = launch.start_timeout;
  options.peer_alive = alive;
  auto qmp = QmpClient::connect(files.qmp_socket, options);
  if (!qmp) return fail(qmp.error());
  vm->qmp_ = std::move(qmp).value();

  auto serial = SerialConsole::connect(files.serial_socket, launch.start_timeout, alive,
                                       kSerialLinesKept, files.serial_host_log);
  if (!serial) return fail(serial.error());
  vm->serial_ = std::move(serial).value();

  if (receiver) {
    auto uffd = receiver->accept_fd(kUffdTimeout);
    if (!uffd) return fail(uffd.error());
    vm->uffd_ = std::move(uffd).value();
  }

  if (incoming) {
    vm->state_ = VmState::paused;  // waiting for its device state
  } else {
    // QEMU started with -S: the guest runs only now that both sockets are connected.
    if (auto cont = vm->qmp_->execute("cont"); !cont) return fail(cont.error());
    if (auto running = vm->wait_running(true, kStateChangeTimeout); !running) {
      return fail(running.error());
    }
    vm->state_ = VmState::running;
  }
  vm->owns_ram_file_ = true;
  return vm;
}

std::string QemuVm::qemu_log_tail() const {
  return file_tail(files_.qemu_log, 6);
}

Error QemuVm::qemu_failure(Errc code, std::string_view what) const {
  // A lost connection usually means QEMU is exiting: give it a moment to finish saying why.
  if (code == Errc::connection_lost || code == Errc::unreachable) {
    process_->wait_for_exit(1s);
  }
  std::string message(what);
  if (!process_->running()) {
    message += fmt::format("; QEMU (pid {}) {}", process_->pid(), process_->exit_description());
  }
  std::string log = qemu_log_tail();
  if (!log.empty()) message += fmt::format("; QEMU log {}: {}", files_.qemu_log, log);
  return Error(code, std::move(message));
}

Result<std::string> QemuVm::query_status() {
  auto status = qmp_->execute("query-status");
  if (!status) return std::move(status).error();
  return status->value("status", std::string("unknown"));
}

Result<void> QemuVm::wait_running(bool running, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto status = qmp_->execute("query-status");
    if (!status) return std::move(status).error();
    if (status->value("running", !running) == running) return ok();
    if (Clock::now() >= deadline) {
      return Error(Errc::timeout,
                   fmt::format("QEMU still reports status '{}' after {} ms",
                               status->value("status", std::string("unknown")), timeout.count()));
    }
    std::this_thread::sleep_for(2ms);
  }
}

Result<nlohmann::json> QemuVm::wait_migration(std::string_view side,
                                              std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto info = qmp_->execute("query-migrate");
    if (!info) return std::move(info).error();
    std::string status = info->value("status", std::string("none"));
    if (status == "completed") {
      // QEMU 7.2 may report "completed" before it fills in its statistics: query again.
      for (int i = 0; i < 50 && side == "source" && info->value("total-time", 0) == 0; ++i) {
        std::this_thread::sleep_for(2ms);
        auto again = qmp_->execute("query-migrate");
        if (!again) return std::move(again).error();
        info = std::move(again);
      }
      return std::move(info).value();
    }
    if (status == "failed" || status == "cancelled") {
      return Error(Errc::guest, fmt::format("{} migration {}: {}", side, status,
                                            info->value("error-desc", std::string("no reason "
                                                                                  "given"))));
    }
    if (Clock::now() >= deadline) {
      return Error(Errc::timeout, fmt::format("{} migration still '{}' after {} ms", side, status,
                                              timeout.count()));
    }
    std::this_thread::sleep_for(2ms);
  }
}

Result<void> QemuVm::set_device_state_capabilities() {
  // x-ignore-shared: RAM in the shared file is ferry's business, QEMU sends devices only.
  // return-path off: see the header; with it the source would wait for an answer forever.
  nlohmann::json capabilities =
      nlohmann::json::array({{{"capability", "x-ignore-shared"}, {"state", true}},
                             {{"capability", "return-path"}, {"state", false}}});
  auto set = qmp_->execute("migrate-set-capabilities", {{"capabilities", capabilities}});
  if (!set) return std::move(set).error();
  return ok();
}

VmState QemuVm::state() const {
  std::lock_guard lock(state_mutex_);
  if (state_ != VmState::stopped && state_ != VmState::failed && process_ && !process_->running()) {
    state_ = VmState::failed;
  }
  return state_;
}

pid_t QemuVm::pid() const {
  return process_ ? process_->pid() : -1;
}

std::vector<RamRegionInfo> QemuVm::ram_regions() const {
  return {RamRegionInfo{0, kQemuRamBackendId, launch_.ram_path, spec_.memory_bytes}};
}

nlohmann::json QemuVm::describe() const {
  VmState current = state();
  nlohmann::json description = {
      {"name", spec_.name},
      {"kind", "qemu"},
      {"state", vm_state_name(current)},
      {"pid", pid()},
      {"accelerator",
       {{"accel", accelerator_.accel}, {"cpu", accelerator_.cpu}, {"reason", accelerator_.reason}}},
      {"memory", spec_.memory_bytes},  // the name the simulated guest uses too
      {"memory_bytes", spec_.memory_bytes},
      {"vcpus", spec_.vcpus},
      {"ram_path", launch_.ram_path},
      {"run_dir", launch_.run_dir},
      {"incoming", incoming_},
      {"dirty_tracking", uffd_.valid()},
      {"uptime_ms", static_cast<uint64_t>(ms_since(launched_at_))},
  };
  if (current == VmState::failed) description["exit"] = process_->exit_description();
  {
    std::lock_guard lock(state_mutex_);
    description["device_state_loaded"] = device_state_loaded_;
    if (!last_transfer_.is_null()) description["last_device_state"] = last_transfer_;
    if (!announce_result_.empty()) description["announce"] = announce_result_;
  }
  if (serial_) {
    const std::vector<SerialLine> lines = serial_->tail(20);
    nlohmann::json tail = nlohmann::json::array();
    for (std::size_t i = lines.size() > 5 ? lines.size() - 5 : 0; i < lines.size(); ++i) {
      tail.push_back(lines[i].text);
    }
    description["serial_tail"] = std::move(tail);
    description["serial_host_log"] = files_.serial_host_log;
    // The test guest's heartbeat "HB <beats> <writes>": its write counter, as the simulated
    // guest reports "writes".
    for (auto line = lines.rbegin(); line != lines.rend(); ++line) {
      if (auto beat = parse_heartbeat(line->text)) {
        description["heartbeats"] = beat->beats;
        description["writes"] = beat->writes;
        break;
      }
    }
  }
  return description;
}

Result<std::unique_ptr<DirtyLog>> QemuVm::open_dirty_log() {
  const std::string where = fmt::format("open dirty log of QEMU VM '{}'", name());
  if (!uffd_.valid()) {
    return Error(Errc::invalid_argument,
                 where + ": launched without the preload library, so there is no userfaultfd");
  }
  auto address = find_file_mapping(pid(), launch_.ram_path, spec_.memory_bytes);
  if (!address) return std::move(address).error().within(where);
  // Each log owns a duplicate: a later migration attempt can attach again.
  UniqueFd uffd(::fcntl(uffd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!uffd.valid()) return errno_error(where + ": duplicate userfaultfd");
  auto log =
      UffdDirtyLog::attach(std::move(uffd), pid(), {RemoteRange{0, *address, spec_.memory_bytes}});
  if (!log) return std::move(log).error().within(where);
  return std::unique_ptr<DirtyLog>(std::move(log).value());
}

Result<void> QemuVm::pause() {
  std::lock_guard operation(operation_mutex_);
  const std::string where = fmt::format("pause QEMU VM '{}'", name());
  if (auto stopped = qmp_->execute("stop"); !stopped) {
    return qemu_failure(stopped.error().code(), stopped.error().message()).within(where);
  }
  if (auto paused = wait_running(false, kStateChangeTimeout); !paused) {
    return qemu_failure(paused.error().code(), paused.error().message()).within(where);
  }
  std::lock_guard lock(state_mutex_);
  state_ = VmState::paused;
  return ok();
}

Result<void> QemuVm::resume() {
  std::lock_guard operation(operation_mutex_);
  const std::string where = fmt::format("resume QEMU VM '{}'", name());
  {
    std::lock_guard lock(state_mutex_);
    if (incoming_ && !device_state_loaded_) {
      return Error(Errc::invalid_argument, where + ": its device state is not loaded yet");
    }
  }
  if (auto cont = qmp_->execute("cont"); !cont) {
    return qemu_failure(cont.error().code(), cont.error().message()).within(where);
  }
  if (auto running = wait_running(true, kStateChangeTimeout); !running) {
    return qemu_failure(running.error().code(), running.error().message()).within(where);
  }
  bool announce_now = false;
  {
    std::lock_guard lock(state_mutex_);
    state_ = VmState::running;
    announce_now = std::exchange(announce_pending_, false);
  }
  if (announce_now) {
    // The network must learn where the guest's MAC addresses are now.
    auto announced = announce();
    std::lock_guard lock(state_mutex_);
    announce_result_ = announced ? "ok" : announced.error().message();
  }
  return ok();
}

Result<void> QemuVm::ram_file_renamed(const std::string& path) {
  std::lock_guard operation(operation_mutex_);
  const std::string where =
      fmt::format("QEMU VM '{}': RAM file {} renamed to {}", name(), launch_.ram_path, path);
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(path, ec).lexically_normal().string();
  struct stat ram {};
  if (::stat(absolute.c_str(), &ram) != 0) return errno_error(where);
  if (static_cast<uint64_t>(ram.st_size) != spec_.memory_bytes) {
    return Error(Errc::not_found, fmt::format("{}: it has {} bytes, the guest's memory {}", where,
                                              ram.st_size, spec_.memory_bytes));
  }
  std::lock_guard lock(state_mutex_);
  launch_.ram_path = absolute;
  return ok();
}

Result<void> QemuVm::announce() {
  const std::string where = fmt::format("announce QEMU VM '{}'", name());
  // QEMU's defaults for the self-announcement (RARP) rounds.
  auto announced =
      qmp_->execute("announce-self", {{"initial", 50}, {"max", 550}, {"rounds", 5}, {"step", 100}});
  if (!announced) {
    return qemu_failure(announced.error().code(), announced.error().message()).within(where);
  }
  return ok();
}

Result<std::vector<std::byte>> QemuVm::save_device_state() {
  std::lock_guard operation(operation_mutex_);
  const std::string where = fmt::format("save device state of QEMU VM '{}'", name());
  const auto prepare_start = Clock::now();
  auto explain = [&](const Error& error) {
    return qemu_failure(error.code(), error.message()).within(where);
  };
  auto status = query_status();
  if (!status) return explain(status.error());
  if (*status == "running") {
    return Error(Errc::invalid_argument, where + ": the guest is running; pause it first");
  }
  if (auto set = set_device_state_capabilities(); !set) return explain(set.error());
  auto parameters =
      qmp_->execute("migrate-set-parameters", {{"max-bandwidth", kDeviceStateBandwidth}});
  if (!parameters) return explain(parameters.error());

  auto pair = make_socket_pair(where);
  if (!pair) return std::move(pair).error();
  auto passed = qmp_->execute_with_fd("getfd", {{"fdname", kOutgoingFdName}}, pair->theirs.get());
  if (!passed) return explain(passed.error());
  pair->theirs.reset();  // QEMU holds its own copy; its close is our end of stream
  StreamCollector collector(std::move(pair->ours),
                            fmt::format("device state stream of QEMU VM '{}'", name()));

  const auto start = Clock::now();
  auto migrate = qmp_->execute("migrate", {{"uri", fmt::format("fd:{}", kOutgoingFdName)}});
  if (!migrate) return explain(migrate.error());
  auto info = wait_migration("source", kMigrationTimeout);
  if (!info) return explain(info.error());
  auto bytes = collector.finish(10s);
  if (!bytes) return std::move(bytes).error().within(where);

  std::lock_guard lock(state_mutex_);
  last_transfer_ = {
      {"direction", "save"},
      {"bytes", bytes->size()},
      {"prepare_ms", std::chrono::duration<double, std::milli>(start - prepare_start).count()},
      {"ms", ms_since(start)},
      {"qemu_total_time_ms", info->value("total-time", 0)}};
  return std::move(bytes).value();
}

Result<void> QemuVm::load_device_state(std::span<const std::byte> stream) {
  std::lock_guard operation(operation_mutex_);
  const std::string where =
      fmt::format("load device state ({} bytes) into QEMU VM '{}'", stream.size(), name());
  auto explain = [&](const Error& error) {
    return qemu_failure(error.code(), error.message()).within(where);
  };
  if (!incoming_) {
    return Error(Errc::invalid_argument, where + ": the VM was not started with launch_incoming()");
  }
  {
    std::lock_guard lock(state_mutex_);
    if (device_state_loaded_) return Error(Errc::invalid_argument, where + ": already loaded");
  }
  if (auto set = set_device_state_capabilities(); !set) return explain(set.error());
  auto pair = make_socket_pair(where);
  if (!pair) return std::move(pair).error();
  auto passed = qmp_->execute_with_fd("getfd", {{"fdname", kIncomingFdName}}, pair->theirs.get());
  if (!passed) return explain(passed.error());
  pair->theirs.reset();
  StreamFeeder feeder(std::move(pair->ours), stream,
                      fmt::format("device state stream into QEMU VM '{}'", name()));

  const auto start = Clock::now();
  auto incoming =
      qmp_->execute("migrate-incoming", {{"uri", fmt::format("fd:{}", kIncomingFdName)}});
  if (!incoming) return explain(incoming.error());
  auto info = wait_migration("destination", kMigrationTimeout);
  if (!info) {
    feeder.cancel();
    // QEMU 7.2 exits when it cannot load a stream; its log says why.
    Error refused = qemu_failure(info.error().code(), info.error().message());
    return Error(Errc::rejected, "QEMU refused the device state: " + refused.message())
        .within(where);
  }
  if (auto fed = feeder.finish(5s); !fed) return std::move(fed).error().within(where);
  auto status = query_status();
  if (!status) return explain(status.error());
  if (*status != "paused") {
    return Error(Errc::guest,
                 fmt::format("{}: QEMU reports status '{}' after loading, expected 'paused'", where,
                             *status));
  }
  std::lock_guard lock(state_mutex_);
  device_state_loaded_ = true;
  announce_pending_ = true;
  state_ = VmState::paused;
  last_transfer_ = {{"direction", "load"}, {"bytes", stream.size()}, {"ms", ms_since(start)}};
  return ok();
}

Result<GuestVerification> QemuVm::verify() {
  const std::string where = fmt::format("verify QEMU VM '{}'", name());
  if (!spec_.test_guest) {
    return Error(Errc::invalid_argument,
                 where + ": guest has no self-check (its spec does not say test_guest)");
  }
  if (VmState current = state(); current != VmState::running) {
    return Error(Errc::invalid_argument,
                 fmt::format("{}: the guest checks itself only while running (state {})", where,
                             vm_state_name(current)));
  }
  // The guest reads every word of its RAM: ≈0.5 s per 256 MiB under TCG here; leave room.
  auto timeout = 30s + std::chrono::seconds(spec_.memory_bytes >> 26);
  auto reply = serial_->command("v", "VERIFY ",
                                std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  if (!reply) return qemu_failure(reply.error().code(), reply.error().message()).within(where);
  GuestVerification result;
  result.ok = reply->text.starts_with("VERIFY OK");
  result.pages_checked = number_field(reply->text, "pages").value_or(0);
  result.pages_bad = result.ok ? 0 : number_field(reply->text, "bad").value_or(1);
  result.detail = reply->text;
  return result;
}

Result<std::string> QemuVm::console_command(std::string_view line, std::string_view reply_prefix,
                                            std::chrono::milliseconds timeout) {
  const std::string where = fmt::format("VM '{}': serial command \"{}\"", spec_.name, line);
  if (line.empty() || line.size() > 200 || line.find_first_of("\r\n") != std::string_view::npos)
    return Error(Errc::invalid_argument, where + ": one line of 1..200 characters, please");
  if (!serial_) return Error(Errc::invalid_argument, where + ": the guest has no serial console");
  auto reply = serial_->command(line, reply_prefix, timeout);
  if (!reply) return qemu_failure(reply.error().code(), reply.error().message()).within(where);
  return reply->text;
}

void QemuVm::teardown() {
  namespace fs = std::filesystem;
  if (process_) process_->kill_and_reap();
  if (qmp_) qmp_->close();
  if (serial_) serial_->close();
  uffd_.reset();
  std::error_code ec;
  for (const auto& socket : {files_.qmp_socket, files_.serial_socket, files_.uffd_socket}) {
    fs::remove(socket, ec);
  }
  if (owns_ram_file_) fs::remove(launch_.ram_path, ec);
}

Result<void> QemuVm::stop() {
  std::lock_guard operation(operation_mutex_);
  {
    std::lock_guard lock(state_mutex_);
    if (state_ == VmState::stopped) return ok();
  }
  if (process_ && process_->running() && qmp_ && qmp_->connected()) {
    (void)qmp_->execute("quit", nlohmann::json::object(), 2s);  // it may exit before replying
  }
  if (process_) process_->wait_for_exit(kQuitTimeout);  // then teardown() kills it
  const bool had_ram = owns_ram_file_;
  teardown();
  std::lock_guard lock(state_mutex_);
  state_ = VmState::stopped;
  std::error_code ec;
  if (had_ram && std::filesystem::exists(launch_.ram_path, ec)) {
    return Error(Errc::io, fmt::format("stop QEMU VM '{}': could not remove RAM file {}", name(),
                                       launch_.ram_path));
  }
  return ok();
}

}  // namespace ferry
