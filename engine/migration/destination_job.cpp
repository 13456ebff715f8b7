#include "engine/migration/destination_job.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "engine/memory/mapped_region.h"
#include "engine/migration/control_channel.h"
#include "engine/migration/downtime_breakdown.h"
#include "engine/migration/memory_digest.h"
#include "engine/migration/page_stream.h"
#include "engine/transport/task_group.h"
#include "engine/wire/control_records.h"
#include "engine/wire/data_records.h"

namespace ferry {

namespace {
using Clock = std::chrono::steady_clock;
constexpr uint64_t kMaxDeviceState = 256ull << 20;
// During pre-copy the control connection is quiet for as long as a round lasts (a capped
// bandwidth can make that minutes); the data streams' own deadlines detect a dead source.
constexpr std::chrono::minutes kQuietControlTimeout{30};

// JSON documents are built outside coroutines: g++ 12 miscompiles braced initializer lists there.
nlohmann::json accept_document(const std::string& session, const std::string& host,
                               const nlohmann::json& disk_copies) {
  nlohmann::json accept = {{"session", session}, {"host", host}};
  if (!disk_copies.empty()) accept["disk-copies"] = disk_copies;
  return accept;
}

// Resources whose disk the source copies to us live (attach "copy": "mirror").
std::vector<std::string> disks_to_copy(const nlohmann::json& attachments) {
  std::vector<std::string> ids;
  for (const auto& [id, attach] : attachments.items())
    if (attach.is_object() && attach.value("copy", "") == "mirror") ids.push_back(id);
  return ids;
}

nlohmann::json region_digest(uint32_t id, uint64_t digest) {
  return {{"id", id}, {"digest", fmt::format("{:016x}", digest)}};
}

nlohmann::json resumed_document(const std::string& host, const nlohmann::json& digests,
                                int64_t resume_ms, int64_t activate_ms, uint64_t pages,
                                uint64_t bytes) {
  return {{"host", host},
          {"digests", digests},
          {"resume-ms", resume_ms},
          {"resources-activate-ms", activate_ms},
          {"received-pages", pages},
          {"received-bytes", bytes}};
}

nlohmann::json verification_document(const Result<GuestVerification>& check) {
  if (!check) return {{"ok", false}, {"error", check.error().message()}};
  return {{"ok", check->ok},
          {"pages", check->pages_checked},
          {"bad", check->pages_bad},
          {"detail", check->detail}};
}
}  // namespace

struct DestinationJob::Impl {
  std::shared_ptr<RecordConnection> control;
  std::vector<RamRegionInfo> files;
  std::vector<MappedRegion> memory;
  std::vector<std::unique_ptr<PageHashes>> hashes;
  StreamCounters counters;
  std::optional<TaskGroup> group;
  // Touched only on the control connection's executor.
  std::vector<std::unique_ptr<PageStreamReceiver>> receivers;
  std::optional<Error> stream_error;
  bool abort_sent = false;
  bool switching = false;
  std::unique_ptr<std::atomic<int64_t>[]> last_fence;
  std::vector<std::byte> device_state;
  uint64_t device_state_total = 0;
  std::unique_ptr<IncomingVm> incoming;
  std::shared_ptr<ResourceSet> resources;
  std::shared_ptr<Vm> vm;
  Clock::time_point start = Clock::now();
  uint32_t round = 0;
};

DestinationJob::DestinationJob(Offer offer, std::shared_ptr<RecordConnection> control,
                               DestinationContext context)
    : offer_(std::move(offer)), context_(std::move(context)), impl_(std::make_unique<Impl>()) {
  impl_->control = std::move(control);
  impl_->receivers.resize(offer_.streams);
  impl_->last_fence = std::make_unique<std::atomic<int64_t>[]>(offer_.streams);
  for (uint32_t i = 0; i < offer_.streams; ++i) impl_->last_fence[i] = -1;
}

DestinationJob::~DestinationJob() = default;

std::string_view DestinationJob::state_name() const {
  switch (state_.load()) {
    case State::in_progress:
      return "in_progress";
    case State::resumed:
      return "resumed";
    case State::aborted:
      return "rolled_back";
  }
  return "unknown";
}

nlohmann::json DestinationJob::describe() const {
  return {{"session", offer_.session},
          {"vm", offer_.vm_name},
          {"state", state_name()},
          {"phase", phase_name(phase_)},
          {"source", offer_.source_host}};
}

void DestinationJob::fail_streams(const Error& error) {
  if (impl_->switching || impl_->stream_error) return;
  impl_->stream_error = error;
  impl_->abort_sent = true;
  // Tell the source why before anything is closed, then wake the control loop (it waits in a
  // read), which reports stream_error and discards what was received.
  asio::co_spawn(
      impl_->control->executor(),
      [self = shared_from_this(), error]() -> awaitable<void> {
        ControlChannel control(*self->impl_->control, std::chrono::seconds(1));
        (void)co_await control.send_abort(error, phase_name(self->phase_));
        self->impl_->control->close();
      },
      asio::detached);
}

void DestinationJob::attach_stream(uint32_t index, uint32_t count,
                                   std::shared_ptr<RecordConnection> connection) {
  auto self = shared_from_this();
  asio::post(impl_->control->executor(),
             [self, index, count, connection = std::move(connection)]() mutable {
               auto& d = *self->impl_;
               if (!d.group || d.switching || index >= self->offer_.streams ||
                   count != self->offer_.streams || d.receivers[index]) {
                 spdlog::warn("session {}: refusing data connection {} of {} ({})",
                              self->offer_.session, index, count, connection->label());
                 connection->close();
                 return;
               }
               std::vector<DestinationRegion> regions;
               for (size_t i = 0; i < d.memory.size(); ++i)
                 regions.push_back(
                     {d.files[i].id, &d.memory[i], d.hashes.empty() ? nullptr : d.hashes[i].get()});
               auto executor = connection->executor();
               d.receivers[index] = std::make_unique<PageStreamReceiver>(
                   std::move(connection), index, count, std::move(regions), d.counters,
                   StreamTimeouts{self->context_.io_timeout});
               // The stream's coroutine lives in the job's group: no strong reference back.
               std::weak_ptr<DestinationJob> weak_self = self;
               d.group->spawn(executor, d.receivers[index]->run([weak_self, index](uint32_t round) {
                 if (auto job = weak_self.lock()) job->impl_->last_fence[index] = round;
               }));
             });
}

awaitable<Result<void>> DestinationJob::run_phases() {
  auto& d = *impl_;
  ControlChannel control(*d.control, context_.io_timeout);

  // --- prepare
  phase_ = Phase::prepare;
  if (context_.admit) {
    if (auto admitted = context_.admit(offer_); !admitted) {
      co_await control.send_reject(admitted.error());
      co_return std::move(admitted).error();
    }
  }
  if (!offer_.resources.empty()) {
    // A wrong mapping is refused here, before the source's guest is touched.
    Result<std::shared_ptr<ResourceSet>> resources =
        context_.prepare_resources
            ? context_.prepare_resources(offer_)
            : Result<std::shared_ptr<ResourceSet>>(Error(
                  Errc::rejected, fmt::format("host {} has no resource drivers", context_.host)));
    if (!resources) {
      Error error = std::move(resources).error();
      co_await control.send_reject(error);
      co_return error;
    }
    d.resources = std::move(resources).value();
  }
  for (const auto& region : offer_.regions) {
    // "ferry-in-" marks memory still arriving: an agent that restarts removes such files.
    RamRegionInfo file{region.id, region.name,
                       fmt::format("{}/{}{}-{}-{}.ram", context_.ram_dir, kIncomingRamPrefix,
                                   offer_.session.substr(0, 8), offer_.vm_name, region.name),
                       region.size};
    // Room is checked now; the space is reserved while the first pages arrive.
    auto created = MappedRegion::create_reserving_ahead(file.path, file.size);
    if (!created) {
      Error error = std::move(created).error().within(
          fmt::format("allocating {} MiB of guest memory on {}", region.size >> 20, context_.host));
      co_await control.send_reject(error);
      co_return error;
    }
    d.files.push_back(file);
    d.memory.push_back(std::move(*created));
    if (offer_.verify) d.hashes.push_back(std::make_unique<PageHashes>(d.memory.back().pages()));
  }
  const nlohmann::json attachments =
      d.resources ? d.resources->attachments() : nlohmann::json::object();
  auto incoming = context_.prepare_incoming(offer_, d.files, attachments);
  if (!incoming) {
    Error error = std::move(incoming).error().within(
        fmt::format("preparing {} on {}", offer_.vm_name, context_.host));
    co_await control.send_reject(error);
    co_return error;
  }
  d.incoming = std::move(*incoming);
  nlohmann::json disk_copies = nlohmann::json::object();
  if (const auto ids = disks_to_copy(attachments); !ids.empty()) {
    // The source copies these disks into our guest's while memory moves; it reaches the exports
    // at the address it reached us on.
    auto exported = d.incoming->export_disks(ids, d.control->local_address());
    if (!exported) {
      Error error = std::move(exported).error().within(
          fmt::format("preparing the disk copy of {} on {}", offer_.vm_name, context_.host));
      co_await control.send_reject(error);
      co_return error;
    }
    disk_copies = std::move(exported).value();
  }
  // The job owns the group: a strong reference back would keep every finished job alive.
  std::weak_ptr<DestinationJob> weak_self = shared_from_this();
  d.group.emplace(d.control->executor(), [weak_self](const Error& error) {
    if (auto self = weak_self.lock()) self->fail_streams(error);
  });
  const auto accept = accept_document(offer_.session, context_.host, disk_copies);
  if (auto sent = co_await control.send_json(wire::RecordType::accept, accept); !sent)
    co_return sent;

  // --- precopy: pages arrive on the data streams; the control connection carries round marks.
  phase_ = Phase::precopy;
  std::optional<wire::Switchover> switchover;
  while (!switchover) {
    auto record = co_await control.read(kQuietControlTimeout);
    if (d.stream_error) co_return *d.stream_error;
    if (!record) co_return std::move(record).error();
    switch (static_cast<wire::RecordType>(record->type)) {
      case wire::RecordType::round_begin: {
        auto begin = wire::decode_round_begin(record->payload);
        if (!begin) co_return std::move(begin).error();
        d.round = begin->round;
        break;
      }
      case wire::RecordType::round_end:
        break;
      case wire::RecordType::device_state: {
        phase_ = Phase::stop_and_copy;
        auto chunk = wire::decode_device_state(record->payload);
        if (!chunk) co_return std::move(chunk).error();
        if (chunk->total > kMaxDeviceState || chunk->offset != d.device_state.size() ||
            chunk->offset + chunk->data.size() > chunk->total)
          co_return Error(
              Errc::protocol,
              fmt::format("DEVICE_STATE chunk at {} (+{}) of {} does not follow the "
                          "{} bytes received",
                          chunk->offset, chunk->data.size(), chunk->total, d.device_state.size()));
        d.device_state_total = chunk->total;
        d.device_state.insert(d.device_state.end(), chunk->data.begin(), chunk->data.end());
        break;
      }
      case wire::RecordType::switchover: {
        auto decoded = wire::decode_switchover(record->payload);
        if (!decoded) co_return std::move(decoded).error();
        switchover = *decoded;
        break;
      }
      case wire::RecordType::ping: {
        auto ping = wire::decode_ping(record->payload);
        if (!ping) co_return std::move(ping).error();
        const auto pong = wire::encode(wire::Pong{ping->nonce});
        if (auto sent = co_await control.send(wire::RecordType::pong, pong); !sent) co_return sent;
        break;
      }
      default:
        co_return Error(Errc::protocol, fmt::format("unexpected {} during pre-copy",
                                                    wire::record_type_name(record->type)));
    }
  }

  // --- switchover: the source has committed; from here we resume the guest whatever happens to
  // the control connection.
  phase_ = Phase::switchover;
  d.switching = true;
  // Where our share of the downtime goes, reported in RESUMED.
  DowntimeBreakdown steps;
  steps.start(Clock::now());
  for (uint32_t i = 0; i < offer_.streams; ++i) {
    if (!d.receivers[i])
      co_return Error(Errc::protocol, fmt::format("SWITCHOVER before data stream {} connected", i));
    if (d.last_fence[i] != static_cast<int64_t>(switchover->rounds) - 1)
      co_return Error(Errc::protocol,
                      fmt::format("SWITCHOVER after {} rounds, but stream {} finished round {}",
                                  switchover->rounds, i, d.last_fence[i].load()));
  }
  const uint64_t received_pages = d.counters.zero_pages + d.counters.normal_pages;
  if (received_pages != switchover->total_pages)
    co_return Error(Errc::corrupt, fmt::format("SWITCHOVER: the source sent {} pages, {} arrived",
                                               switchover->total_pages, received_pages));
  if (d.device_state.size() != d.device_state_total)
    co_return Error(Errc::protocol, fmt::format("device state: {} of {} bytes received",
                                                d.device_state.size(), d.device_state_total));
  for (auto& r : d.receivers) r->connection().close();
  (void)co_await d.group->wait();
  steps.step_done("drain", Clock::now());

  nlohmann::json digests = nlohmann::json::array();
  for (size_t i = 0; i < d.hashes.size(); ++i)
    digests.push_back(region_digest(d.files[i].id, d.hashes[i]->digest()));
  if (!d.hashes.empty()) steps.step_done("digest", Clock::now());

  for (auto& file : d.files) {
    std::string kept = fmt::format("{}/ferry-{}-{}-{}.ram", context_.ram_dir, offer_.vm_name,
                                   offer_.session.substr(0, 8), file.name);
    if (::rename(file.path.c_str(), kept.c_str()) != 0)
      co_return errno_error(fmt::format("renaming {} to {}", file.path, kept));
    file.path = kept;
  }
  steps.step_done("rename", Clock::now());

  const auto resume_start = Clock::now();
  if (d.resources) {
    // The source gave its disks and ports up before SWITCHOVER: take them.
    if (auto taken = d.resources->activate(); !taken)
      co_return std::move(taken).error().within("taking over the resources");
  }
  const auto activated_at = Clock::now();
  steps.step_done("resources-activate", activated_at);
  auto vm = d.incoming->finish(std::move(d.device_state), d.files);
  if (!vm) co_return std::move(vm).error().within("starting the guest");
  d.vm = *vm;
  steps.step_done("guest-start", Clock::now());
  if (auto resumed = d.vm->resume(); !resumed)
    co_return std::move(resumed).error().within("resuming the guest");
  steps.step_done("resume", Clock::now());
  state_ = State::resumed;
  phase_ = Phase::commit;
  const auto resume_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - resume_start).count();
  // Part of the downtime: disks opened, ports moved to the VM's bridge and announced.
  const auto activate_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(activated_at - resume_start).count();
  spdlog::info("session {}: {} resumed here after {} rounds ({} ms to start and resume)",
               offer_.session, offer_.vm_name, switchover->rounds, resume_ms);
  if (context_.adopt) context_.adopt(d.vm, d.resources);

  nlohmann::json report =
      resumed_document(context_.host, digests, resume_ms, activate_ms,
                       d.counters.zero_pages + d.counters.normal_pages, d.counters.wire_bytes);
  report["switchover-breakdown"] = steps.to_json();
  auto sent = co_await control.send_json(wire::RecordType::resumed, report);
  // The guest maps the files itself; our mapping goes only now, because unmapping 1 GiB costs
  // ~100 ms (measured), which would all be downtime.
  d.memory.clear();
  if (!sent) {
    spdlog::warn("session {}: guest runs here, but RESUMED could not be sent: {}", offer_.session,
                 sent.error().message());
    co_return ok();
  }
  if (offer_.verify) {
    const auto status = verification_document(d.vm->verify());
    (void)co_await control.send_json(wire::RecordType::status, status);
  }
  co_return ok();
}

void DestinationJob::discard() {
  // Runs after every receiver has finished: nothing writes into the memory freed here.
  auto& d = *impl_;
  if (d.vm) {
    (void)d.vm->stop();
    d.vm.reset();
  } else if (d.incoming) {
    d.incoming->discard();
  }
  d.memory.clear();
  for (const auto& f : d.files) ::unlink(f.path.c_str());
  // After the guest is gone: it must not do I/O on a disk whose ownership we give back.
  if (d.resources) d.resources->rollback();
}

awaitable<void> DestinationJob::run() {
  auto self = shared_from_this();
  auto result = co_await run_phases();
  auto& d = *impl_;
  if (!result && state_ != State::resumed) {
    Error error = std::move(result).error().within(phase_name(phase_));
    spdlog::warn("session {}: migration of {} from {} failed, discarding what was received: {}",
                 offer_.session, offer_.vm_name, offer_.source_host, error.message());
    if (d.control->is_open() && !d.abort_sent && error.code() != Errc::peer_abort) {
      ControlChannel control(*d.control, std::chrono::seconds(1));
      (void)co_await control.send_abort(error, phase_name(phase_));
    }
  }
  d.switching = true;  // from here a closed stream is expected, not a failure
  d.control->close();
  for (auto& r : d.receivers)
    if (r) r->connection().close();
  if (d.group) (void)co_await d.group->wait();
  if (!result && state_ != State::resumed) {
    discard();
    state_ = State::aborted;
    phase_ = Phase::rollback;
  }
  phase_ = Phase::done;
}

}  // namespace ferry
