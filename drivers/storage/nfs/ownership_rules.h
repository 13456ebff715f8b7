// Who may change an image's ownership record, and to what, at each step of the resource contract.
// Pure decisions over the record as read; ownership_store.h applies them by compare-and-swap.
//
// The rules (the source never resumes a VM whose record names another host):
//   activate    takes the record when it is free; refuses while any other host owns it. A
//               destination (which knows from the source's facts who owned the disk) takes it only
//               from that host's release: a record released by a third host means something else
//               moved the disk meanwhile. A host starting a VM itself takes any free record.
//   deactivate  releases the record if this host owns it; otherwise there is nothing to give up.
//   rollback    puts back the holder seen at prepare if the record still shows this host's own
//               change; a record another host changed since is left alone.
//   inspect / prepare refuse a record owned by a host other than this one (or than the source).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "drivers/storage/nfs/ownership_record.h"
#include "engine/error/error.h"

namespace ferry::nfs {

// The record a step wants written (only owner and released_by are meaningful; the store sets
// generation and changed_by), or nullopt when the record already says what the step wants.
using RecordChange = std::optional<OwnershipRecord>;

// `expected_releaser`: the owner named in the source's facts (nullopt when this host starts the
// VM itself, or the source held no ownership).
Result<RecordChange> plan_activate(const OwnershipRecord& current, std::string_view host,
                                   const std::optional<std::string>& expected_releaser,
                                   std::string_view record_path);

RecordChange plan_deactivate(const OwnershipRecord& current, std::string_view host);

RecordChange plan_restore(const OwnershipRecord& current, const OwnershipRecord& before,
                          std::string_view host);

// Inspect on a source: refuses when another host owns the disk.
Result<void> check_inspect(const OwnershipRecord& current, std::string_view host,
                           std::string_view record_path);

// Prepare: with facts from a source (`source_owner` as the source saw it), the record must not
// name a third host; without (this host starts the VM), it must not name any other host.
Result<void> check_prepare(const OwnershipRecord& current, std::string_view host, bool from_source,
                           const std::optional<std::string>& source_owner,
                           std::string_view record_path);

}  // namespace ferry::nfs
