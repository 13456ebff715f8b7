#include "engine/control/agent.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>

#include "engine/control/http/api_error.h"
#include "engine/control/http/http_api_server.h"
#include "engine/control/prometheus_metrics.h"
#include "engine/migration/control_channel.h"
#include "engine/precopy/precopy_settings.h"
#include "engine/transport/peer_connection.h"

namespace ferry {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string system_host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

uint64_t available_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  std::string unit;
  while (meminfo >> key >> value >> unit)
    if (key == "MemAvailable:") return value * 1024;
  return 0;
}

}  // namespace

int http_status_for(Errc code) {
  switch (code) {
    case Errc::not_found:
      return 404;
    case Errc::invalid_argument:
      return 400;
    case Errc::rejected:
    case Errc::not_converging:
    case Errc::cancelled:
      return 409;
    case Errc::unreachable:
    case Errc::timeout:
    case Errc::connection_lost:
      return 502;
    default:
      return 500;
  }
}

Agent::Agent(AgentConfig config) : config_(std::move(config)), launcher_(config_) {
  if (config_.host_name.empty()) config_.host_name = system_host_name();
}

Agent::~Agent() {
  stop();
}

ApiResponse Agent::error_response(const Error& error, std::string_view phase) const {
  nlohmann::json body = {
      {"code", errc_name(error.code())}, {"message", error.message()}, {"host", config_.host_name}};
  if (!phase.empty()) body["phase"] = std::string(phase);
  return {http_status_for(error.code()), {{"error", std::move(body)}}};
}

ApiResponse Agent::error_response(Errc code, const std::string& message) const {
  return error_response(Error(code, message));
}

Result<void> Agent::start() {
  // A peer or guest that goes away must show up as an error on a write, not kill the agent.
  ::signal(SIGPIPE, SIG_IGN);
  std::error_code ec;
  fs::create_directories(config_.state_dir, ec);
  if (ec) return Error(Errc::io, fmt::format("creating {}: {}", config_.state_dir, ec.message()));
  fs::create_directories(config_.ram_dir, ec);
  // Memory of migrations that were arriving when a previous agent died can never be used.
  for (const auto& entry : fs::directory_iterator(config_.ram_dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(kIncomingRamPrefix, 0) == 0) {
      spdlog::info("removing {} left by an interrupted incoming migration", entry.path().string());
      fs::remove(entry.path(), ec);
    }
  }

  DestinationContext context;
  context.host = config_.host_name;
  context.ram_dir = config_.ram_dir;
  context.io_timeout = config_.io_timeout;
  context.admit = [this](const Offer& offer) -> Result<void> {
    if (!VmLauncher::supports(offer.vm_kind))
      return Error(Errc::rejected,
                   fmt::format("this host cannot run VMs of kind '{}'", offer.vm_kind));
    if (vms_.contains(offer.vm_name))
      return Error(Errc::rejected, fmt::format("a VM named '{}' already runs on {}", offer.vm_name,
                                               config_.host_name));
    uint64_t needed = 0;
    for (const auto& region : offer.regions) needed += region.size;
    if (const uint64_t available = available_memory(); available != 0 && needed > available)
      return Error(Errc::rejected,
                   fmt::format("{} has {} MiB of memory available, the guest needs {} MiB",
                               config_.host_name, available >> 20, needed >> 20));
    return ok();
  };
  context.host_report = [this]() -> nlohmann::json {
    return {{"host", config_.host_name},
            {"memory-available", available_memory()},
            {"vms", vms_.all().size()}};
  };
  context.prepare_resources = [this](const Offer& offer) -> Result<std::shared_ptr<ResourceSet>> {
    auto set = new_resource_set();
    auto specs = set->parse(nlohmann::json{{"resources", offer.resources}});
    if (!specs) return std::move(specs).error().within("OFFER");
    if (auto prepared = set->prepare(*specs, offer.resource_facts); !prepared)
      return std::move(prepared).error();
    return set;
  };
  context.prepare_incoming = [this](const Offer& offer, const std::vector<RamRegionInfo>& files,
                                    const nlohmann::json& attachments) {
    return launcher_.prepare_incoming(offer, files, attachments);
  };
  context.adopt = [this](std::shared_ptr<Vm> vm, std::shared_ptr<ResourceSet> resources) {
    if (auto added = vms_.add(vm, std::move(resources)); !added)
      spdlog::error("adopting migrated VM: {}", added.error().message());
  };
  peers_ = std::make_unique<PeerListener>(io_, config_, context);
  auto port = peers_->start();
  if (!port) return std::move(port).error();
  peer_port_ = *port;

  api_ = std::make_unique<HttpApiServer>(io_, *this);
  const std::string socket_path = (fs::path(config_.state_dir) / "api.sock").string();
  if (auto listening = api_->listen_unix(socket_path); !listening) return listening;
  if (!config_.api_listen.empty()) {
    if (auto listening = api_->listen_tcp(config_.api_listen); !listening) return listening;
    spdlog::warn("API also on TCP {} (port {}): anyone who reaches it controls this host's guests",
                 config_.api_listen, api_->tcp_port().value_or(0));
  }

  work_.emplace(io_.get_executor());
  for (unsigned i = 0; i < std::max(1u, config_.io_threads); ++i)
    threads_.emplace_back([this] { io_.run(); });

  auto listen_host = config_.listen.substr(0, config_.listen.rfind(':'));
  nlohmann::json info = {
      {"pid", ::getpid()},
      {"api-port", api_->tcp_port() ? nlohmann::json(*api_->tcp_port()) : nlohmann::json(nullptr)},
      {"host", config_.host_name},
      {"listen", fmt::format("{}:{}", listen_host, peer_port_)},
      {"port", peer_port_},
      {"api", socket_path}};
  const auto info_path = fs::path(config_.state_dir) / "agent.json";
  {
    std::ofstream out(info_path.string() + ".tmp");
    out << info.dump(2) << "\n";
  }
  fs::rename(info_path.string() + ".tmp", info_path, ec);
  spdlog::info("ferry agent on {}: peers on {}:{}, API on {}", config_.host_name, listen_host,
               peer_port_, socket_path);
  return ok();
}

void Agent::run_until_signal() {
  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("signal {}: shutting down", signal);
  });
  signals_io.run();
  stop();
}

std::shared_ptr<ResourceSet> Agent::new_resource_set() const {
  return std::make_shared<ResourceSet>(
      config_.resource_drivers,
      ResourceContext{config_.host_name, config_.host_resources, config_.resource_timeout});
}

void Agent::shutdown_guests() {
  for (auto& vm : vms_.all()) {
    spdlog::info("stopping guest {}", vm->name());
    if (auto stopped = vm->stop(); !stopped)
      spdlog::warn("stopping {}: {}", vm->name(), stopped.error().message());
    if (auto resources = vms_.resources_of(vm->name())) {
      // A stopped guest gives its disks and ports up, so another host may start it.
      (void)resources->deactivate();
      resources->release();
    }
    vms_.remove(vm->name());
  }
}

void Agent::stop() {
  if (threads_.empty()) return;
  for (auto& record : migrations_.all())
    if (auto job = record->job()) job->cancel();
  if (peers_) peers_->stop();
  if (api_) api_->stop();
  shutdown_guests();
  work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::error_code ec;
  fs::remove(fs::path(config_.state_dir) / "agent.json", ec);
  fs::remove(fs::path(config_.state_dir) / "api.sock", ec);
}

ApiResponse Agent::host_info() const {
  return {200,
          {{"host", config_.host_name},
           {"listen", config_.listen},
           {"port", peer_port_},
           {"state-dir", config_.state_dir},
           {"ram-dir", config_.ram_dir},
           {"vms", vms_.all().size()},
           {"memory-available", available_memory()},
           {"incoming", peers_ ? peers_->incoming() : std::vector<nlohmann::json>{}}}};
}

ApiResponse Agent::list_vms() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& vm : vms_.all()) {
    auto d = vm->describe();
    d["migrating"] = vms_.migrating(vm->name());
    auto resources = vms_.resources_of(vm->name());
    d["resources"] = resources ? resources->to_json() : nlohmann::json::array();
    list.push_back(d);
  }
  return {200, {{"vms", list}}};
}

ApiResponse Agent::start_vm(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("spec"))
    return error_response(
        Error(Errc::invalid_argument, "expected {\"kind\": ..., \"spec\": {...}}"));
  const std::string kind = body.value("kind", "sim");
  const std::string name = body["spec"].value("name", "");
  if (vms_.contains(name))
    return error_response(
        Error(Errc::invalid_argument, fmt::format("a VM named '{}' already runs here", name)));
  // The guest's disks and NICs are attached and owned here before it starts; the launcher gets
  // the description without them (they are this host's business, not the guest's).
  nlohmann::json spec = body["spec"];
  auto resources = new_resource_set();
  auto specs = resources->parse(spec);
  if (!specs) return error_response(specs.error());
  spec.erase("resources");
  if (auto prepared = resources->prepare(*specs, nullptr); !prepared)
    return error_response(prepared.error());
  if (auto activated = resources->activate(); !activated) {
    resources->rollback();
    return error_response(activated.error());
  }
  auto vm = launcher_.start(kind, spec, resources->attachments());
  if (!vm) {
    resources->rollback();
    return error_response(vm.error());
  }
  if (auto added = vms_.add(*vm, resources); !added) {
    (void)(*vm)->stop();
    resources->rollback();
    return error_response(added.error());
  }
  auto d = (*vm)->describe();
  d["resources"] = resources->to_json();
  return {201, d};
}

ApiResponse Agent::vm_action(const std::string& name, const std::string& method,
                             const std::string& action, const nlohmann::json& body) {
  auto vm = vms_.find(name);
  if (!vm)
    return error_response(Errc::not_found,
                          fmt::format("no VM named '{}' on {}", name, config_.host_name));
  if (method == "GET" && action.empty()) {
    auto d = vm->describe();
    d["migrating"] = vms_.migrating(name);
    auto resources = vms_.resources_of(name);
    d["resources"] = resources ? resources->to_json() : nlohmann::json::array();
    return {200, d};
  }
  if (method == "DELETE" && action.empty()) {
    if (vms_.migrating(name))
      return error_response(
          Error(Errc::invalid_argument, fmt::format("VM '{}' is being migrated", name)));
    auto stopped = vm->stop();
    if (auto resources = vms_.resources_of(name); resources && stopped) {
      (void)resources->deactivate();
      resources->release();
    }
    vms_.remove(name);
    if (!stopped) return error_response(stopped.error());
    return {200, {{"stopped", name}}};
  }
  if (method == "POST" && action == "verify") {
    auto check = vm->verify();
    if (!check) return error_response(check.error());
    return {200,
            {{"ok", check->ok},
             {"pages", check->pages_checked},
             {"bad", check->pages_bad},
             {"detail", check->detail}}};
  }
  if (method == "POST" && action == "console") {
    // {"line": "d", "expect": "DISK ", "timeout-ms": 10000}: a test guest's serial command.
    if (!body.is_object() || !body.contains("line") || !body["line"].is_string())
      return error_response(Error(Errc::invalid_argument,
                                  "expected {\"line\": \"...\", \"expect\": \"reply prefix\"}"));
    const std::string line = body["line"].get<std::string>();
    const std::string expect = body.value("expect", "");
    const auto timeout_ms = body.value("timeout-ms", 10000);
    if (timeout_ms < 1 || timeout_ms > 600000)
      return error_response(Error(Errc::invalid_argument, "timeout-ms must be 1..600000"));
    auto reply = vm->console_command(line, expect, std::chrono::milliseconds(timeout_ms));
    if (!reply) return error_response(reply.error());
    return {200, {{"reply", *reply}}};
  }
  return error_response(Errc::not_found, fmt::format("no action {} {} for VMs", method, action));
}

ApiResponse Agent::start_migration(const nlohmann::json& body) {
  if (!body.is_object())
    return error_response(Error(Errc::invalid_argument, "expected a JSON object"));
  const std::string name = body.value("vm", "");
  const std::string to = body.value("to", "");
  if (name.empty() || to.empty())
    return error_response(Error(Errc::invalid_argument, "\"vm\" and \"to\" are required"));
  auto vm = vms_.find(name);
  if (!vm)
    return error_response(Errc::not_found,
                          fmt::format("no VM named '{}' on {}", name, config_.host_name));

  MigrationRequest request;
  request.destination = to;
  request.source_host = config_.host_name;
  request.io_timeout = config_.io_timeout;
  request.streams = body.value("streams", 2u);
  request.verify = body.value("verify", false);
  request.protocol_version = config_.protocol_version;
  request.resources = vms_.resources_of(name);
  if (request.streams < 1 || request.streams > 64)
    return error_response(Error(Errc::invalid_argument, "streams must be 1..64"));
  if (body.contains("settings")) {
    auto settings = precopy_settings_from_json(body["settings"]);
    if (!settings) return error_response(settings.error());
    request.settings = *settings;
  }
  if (auto valid = validate(request.settings); !valid) return error_response(valid.error());
  if (auto marked = vms_.mark_migrating(name); !marked) return error_response(marked.error());

  auto record = migrations_.add(name, to);
  // The record owns the job: the job's progress callback must not own the record back.
  std::weak_ptr<MigrationRecord> weak_record = record;
  auto job =
      std::make_shared<SourceJob>(io_, vm, request, [weak_record](const nlohmann::json& stats) {
        if (auto record = weak_record.lock())
          record->add_event({{"event", "progress"}, {"migration", record->id()}, {"stats", stats}});
      });
  record->set_job(job);
  asio::co_spawn(asio::make_strand(io_), job->run(),
                 [this, record, name](std::exception_ptr exception, MigrationOutcome outcome) {
                   if (exception) {
                     outcome.ok = false;
                     outcome.stats["error"] = "internal error: unexpected exception in the job";
                   }
                   if (outcome.ok) {
                     vms_.remove(name);
                     spdlog::info("migration {}: {} now runs on {}", record->id(), name,
                                  record->describe()["destination"].get<std::string>());
                   } else {
                     vms_.clear_migrating(name);
                     spdlog::warn("migration {} of {} failed: {}", record->id(), name,
                                  outcome.error ? outcome.error->message() : "unknown");
                   }
                   record->finish(outcome);
                 });
  return {202, {{"id", record->id()}, {"vm", name}, {"to", to}, {"session", job->session()}}};
}

ApiResponse Agent::migration_action(const std::string& id, const std::string& method,
                                    const std::string& action, const nlohmann::json& body) {
  auto record = migrations_.find(id);
  if (!record)
    return error_response(Errc::not_found,
                          fmt::format("no migration '{}' on {}", id, config_.host_name));
  if (method == "GET" && action.empty()) return {200, record->describe()};
  auto job = record->job();
  // Errors about a migration say which phase it is in (or ended in).
  const std::string phase = record->describe()["stats"].value("phase", "");
  if (method == "POST" && action == "cancel") {
    if (record->finished())
      return error_response(Error(Errc::invalid_argument, "migration already finished"), phase);
    job->cancel();
    return {202, {{"cancelling", id}}};
  }
  if (method == "PATCH" && action.empty()) {
    if (record->finished())
      return error_response(Error(Errc::invalid_argument, "migration already finished"), phase);
    auto current =
        precopy_settings_from_json(job->snapshot().value("settings", nlohmann::json::object()));
    auto settings = precopy_settings_from_json(body.value("settings", nlohmann::json::object()),
                                               current ? *current : PrecopySettings{});
    if (!settings) return error_response(settings.error());
    if (auto updated = job->update_settings(*settings); !updated)
      return error_response(updated.error());
    return {200, {{"settings", precopy_settings_to_json(*settings)}}};
  }
  return error_response(Errc::not_found,
                        fmt::format("no action {} {} for migrations", method, action));
}

HostEvacuation::Hooks Agent::evacuation_hooks() {
  HostEvacuation::Hooks hooks;
  hooks.vms = [this] {
    std::vector<EvacueeVm> list;
    for (const auto& vm : vms_.all()) {
      if (vms_.migrating(vm->name())) continue;
      uint64_t memory = 0;
      for (const auto& region : vm->ram_regions()) memory += region.size;
      list.push_back({vm->name(), memory});
    }
    return list;
  };
  hooks.query_host = [this](std::string endpoint) -> awaitable<Result<nlohmann::json>> {
    const std::string label = "host query to " + endpoint;
    auto connected = co_await connect_peer(endpoint, label, config_.io_timeout);
    if (!connected) co_return std::move(connected).error();
    auto connection = std::move(*connected);
    ControlChannel channel(*connection, config_.io_timeout);
    auto hello = co_await channel.exchange_hello(config_.host_name, 0);
    if (!hello) {
      connection->close();
      co_return std::move(hello).error();
    }
    const std::string host_query;  // the empty session asks about the host itself
    auto report = co_await channel.query_session(host_query);
    connection->close();
    co_return report;
  };
  return hooks;
}

ApiResponse Agent::start_evacuation(const nlohmann::json& body) {
  auto request = EvacuationRequest::from_json(body);
  if (!request) return error_response(request.error());
  std::string id;
  {
    std::lock_guard lock(evacuations_mutex_);
    id = fmt::format("e{}", next_evacuation_++);
  }
  const nlohmann::json settings = request->settings;
  const uint32_t streams = request->streams;
  auto hooks = evacuation_hooks();
  hooks.start_migration = [this, settings, streams](const std::string& vm, const std::string& to,
                                                    uint64_t max_bandwidth) -> Result<std::string> {
    nlohmann::json move_settings = settings;
    if (max_bandwidth) move_settings["max-bandwidth"] = max_bandwidth;
    auto started = start_migration(
        {{"vm", vm}, {"to", to}, {"streams", streams}, {"settings", move_settings}});
    if (started.status != 202) {
      auto error = error_from_api_body(started.body);
      return error ? *error : Error(Errc::internal, started.body.dump());
    }
    return started.body.value("id", "");
  };
  hooks.migration_result = [this](const std::string& id) -> std::optional<nlohmann::json> {
    auto record = migrations_.find(id);
    if (!record) return nlohmann::json{{"status", "failed"}, {"error", "migration record lost"}};
    if (!record->finished()) return std::nullopt;
    nlohmann::json result = record->describe()["stats"];
    result["id"] = id;
    return result;
  };
  hooks.cancel_migration = [this](const std::string& id) {
    auto record = migrations_.find(id);
    auto job = record ? record->job() : nullptr;
    if (job && !record->finished()) job->cancel();
  };
  hooks.set_bandwidth = [this](const std::string& id, uint64_t max_bandwidth) {
    auto record = migrations_.find(id);
    auto job = record ? record->job() : nullptr;
    if (!job || record->finished()) return;
    auto current =
        precopy_settings_from_json(job->snapshot().value("settings", nlohmann::json::object()));
    if (!current) return;
    PrecopySettings updated = *current;
    updated.max_bandwidth = max_bandwidth;
    (void)job->update_settings(updated);
  };
  auto evacuation = std::make_shared<HostEvacuation>(id, config_.host_name, std::move(*request),
                                                     std::move(hooks));
  {
    std::lock_guard lock(evacuations_mutex_);
    evacuations_[id] = evacuation;
  }
  asio::co_spawn(asio::make_strand(io_), evacuation->run(), asio::detached);
  return {202, {{"id", id}}};
}

ApiResponse Agent::evacuation_action(const std::string& id, const std::string& method,
                                     const std::string& action) {
  std::shared_ptr<HostEvacuation> evacuation;
  {
    std::lock_guard lock(evacuations_mutex_);
    auto it = evacuations_.find(id);
    if (it != evacuations_.end()) evacuation = it->second;
  }
  if (!evacuation)
    return error_response(Errc::not_found,
                          fmt::format("no evacuation '{}' on {}", id, config_.host_name));
  if (method == "GET" && action.empty()) return {200, evacuation->describe()};
  if (method == "POST" && action == "cancel") {
    if (evacuation->finished())
      return error_response(Error(Errc::invalid_argument, "evacuation already finished"));
    evacuation->cancel();
    return {202, {{"cancelling", id}}};
  }
  return error_response(Errc::not_found, fmt::format("no action {} for evacuations", method));
}

ApiResponse Agent::metrics() {
  AgentMetricsInput input;
  input.host = config_.host_name;
  input.vms = vms_.all().size();
  for (const auto& record : migrations_.all()) input.migrations.push_back(record->describe());
  {
    std::lock_guard lock(evacuations_mutex_);
    for (const auto& [id, evacuation] : evacuations_)
      input.evacuations_running += evacuation->finished() ? 0 : 1;
  }
  ApiResponse response;
  response.text = render_agent_metrics(input);
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return response;
}

ApiResponse Agent::handle(const ApiRequest& request) {
  auto parts = split_path(request.path);
  // Where Prometheus looks by default, and under the API's version too.
  if (request.method == "GET" && (request.path == "/metrics" || request.path == "/v1/metrics"))
    return metrics();
  if (parts.empty() || parts[0] != "v1")
    return error_response(Errc::not_found,
                          fmt::format("no endpoint {} (API paths start with /v1/)", request.path));
  parts.erase(parts.begin());
  const auto& m = request.method;
  if (parts.size() == 1 && parts[0] == "host" && m == "GET") return host_info();
  if (!parts.empty() && parts[0] == "vms") {
    if (parts.size() == 1 && m == "GET") return list_vms();
    if (parts.size() == 1 && m == "POST") return start_vm(request.body);
    if (parts.size() >= 2)
      return vm_action(parts[1], m, parts.size() > 2 ? parts[2] : "", request.body);
  }
  if (!parts.empty() && parts[0] == "evacuations") {
    if (parts.size() == 1 && m == "POST") return start_evacuation(request.body);
    if (parts.size() == 1 && m == "GET") {
      nlohmann::json list = nlohmann::json::array();
      std::lock_guard lock(evacuations_mutex_);
      for (const auto& [id, evacuation] : evacuations_) list.push_back(evacuation->describe());
      return {200, {{"evacuations", list}}};
    }
    if (parts.size() == 2 || parts.size() == 3)
      return evacuation_action(parts[1], m, parts.size() == 3 ? parts[2] : "");
  }
  if (!parts.empty() && parts[0] == "migrations") {
    if (parts.size() == 1 && m == "POST") return start_migration(request.body);
    if (parts.size() == 1 && m == "GET") {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& r : migrations_.all()) list.push_back(r->describe());
      return {200, {{"migrations", list}}};
    }
    if (parts.size() >= 2)
      return migration_action(parts[1], m, parts.size() > 2 ? parts[2] : "", request.body);
  }
  return error_response(Errc::not_found, fmt::format("no endpoint {} {}", m, request.path));
}

std::optional<EventStream> Agent::open_stream(const ApiRequest& request) {
  auto parts = split_path(request.path);
  if (request.method != "GET" || parts.size() != 4 || parts[0] != "v1" ||
      parts[1] != "migrations" || parts[3] != "events")
    return std::nullopt;
  auto record = migrations_.find(parts[2]);
  if (!record) return std::nullopt;
  auto next = std::make_shared<size_t>(0);
  return EventStream{[record, next]() {
    auto [events, finished] = record->events_since(*next);
    *next += events.size();
    return std::make_pair(std::move(events), finished);
  }};
}

}  // namespace ferry
