// Reads and changes an image's ownership record through libnfs, atomically.
//
// A change of generation g to g+1 first creates "<record>.<g+1>" exclusively (NFSv3 exclusive
// create: only one host can hold that name), writes the new record into it, re-reads the record to
// be sure it is still at generation g, then renames the temporary file over the record. So the
// record is always whole, and two hosts racing to change it (a destination activating while its
// source re-activates after a lost switchover) cannot both win: the loser re-plans against the
// winner's record, which then names the winner.
//
// A temporary file left by a crashed change blocks further changes: one written by this host is
// removed on the next try (a retried step is harmless); one written by another host makes the
// change fail with Errc::timeout, naming the file and the host, after the step's deadline (an
// operator removes it once that host is known to be down).
#pragma once

#include <functional>
#include <string>

#include "drivers/storage/nfs/nfs_session.h"
#include "drivers/storage/nfs/ownership_record.h"
#include "drivers/storage/nfs/ownership_rules.h"
#include "engine/error/error.h"

namespace ferry::nfs {

class OwnershipStore {
 public:
  using Plan = std::function<Result<RecordChange>(const OwnershipRecord& current)>;

  OwnershipStore(NfsSession& session, std::string record_path, std::string host);

  // The record as stored; generation 0 when the file does not exist.
  Result<OwnershipRecord> read();
  // Applies `plan` to the current record until the change sticks or the plan refuses; returns
  // the record as it stands afterwards.
  Result<OwnershipRecord> change(const Plan& plan);

 private:
  // What to do about an existing temporary file: true when it was this host's and is gone now.
  Result<bool> clear_own_leftover(const std::string& temp_path, std::string& holder);

  NfsSession& session_;
  std::string record_path_;
  std::string host_;
};

}  // namespace ferry::nfs
