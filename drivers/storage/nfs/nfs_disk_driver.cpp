#include "drivers/storage/nfs/nfs_disk_driver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "drivers/storage/nfs/nfs_image_facts.h"
#include "drivers/storage/nfs/nfs_location.h"
#include "drivers/storage/nfs/nfs_session.h"
#include "drivers/storage/nfs/ownership_record.h"
#include "drivers/storage/nfs/ownership_rules.h"
#include "drivers/storage/nfs/ownership_store.h"

namespace ferry {

namespace nfs {

namespace {

using Clock = NfsSession::Clock;

// UMNT is advisory: a server that stops answering after the step's work is done must not hold the
// step up for the rest of its timeout.
constexpr std::chrono::milliseconds kUnmountBudget{500};

const nlohmann::json& nfs_host_config(const ResourceContext& context) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (context.host_config.is_object() && context.host_config.contains("nfs"))
    return context.host_config.at("nfs");
  return empty;
}

Result<NfsImageLocation> location_of(const ResourceBinding& binding,
                                     const ResourceContext& context) {
  // Later steps use the mapping prepare resolved, even if the host configuration changed since.
  if (binding.state.is_object() && binding.state.contains("location"))
    return NfsImageLocation::from_json(binding.state.at("location"));
  return resolve_image(binding.spec.params, nfs_host_config(context));
}

Result<void> require_host_name(const ResourceContext& context) {
  if (!context.host.empty()) return {};
  return Error(Errc::invalid_argument,
               "this host has no name (ResourceContext::host): ownership records need one");
}

std::string record_display(const NfsImageLocation& location) {
  return location.display() + ".owner";
}

// Mounts the location's export, runs `work` and unmounts, all before the step's deadline.
template <typename Work>
auto with_session(const NfsImageLocation& location, const ResourceContext& context, Work&& work)
    -> decltype(work(std::declval<NfsSession&>())) {
  auto session = NfsSession::mount(location.where, Clock::now() + context.timeout);
  if (!session)
    return std::move(session).error().within(
        fmt::format("storage repository {}", location.repository));
  auto result = work(*session.value());
  session.value()->set_deadline(
      std::min(session.value()->deadline(), Clock::now() + kUnmountBudget));
  (void)session.value()->unmount();
  return result;
}

// Stats the image; Errc::not_found naming the repository when it is absent.
Result<NfsFileStat> stat_image(NfsSession& session, const NfsImageLocation& location) {
  auto st = session.stat(location.image_path());
  if (!st) {
    if (st.error().code() == Errc::not_found)
      return Error(
          Errc::not_found,
          fmt::format("image {} not found in storage repository {} ({}): {}", location.image,
                      location.repository, location.display(), st.error().message()));
    return std::move(st).error();
  }
  if (!S_ISREG(st.value().mode))
    return Error(Errc::rejected, fmt::format("{} is not a regular file (mode {:o})",
                                             location.display(), st.value().mode));
  return st;
}

NfsImageFacts facts_of(const NfsFileStat& st) {
  NfsImageFacts facts;
  facts.fileid = st.fileid;
  facts.size = st.size;
  facts.fsid = st.fsid;
  return facts;
}

Result<void> check_writable(NfsSession& session, const NfsImageLocation& location,
                            const NfsFileStat& st) {
  // The server lets root write a 0444 file, but a disk made read-only on purpose must stay so.
  if ((st.mode & 0222) == 0)
    return Error(Errc::rejected, fmt::format("{} is read-only (mode {:o}): the guest could not "
                                             "write its disk",
                                             location.display(), st.mode & 07777));
  auto granted = session.access(location.image_path());
  if (!granted) return std::move(granted).error();
  if ((granted.value() & W_OK) == 0)
    return Error(
        Errc::rejected,
        fmt::format("{} is not writable from this host: the server grants only {}{}{} "
                    "(a read-only export, or the file's permissions)",
                    location.display(), (granted.value() & R_OK) ? "r" : "-",
                    (granted.value() & W_OK) ? "w" : "-", (granted.value() & X_OK) ? "x" : "-"));
  // ACCESS is advisory: open it as QEMU will.
  return session.open_read_write(location.image_path());
}

Result<void> check_unchanged(const ResourceBinding& binding, const NfsImageFacts& here,
                             const NfsImageLocation& location) {
  if (!binding.state.contains("image")) return {};
  auto prepared = NfsImageFacts::from_json(binding.state.at("image"));
  if (!prepared) return std::move(prepared).error().within("nfs binding state");
  auto same = check_same_image(prepared.value(), here, location.display());
  if (!same) return std::move(same).error().within("the image changed since prepare");
  return {};
}

}  // namespace

Result<nlohmann::json> NfsDiskDriver::inspect(const ResourceBinding& binding,
                                              const ResourceContext& context) {
  auto location = location_of(binding, context);
  if (!location) return std::move(location).error();
  return with_session(
      location.value(), context, [&](NfsSession& session) -> Result<nlohmann::json> {
        auto st = stat_image(session, location.value());
        if (!st) return std::move(st).error();
        NfsImageFacts facts = facts_of(st.value());
        OwnershipStore store(session, location.value().record_path(), context.host);
        auto record = store.read();
        if (!record) return std::move(record).error();
        if (auto owned =
                check_inspect(record.value(), context.host, record_display(location.value()));
            !owned)
          return std::move(owned).error();
        facts.owner = record.value().owner;
        return facts.to_json();
      });
}

Result<ResourceBinding> NfsDiskDriver::prepare(const ResourceSpec& spec,
                                               const nlohmann::json& source_facts,
                                               const ResourceContext& context) {
  if (auto named = require_host_name(context); !named) return std::move(named).error();
  auto location = resolve_image(spec.params, nfs_host_config(context));
  if (!location) return std::move(location).error();
  std::optional<NfsImageFacts> source;
  if (!source_facts.is_null()) {
    auto parsed = NfsImageFacts::from_json(source_facts);
    if (!parsed) return std::move(parsed).error();
    source = std::move(parsed).value();
  }
  return with_session(
      location.value(), context, [&](NfsSession& session) -> Result<ResourceBinding> {
        auto st = stat_image(session, location.value());
        if (!st) return std::move(st).error();
        const NfsImageFacts here = facts_of(st.value());
        if (source) {
          if (auto same = check_same_image(*source, here, location.value().display()); !same)
            return std::move(same).error();
        }
        if (auto writable = check_writable(session, location.value(), st.value()); !writable)
          return std::move(writable).error();
        OwnershipStore store(session, location.value().record_path(), context.host);
        auto record = store.read();
        if (!record) return std::move(record).error();
        if (auto allowed = check_prepare(record.value(), context.host, source.has_value(),
                                         source ? source->owner : std::nullopt,
                                         record_display(location.value()));
            !allowed)
          return std::move(allowed).error();

        ResourceBinding binding;
        binding.spec = spec;
        binding.state = {
            {"location", location.value().to_json()},
            {"image", here.to_json()},
            {"record-before", record.value().to_json()},
            {"expected-releaser",
             source && source->owner ? nlohmann::json(*source->owner) : nlohmann::json(nullptr)}};
        binding.attach = {{"qemu-drive", qemu_drive(location.value())}};
        return binding;
      });
}

Result<void> NfsDiskDriver::activate(ResourceBinding& binding, const ResourceContext& context) {
  if (auto named = require_host_name(context); !named) return std::move(named).error();
  auto location = location_of(binding, context);
  if (!location) return std::move(location).error();
  std::optional<std::string> expected_releaser;
  if (binding.state.contains("expected-releaser") &&
      binding.state.at("expected-releaser").is_string())
    expected_releaser = binding.state.at("expected-releaser").get<std::string>();
  return with_session(location.value(), context, [&](NfsSession& session) -> Result<void> {
    auto st = stat_image(session, location.value());
    if (!st) return std::move(st).error();
    if (auto same = check_unchanged(binding, facts_of(st.value()), location.value()); !same)
      return same;
    OwnershipStore store(session, location.value().record_path(), context.host);
    const std::string shown = record_display(location.value());
    auto changed = store.change([&](const OwnershipRecord& current) {
      return plan_activate(current, context.host, expected_releaser, shown);
    });
    if (!changed) return std::move(changed).error();
    return {};
  });
}

Result<void> NfsDiskDriver::deactivate(ResourceBinding& binding, const ResourceContext& context) {
  if (auto named = require_host_name(context); !named) return std::move(named).error();
  auto location = location_of(binding, context);
  if (!location) return std::move(location).error();
  return with_session(location.value(), context, [&](NfsSession& session) -> Result<void> {
    OwnershipStore store(session, location.value().record_path(), context.host);
    auto changed = store.change([&](const OwnershipRecord& current) -> Result<RecordChange> {
      return plan_deactivate(current, context.host);
    });
    if (!changed) return std::move(changed).error();
    return {};
  });
}

Result<void> NfsDiskDriver::release(ResourceBinding&, const ResourceContext&) {
  // Each step mounted and unmounted on its own: no connection or handle outlives it.
  return {};
}

Result<void> NfsDiskDriver::rollback(ResourceBinding& binding, const ResourceContext& context) {
  if (!binding.state.is_object() || !binding.state.contains("record-before")) return {};
  if (auto named = require_host_name(context); !named) return std::move(named).error();
  auto location = location_of(binding, context);
  if (!location) return std::move(location).error();
  auto before = OwnershipRecord::from_json(binding.state.at("record-before"),
                                           record_display(location.value()));
  if (!before) return std::move(before).error().within("nfs binding state");
  return with_session(location.value(), context, [&](NfsSession& session) -> Result<void> {
    OwnershipStore store(session, location.value().record_path(), context.host);
    auto changed = store.change([&](const OwnershipRecord& current) -> Result<RecordChange> {
      return plan_restore(current, before.value(), context.host);
    });
    if (!changed) return std::move(changed).error();
    return {};
  });
}

Result<std::optional<std::string>> NfsDiskDriver::owner_of(const ResourceSpec& spec,
                                                           const ResourceContext& context) {
  auto location = resolve_image(spec.params, nfs_host_config(context));
  if (!location) return std::move(location).error();
  return with_session(location.value(), context,
                      [&](NfsSession& session) -> Result<std::optional<std::string>> {
                        OwnershipStore store(session, location.value().record_path(), context.host);
                        auto record = store.read();
                        if (!record) return std::move(record).error();
                        return record.value().owner;
                      });
}

}  // namespace nfs

std::shared_ptr<ResourceDriver> make_nfs_disk_driver() {
  return std::make_shared<nfs::NfsDiskDriver>();
}

}  // namespace ferry
