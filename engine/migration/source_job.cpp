#include "engine/migration/source_job.h"

#include <fmt/format.h>

#include <thread>

#include "engine/memory/mapped_region.h"
#include "engine/migration/control_channel.h"
#include "engine/migration/downtime_breakdown.h"
#include "engine/migration/memory_digest.h"
#include "engine/migration/offer.h"
#include "engine/migration/page_stream.h"
#include "engine/precopy/precopy_policy.h"
#include "engine/precopy/rate_limiter.h"
#include "engine/transport/peer_connection.h"
#include "engine/transport/record_connection.h"
#include "engine/transport/task_group.h"
#include "engine/wire/control_records.h"
#include "engine/wire/data_records.h"

namespace ferry {

namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr size_t kDeviceStateChunk = 1 << 20;

milliseconds since(Clock::time_point t) {
  return duration_cast<milliseconds>(Clock::now() - t);
}

// Hashes the source's paused memory and compares it with the digests the destination reported.
// (Kept out of the coroutines: g++ 12 mishandles braced initializer lists inside them.)
nlohmann::json compare_memory(const std::vector<MappedRegion>& memory,
                              const std::vector<RamRegionInfo>& regions,
                              const nlohmann::json& resumed, bool& equal) {
  equal = true;
  nlohmann::json out = nlohmann::json::array();
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < memory.size(); ++i) {
    const uint64_t ours = digest_memory(memory[i].data(), memory[i].pages(), threads);
    std::optional<uint64_t> theirs;
    for (const auto& r : resumed.value("digests", nlohmann::json::array()))
      if (r.value("id", 0u) == regions[i].id)
        theirs = std::stoull(r.value("digest", "0"), nullptr, 16);
    equal = equal && theirs && ours == *theirs;
    out.push_back({{"id", regions[i].id},
                   {"source", fmt::format("{:016x}", ours)},
                   {"destination", theirs ? fmt::format("{:016x}", *theirs) : "missing"}});
  }
  return out;
}

nlohmann::json verification_document(bool memory_equal, const nlohmann::json& regions,
                                     const Result<nlohmann::json>& guest) {
  const bool guest_ok = guest && guest->value("ok", false);
  return {
      {"memory-equal", memory_equal},
      {"regions", regions},
      {"guest", guest ? *guest : nlohmann::json{{"ok", false}, {"error", guest.error().message()}}},
      {"verified", memory_equal && guest_ok}};
}
}  // namespace

// The local disks to copy (attach "copy": "mirror") and where the destination exports each.
Result<std::vector<DiskCopyTarget>> disk_copy_targets(const ResourceSet* resources,
                                                      const nlohmann::json& accept) {
  std::vector<DiskCopyTarget> targets;
  const nlohmann::json exports = accept.value("disk-copies", nlohmann::json::object());
  const nlohmann::json attachments =
      resources ? resources->attachments() : nlohmann::json::object();
  for (const auto& [id, attach] : attachments.items()) {
    if (!attach.is_object() || attach.value("copy", "") != "mirror") continue;
    const auto uri = exports.find(id);
    if (uri == exports.end() || !uri->is_string() || !uri->get<std::string>().starts_with("nbd://"))
      return Error(Errc::protocol,
                   fmt::format("ACCEPT: the destination exports no disk for local disk {} ({})", id,
                               exports.dump()));
    targets.push_back({id, uri->get<std::string>()});
  }
  if (exports.is_object() && exports.size() != targets.size())
    return Error(Errc::protocol, fmt::format("ACCEPT: the destination exports disks {} but the "
                                             "guest's local disks are {} of {}",
                                             exports.dump(), targets.size(), attachments.dump()));
  return targets;
}

nlohmann::json disk_copy_document(const DiskCopyProgress& progress) {
  return {{"total", progress.total},
          {"transferred", progress.transferred},
          {"remaining", progress.total - std::min(progress.total, progress.transferred)},
          {"ready", progress.ready}};
}

struct SourceJob::Impl {
  explicit Impl(const PrecopySettings& settings)
      : limiter(settings.max_bandwidth), policy(settings) {}

  std::shared_ptr<RecordConnection> control;
  std::vector<RamRegionInfo> regions;
  std::vector<MappedRegion> memory;
  std::vector<std::unique_ptr<PageStreamSender>> senders;
  std::unique_ptr<DirtyLog> dirty_log;
  StreamCounters counters;
  RateLimiter limiter;
  std::mutex policy_mutex;
  PrecopyPolicy policy;
  std::vector<PageBitmap> to_send;
  bool paused = false;
  bool resources_deactivated = false;
  bool switchover_sent = false;
  Clock::time_point start = Clock::now();
  Clock::time_point pause_at;
  nlohmann::json resumed;      // the destination's RESUMED report
  bool copying_disks = false;  // local disks are being mirrored to the destination
  DiskCopyProgress disk_progress;
  DowntimeBreakdown downtime;  // guarded by the job's stats mutex
  uint64_t total_bytes = 0;
  std::string compression;  // stream 0's encoding and why, after each round (stats mutex)

  void close_streams() {
    for (auto& s : senders) s->connection().close();
  }
  void close_all() {
    if (control) control->close();
    close_streams();
  }
};

SourceJob::SourceJob(asio::io_context& io, std::shared_ptr<Vm> vm, MigrationRequest request,
                     ProgressFn progress)
    : io_(io),
      vm_(std::move(vm)),
      request_(std::move(request)),
      progress_(std::move(progress)),
      session_(new_session_id()),
      impl_(std::make_unique<Impl>(request_.settings)) {
  stats_.status = MigrationStatus::setup;
  stats_.phase = std::string(phase_name(Phase::negotiate));
  for (const auto& r : vm_->ram_regions()) impl_->total_bytes += r.size;
  stats_.total = impl_->total_bytes;
}

SourceJob::~SourceJob() = default;

void SourceJob::cancel() {
  cancelled_ = true;
  // Unblock whatever the job waits for; it sees `cancelled_` and rolls back.
  if (phase_ < Phase::switchover) impl_->close_all();
}

Result<void> SourceJob::update_settings(const PrecopySettings& settings) {
  if (auto valid = validate(settings); !valid) return valid;
  std::lock_guard lock(impl_->policy_mutex);
  // Delta encodes against what each stream sent before: the encoding is fixed for the job.
  if (settings.compress != impl_->policy.settings().compress)
    return Error(Errc::invalid_argument,
                 fmt::format("precopy settings: compress is {} for this migration and cannot "
                             "change while it runs",
                             compress_mode_name(impl_->policy.settings().compress)));
  impl_->policy.update_settings(settings);
  impl_->limiter.set_rate(settings.max_bandwidth);
  request_.settings = settings;
  return ok();
}

nlohmann::json SourceJob::snapshot() const {
  std::lock_guard lock(stats_mutex_);
  MigrationStats stats = stats_;
  stats.transferred =
      impl_->counters.wire_bytes + (impl_->control ? impl_->control->bytes_written() : 0);
  stats.duplicate = impl_->counters.zero_pages;
  stats.normal = impl_->counters.normal_pages;
  stats.normal_bytes = impl_->counters.normal_bytes;
  if (stats.status == MigrationStatus::setup || stats.status == MigrationStatus::active ||
      stats.status == MigrationStatus::device)
    stats.total_time = since(impl_->start);
  auto json = stats.to_json();
  json["session"] = session_;
  json["vm"] = vm_->name();
  json["destination"] = request_.destination;
  json["streams"] = request_.streams;
  if (impl_->disk_progress.total > 0) json["disk"] = disk_copy_document(impl_->disk_progress);
  if (!impl_->downtime.empty()) json["downtime-breakdown"] = impl_->downtime.to_json();
  json["compression"] = {{"encoded-pages", impl_->counters.encoded_pages.load()},
                         {"encoding", impl_->compression}};
  std::lock_guard policy_lock(impl_->policy_mutex);
  json["settings"] = precopy_settings_to_json(impl_->policy.settings());
  return json;
}

void SourceJob::publish() {
  if (progress_) progress_(snapshot());
}

awaitable<Result<void>> SourceJob::run_phases() {
  auto& d = *impl_;
  const auto io_timeout = request_.io_timeout;

  // --- negotiate
  phase_ = Phase::negotiate;
  const std::string control_label = "control connection to " + request_.destination;
  auto control_connection = co_await connect_peer(request_.destination, control_label, io_timeout);
  if (!control_connection) co_return std::move(control_connection).error();
  d.control = std::move(*control_connection);
  ControlChannel control(*d.control, io_timeout);
  auto version = co_await control.exchange_hello(request_.source_host, request_.protocol_version);
  if (!version) co_return std::move(version).error();

  // --- prepare: the destination maps our resources and allocates memory, or refuses.
  phase_ = Phase::prepare;
  {
    std::lock_guard lock(stats_mutex_);
    stats_.phase = std::string(phase_name(Phase::prepare));
  }
  d.regions = vm_->ram_regions();
  Offer offer;
  offer.session = session_;
  offer.vm_name = vm_->name();
  offer.vm_kind = std::string(vm_->kind());
  offer.vm_spec = vm_->spec();
  offer.streams = request_.streams;
  offer.verify = request_.verify;
  offer.source_host = request_.source_host;
  if (request_.resources && !request_.resources->empty()) {
    // What we see of each disk and NIC: the destination must reach the very same ones.
    auto facts = request_.resources->inspect();
    if (!facts) co_return std::move(facts).error();
    offer.resources = request_.resources->specs();
    offer.resource_facts = std::move(facts).value();
  }
  for (const auto& r : d.regions) {
    offer.regions.push_back({r.id, r.name, r.size});
    auto mapped = MappedRegion::open(r.path, r.size, MappedRegion::Access::read_only);
    if (!mapped) co_return std::move(mapped).error().within("mapping guest memory");
    d.memory.push_back(std::move(*mapped));
  }
  const auto offer_json = offer.to_json();
  if (auto sent = co_await control.send_json(wire::RecordType::offer, offer_json); !sent)
    co_return sent;
  auto answer = co_await control.expect_accept(request_.prepare_timeout);
  if (!answer) co_return std::move(answer).error();
  auto copies = disk_copy_targets(request_.resources.get(), *answer);
  if (!copies) co_return std::move(copies).error();
  if (!copies->empty()) {
    // Local disks travel beside the memory: the guest's QEMU mirrors them into the exports.
    if (auto started = vm_->start_disk_copy(*copies); !started)
      co_return std::move(started).error().within("starting the disk copy");
    d.copying_disks = true;
  }

  std::vector<SourceRegion> source_regions;
  for (size_t i = 0; i < d.regions.size(); ++i)
    source_regions.push_back({d.regions[i].id, &d.memory[i]});
  for (uint32_t i = 0; i < request_.streams; ++i) {
    const std::string stream_label = fmt::format("stream {} to {}", i, request_.destination);
    auto data_connection = co_await connect_peer(request_.destination, stream_label, io_timeout);
    if (!data_connection)
      co_return std::move(data_connection).error().within(fmt::format("stream {}", i));
    auto connection = std::move(*data_connection);
    auto hello = wire::encode(wire::StreamHello{session_, i, request_.streams});
    auto sent = co_await connection->write(static_cast<uint16_t>(wire::RecordType::stream_hello),
                                           hello, io_timeout);
    if (!sent) co_return sent;
    d.senders.push_back(std::make_unique<PageStreamSender>(
        std::move(connection), i, request_.streams, source_regions, d.counters, d.limiter,
        cancelled_, StreamTimeouts{io_timeout}));
    d.senders.back()->set_compression(request_.settings.compress, control.peer_capabilities());
  }
  {
    std::lock_guard lock(stats_mutex_);
    d.compression = d.senders.front()->compression_explanation();
    stats_.setup_time = since(d.start);
  }

  // --- precopy: protect everything, then send everything; then only what was dirtied.
  phase_ = Phase::precopy;
  auto log = vm_->open_dirty_log();
  if (!log) co_return std::move(log).error().within("dirty tracking");
  d.dirty_log = std::move(*log);
  if (auto started = d.dirty_log->start(); !started)
    co_return std::move(started).error().within("dirty tracking");
  for (auto& m : d.memory) {
    d.to_send.emplace_back(m.pages());
    d.to_send.back().set_all();
  }

  auto send_round = [&](uint32_t round) -> awaitable<Result<void>> {
    const auto begin = wire::encode(wire::RoundBegin{round});
    if (auto begun = co_await control.send(wire::RecordType::round_begin, begin); !begun)
      co_return begun;
    // The executor first, in a statement of its own: a co_await that shares a full-expression with
    // a lambda temporary is miscompiled by g++ 12 (the temporary is destroyed twice).
    const auto executor = co_await asio::this_coro::executor;
    TaskGroup group(executor, [&](const Error&) {
      // The control connection stays open: the destination may say there why it gave up.
      d.close_streams();
    });
    for (auto& sender : d.senders)
      group.spawn(sender->connection().executor(), sender->send_round(round, d.to_send));
    auto waited = co_await group.wait();
    {
      // The senders are idle between rounds: their state can be read here.
      std::lock_guard lock(stats_mutex_);
      d.compression = d.senders.front()->compression_explanation();
    }
    co_return waited;
  };

  auto collect = [&]() -> Result<uint64_t> {
    uint64_t found = 0;
    for (size_t i = 0; i < d.regions.size(); ++i) {
      auto n = d.dirty_log->collect(d.regions[i].id, d.to_send[i]);
      if (!n) return std::move(n).error().within("dirty tracking");
      found += *n;
    }
    std::lock_guard lock(stats_mutex_);
    ++stats_.dirty_sync_count;
    return found;
  };

  uint32_t round = 0;
  for (;; ++round) {
    {
      std::lock_guard lock(stats_mutex_);
      stats_.status = MigrationStatus::active;
      stats_.round = round;
      stats_.phase = fmt::format("precopy round {}", round);
    }
    const auto round_start = Clock::now();
    const uint64_t bytes_before = d.counters.wire_bytes;
    uint64_t pages = 0;
    for (const auto& b : d.to_send) pages += b.count();
    auto sent = co_await send_round(round);
    if (cancelled_) co_return Error(Errc::cancelled, "cancelled by request");
    if (!sent) co_return std::move(sent).error().within(fmt::format("round {}", round));
    for (auto& b : d.to_send) b.clear_all();
    auto dirty = collect();
    if (!dirty) co_return std::move(dirty).error();
    const auto duration = Clock::now() - round_start;
    const uint64_t bytes = d.counters.wire_bytes - bytes_before;
    const auto end = wire::encode(wire::RoundEnd{round, pages, bytes});
    if (auto ended = co_await control.send(wire::RecordType::round_end, end); !ended)
      co_return ended;

    PrecopyDecision decision;
    {
      std::lock_guard lock(d.policy_mutex);
      decision = d.policy.decide(RoundReport{round, pages, bytes, duration, *dirty});
    }
    {
      std::lock_guard lock(stats_mutex_);
      const double seconds = std::chrono::duration<double>(duration).count();
      stats_.remaining = *dirty * kPageSize;
      stats_.mbps = seconds > 0 ? bytes * 8 / seconds / 1e6 : 0;
      stats_.pages_per_second = seconds > 0 ? static_cast<uint64_t>(pages / seconds) : 0;
      stats_.dirty_pages_rate = static_cast<uint64_t>(decision.dirty_rate / kPageSize);
      stats_.expected_downtime = decision.expected_downtime;
      stats_.precopy_decision = decision.reason;
    }
    if (d.copying_disks) {
      auto copied = co_await wait_for_disk_copy(decision.action == PrecopyAction::stop_and_copy);
      if (!copied) co_return std::move(copied).error();
      // Memory the guest dirtied while we waited goes in another round.
      if (*copied) continue;
    }
    publish();
    if (decision.action == PrecopyAction::stop_and_copy) break;
    if (decision.action == PrecopyAction::give_up)
      co_return Error(Errc::not_converging, decision.reason);
  }

  // --- stop-and-copy: from here the guest is paused; downtime runs.
  phase_ = Phase::stop_and_copy;
  {
    std::lock_guard lock(stats_mutex_);
    stats_.status = MigrationStatus::device;
    stats_.phase = std::string(phase_name(Phase::stop_and_copy));
    stats_.round = ++round;
  }
  d.pause_at = Clock::now();
  {
    std::lock_guard lock(stats_mutex_);
    d.downtime.start(d.pause_at);
  }
  d.paused = true;  // even a failed pause is answered by resume() in the rollback
  if (auto paused = vm_->pause(); !paused)
    co_return std::move(paused).error().within("pausing the guest");
  auto downtime_step = [&](const char* step) {
    std::lock_guard lock(stats_mutex_);
    d.downtime.step_done(step, Clock::now());
  };
  downtime_step("pause");
  if (auto last = collect(); !last) co_return std::move(last).error();
  d.dirty_log->stop();
  downtime_step("final-scan");
  if (auto sent = co_await send_round(round); !sent)
    co_return std::move(sent).error().within("final round");
  downtime_step("final-round");
  if (d.copying_disks) {
    // Paused, so the mirrors are idle and in sync: finish them; the destination's disks are whole.
    if (auto done = vm_->complete_disk_copy(request_.prepare_timeout); !done)
      co_return std::move(done).error();
    d.copying_disks = false;
    {
      std::lock_guard lock(stats_mutex_);
      d.disk_progress.transferred = d.disk_progress.total;
    }
    downtime_step("disk-copy-complete");
  }
  auto device_state = vm_->save_device_state();
  if (!device_state) co_return std::move(device_state).error().within("saving device state");
  downtime_step("device-state-save");
  const auto& state = *device_state;
  for (size_t offset = 0; offset == 0 || offset < state.size(); offset += kDeviceStateChunk) {
    const size_t n = std::min(kDeviceStateChunk, state.size() - offset);
    auto chunk = wire::encode(wire::DeviceState{
        offset, state.size(),
        std::vector<std::byte>(state.begin() + offset, state.begin() + offset + n)});
    if (auto sent = co_await control.send(wire::RecordType::device_state, chunk); !sent)
      co_return sent;
    if (state.empty()) break;
  }
  downtime_step("device-state-send");

  // --- switchover: the destination drains, loads device state, resumes and says RESUMED.
  phase_ = Phase::switchover;
  {
    std::lock_guard lock(stats_mutex_);
    stats_.phase = std::string(phase_name(Phase::switchover));
  }
  if (request_.resources && !request_.resources->empty()) {
    // The guest is paused and its device state saved: give up the disks and ports so the
    // destination can take them; a rollback takes them back before resuming here.
    d.resources_deactivated = true;
    if (auto given = request_.resources->deactivate(); !given) co_return given;
    downtime_step("resources-deactivate");
  }
  const uint64_t total_pages = d.counters.zero_pages + d.counters.normal_pages;
  const auto switchover = wire::encode(wire::Switchover{round + 1, total_pages});
  if (auto sent = co_await control.send(wire::RecordType::switchover, switchover); !sent)
    co_return sent;
  d.switchover_sent = true;
  auto resumed = co_await control.expect_resumed(request_.prepare_timeout);
  if (!resumed) co_return std::move(resumed).error();
  d.resumed = std::move(*resumed);
  // Device state sent, SWITCHOVER, and the destination's drain, resources, load and resume.
  downtime_step("destination");
  co_return ok();
}

awaitable<Result<bool>> SourceJob::wait_for_disk_copy(bool until_ready) {
  auto& d = *impl_;
  bool waited = false;
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  for (;;) {
    auto progress = vm_->disk_copy_progress();
    if (!progress) co_return std::move(progress).error().within("disk copy");
    {
      std::lock_guard lock(stats_mutex_);
      d.disk_progress = *progress;
      if (until_ready && !progress->ready) stats_.precopy_decision = "waiting for the disk copy";
    }
    if (!until_ready || progress->ready) co_return waited;
    publish();
    if (cancelled_) co_return Error(Errc::cancelled, "cancelled by request");
    waited = true;
    timer.expires_after(std::chrono::milliseconds(200));
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

awaitable<Result<bool>> SourceJob::ask_destination_outcome() {
  // The destination keeps the outcome of recent sessions; it may still be resuming.
  for (int attempt = 0; attempt < 10; ++attempt) {
    const std::string query_label = "query to " + request_.destination;
    auto connected = co_await connect_peer(request_.destination, query_label, request_.io_timeout);
    if (connected) {
      auto connection = std::move(*connected);
      ControlChannel channel(*connection, request_.io_timeout);
      auto hello = co_await channel.exchange_hello(request_.source_host, 0);
      if (hello) {
        auto state = co_await channel.query_session(session_);
        if (state) {
          const std::string s = state->value("state", "unknown");
          if (s == "resumed") co_return true;
          if (s == "rolled_back" || s == "unknown") co_return false;
        }
      }
      connection->close();
    }
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, std::chrono::seconds(1));
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  co_return Error(
      Errc::unreachable,
      fmt::format("cannot learn from {} whether it resumed the guest", request_.destination));
}

awaitable<void> SourceJob::roll_back(const Error& error, MigrationOutcome& outcome) {
  auto& d = *impl_;
  if (d.switchover_sent && error.code() != Errc::peer_abort) {
    // The commit point may have passed: only the destination knows. (An ABORT from it says it
    // did not resume, so that case rolls back below.)
    auto resumed = co_await ask_destination_outcome();
    if (resumed && *resumed) {
      outcome.ok = true;
      outcome.error.reset();
      outcome.vm_location = "destination";
      (void)vm_->stop();
      if (request_.resources) request_.resources->release_moved_away();
      co_return;
    }
    if (!resumed) {
      outcome.vm_location = "unknown (paused on source)";
      outcome.error = Error(Errc::unreachable,
                            error.message() + "; " + resumed.error().message() +
                                ": the guest stays paused here; resume it only after checking "
                                "the destination");
      co_return;
    }
  } else if (d.control && d.control->is_open()) {
    ControlChannel control(*d.control, std::chrono::seconds(1));
    co_await control.send_abort(error, phase_name(outcome.failed_phase));
  }
  d.close_all();
  if (d.dirty_log) d.dirty_log->stop();
  if (d.copying_disks) {
    vm_->cancel_disk_copy();  // our disks stay as they are, in use by the guest
    d.copying_disks = false;
  }
  outcome.vm_location = "source";
  if (d.resources_deactivated) {
    // Never run the guest here without its disks and ports: stay paused if they cannot be had.
    if (auto taken = request_.resources->activate(); !taken) {
      outcome.vm_location = "source (paused: its resources could not be taken back)";
      outcome.error =
          Error(error.code(),
                error.message() + "; taking the resources back failed: " + taken.error().message());
      co_return;
    }
  }
  if (d.paused) {
    if (auto resumed = vm_->resume(); !resumed) {
      outcome.vm_location = "source (paused: resume failed)";
      outcome.error = Error(error.code(), error.message() +
                                              "; resuming the guest on the source "
                                              "failed: " +
                                              resumed.error().message());
    }
  }
}

awaitable<MigrationOutcome> SourceJob::run() {
  auto self = shared_from_this();  // keeps the job alive for the progress ticker
  auto finished = std::make_shared<std::atomic<bool>>(false);
  // Progress at least every second, so a caller never watches a silent job.
  // The executor is awaited apart from the lambda: g++ 12 miscompiles a co_await sharing a
  // full-expression with a lambda temporary, and would release its shared_ptrs twice.
  const auto job_executor = co_await asio::this_coro::executor;
  auto ticker = [self, finished]() -> awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!*finished) {
      timer.expires_after(std::chrono::seconds(1));
      boost::system::error_code ignored;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      if (!*finished) self->publish();
    }
  };
  asio::co_spawn(job_executor, std::move(ticker), asio::detached);

  MigrationOutcome outcome;
  auto result = co_await run_phases();
  auto& d = *impl_;
  if (!result && !cancelled_ && d.control && d.control->is_open() &&
      result.error().code() != Errc::peer_abort && result.error().code() != Errc::rejected) {
    // A broken data stream is often the symptom: the destination may have said why on the
    // control connection (ABORT) before it closed the streams.
    ControlChannel control(*d.control, std::chrono::seconds(2));
    auto said = co_await control.read(std::chrono::seconds(2));
    if (!said && said.error().code() == Errc::peer_abort)
      result = Error(Errc::peer_abort,
                     said.error().message() + " (here: " + result.error().message() + ")");
  }
  if (result) {
    outcome.ok = true;
    outcome.vm_location = "destination";
  } else {
    Error error = std::move(result).error();
    if (cancelled_ && error.code() != Errc::cancelled)
      error = Error(Errc::cancelled, "cancelled by request");
    outcome.failed_phase = phase_;
    outcome.error = Error(error).within(phase_name(phase_));
    phase_ = Phase::rollback;
    co_await roll_back(*outcome.error, outcome);
  }
  nlohmann::json verification;
  std::optional<milliseconds> committed_after;
  if (outcome.ok) {
    phase_ = Phase::commit;
    std::lock_guard lock(stats_mutex_);
    stats_.downtime = since(d.pause_at);
    // As QEMU's total-time: the migration is done when the guest runs on the destination; the
    // verification and the source's clean-up (stopping the guest, freeing its memory) come after.
    committed_after = since(d.start);
  }
  if (outcome.ok && request_.verify && !d.resumed.is_null()) {
    // The source memory is frozen (paused) until we stop the guest: hash it now, off the downtime.
    bool equal = false;
    nlohmann::json regions = compare_memory(d.memory, d.regions, d.resumed, equal);
    ControlChannel control(*d.control, std::chrono::seconds(120));
    auto guest = co_await control.expect_status();
    verification = verification_document(equal, regions, guest);
  }
  if (outcome.ok) {
    if (auto stopped = vm_->stop(); !stopped)
      verification["source-release-error"] = stopped.error().message();
    if (request_.resources) request_.resources->release_moved_away();
  }
  d.close_all();
  // The job's record outlives it (the API lists finished jobs): let go of the guest's memory
  // mappings, the senders' buffers and the dirty log now, or a host emptied by migrations would
  // keep every moved guest's RAM until the agent restarts. Senders point into the mappings: first.
  d.senders.clear();
  d.dirty_log.reset();
  d.to_send.clear();
  d.memory.clear();
  phase_ = Phase::done;
  *finished = true;
  {
    std::lock_guard lock(stats_mutex_);
    stats_.total_time = committed_after ? *committed_after : since(d.start);
    stats_.phase = outcome.ok
                       ? "completed"
                       : std::string("failed in ") + std::string(phase_name(outcome.failed_phase));
    stats_.status = outcome.ok ? MigrationStatus::completed
                    : (outcome.error && outcome.error->code() == Errc::cancelled)
                        ? MigrationStatus::cancelled
                        : MigrationStatus::failed;
    if (outcome.error) stats_.error = outcome.error->message();
  }
  outcome.stats = snapshot();
  outcome.stats["vm-location"] = outcome.vm_location;
  if (!d.resumed.is_null()) outcome.stats["destination-report"] = d.resumed;
  if (!verification.is_null()) outcome.stats["verification"] = verification;
  if (outcome.error) outcome.stats["error-code"] = std::string(errc_name(outcome.error->code()));
  if (progress_) progress_(outcome.stats);
  co_return outcome;
}

}  // namespace ferry
