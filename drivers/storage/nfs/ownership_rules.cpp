#include "drivers/storage/nfs/ownership_rules.h"

#include <fmt/format.h>

namespace ferry::nfs {

namespace {

OwnershipRecord owned_by(std::string_view host) {
  OwnershipRecord out;
  out.owner = std::string(host);
  return out;
}

}  // namespace

Result<RecordChange> plan_activate(const OwnershipRecord& current, std::string_view host,
                                   const std::optional<std::string>& expected_releaser,
                                   std::string_view record_path) {
  if (current.owner == host) return RecordChange();
  if (current.owner) {
    if (current.owner == expected_releaser)
      return Error(Errc::rejected,
                   fmt::format("ownership record {} still names the source host {}: it has not "
                               "released the disk, so host {} must not write to it",
                               record_path, *current.owner, host));
    return Error(Errc::rejected,
                 fmt::format("ownership record {} names host {}: that host may be running the VM, "
                             "so host {} must not take the disk",
                             record_path, *current.owner, host));
  }
  if (expected_releaser && current.released_by != expected_releaser)
    return Error(
        Errc::rejected,
        fmt::format("ownership record {} is {} (generation {}), but the disk was to come "
                    "from host {}: refusing to take a disk another host moved meanwhile",
                    record_path, current.describe(), current.generation, *expected_releaser));
  return RecordChange(owned_by(host));
}

RecordChange plan_deactivate(const OwnershipRecord& current, std::string_view host) {
  if (current.owner != host) return RecordChange();
  OwnershipRecord released;
  released.released_by = std::string(host);
  return released;
}

RecordChange plan_restore(const OwnershipRecord& current, const OwnershipRecord& before,
                          std::string_view host) {
  if (current.same_holder(before)) return RecordChange();
  const bool changed_by_us =
      current.owner == host || (!current.owner && current.released_by == host);
  if (!changed_by_us) return RecordChange();
  OwnershipRecord restored;
  restored.owner = before.owner;
  restored.released_by = before.released_by;
  return restored;
}

Result<void> check_inspect(const OwnershipRecord& current, std::string_view host,
                           std::string_view record_path) {
  if (!current.owner || current.owner == host) return {};
  return Error(Errc::rejected,
               fmt::format("ownership record {} names host {}, not this host {}: the disk is not "
                           "this host's to migrate",
                           record_path, *current.owner, host));
}

Result<void> check_prepare(const OwnershipRecord& current, std::string_view host, bool from_source,
                           const std::optional<std::string>& source_owner,
                           std::string_view record_path) {
  if (!current.owner || current.owner == host) return {};
  if (from_source && current.owner == source_owner) return {};
  if (from_source)
    return Error(Errc::rejected,
                 fmt::format("ownership record {} names host {}, but the source reported {}: a "
                             "third host holds the disk",
                             record_path, *current.owner,
                             source_owner ? "owner " + *source_owner : std::string("no owner")));
  return Error(Errc::rejected,
               fmt::format("ownership record {} names host {}: the VM may be running there, so "
                           "host {} must not start it",
                           record_path, *current.owner, host));
}

}  // namespace ferry::nfs
