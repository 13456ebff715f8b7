// One iSCSI session (one I_T nexus) to one LUN, driven by libiscsi's asynchronous API and a poll
// loop so that every call ends by its deadline: a hung or unreachable target gives Errc::timeout,
// never a hang. Not thread-safe: one thread uses a session at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/error/error.h"

struct iscsi_context;
struct scsi_task;

namespace ferry::iscsi {

using Deadline = std::chrono::steady_clock::time_point;

struct ScsiTaskDeleter {
  void operator()(scsi_task* task) const;
};
using ScsiTask = std::unique_ptr<scsi_task, ScsiTaskDeleter>;

// The SCSI outcome of a command that reached the target (transport failures are Errors).
struct ScsiStatus {
  int status = 0;     // SCSI status byte (0 GOOD, 2 CHECK CONDITION, 0x18 RESERVATION CONFLICT)
  int sense_key = 0;  // with CHECK CONDITION
  int ascq = 0;       // additional sense code and qualifier, e.g. 0x2a03 RESERVATIONS PREEMPTED

  static ScsiStatus of(const scsi_task& task);
  bool good() const { return status == 0; }
  bool reservation_conflict() const { return status == 0x18; }
  bool unit_attention() const { return status == 2 && sense_key == 6; }
  // "GOOD", "RESERVATION CONFLICT", "CHECK CONDITION ILLEGAL_REQUEST ascq 0x2500 (...)".
  std::string describe() const;
};

struct SessionAddress {
  std::string initiator;  // our initiator name
  std::string portal;     // "host:port"
  std::string target;     // target IQN
  int lun = 0;

  // "LUN 1 of iqn.2026-11.test:disk1 at 127.0.0.1:3260 as iqn.2026-11.pool:hosta"
  std::string describe() const;
};

class IscsiSession {
 public:
  // TCP connect (Errc::unreachable), login (Errc::not_found when the target does not exist,
  // Errc::rejected when it refuses us), then TEST UNIT READY on the LUN (Errc::not_found when the
  // target has no such LUN). Pending UNIT ATTENTIONs are consumed.
  static Result<std::unique_ptr<IscsiSession>> login(const SessionAddress& address,
                                                     Deadline deadline);
  ~IscsiSession();  // drops the connection without a logout if still logged in
  IscsiSession(const IscsiSession&) = delete;
  IscsiSession& operator=(const IscsiSession&) = delete;

  // Orderly iSCSI logout; the session is unusable afterwards (also when it fails).
  Result<void> logout(Deadline deadline);

  // Submits one command built by `submit` (a libiscsi *_task call given the context, the LUN and
  // the completion callback) and waits for it. Returns the completed task whatever its SCSI
  // status, except that a UNIT ATTENTION (a reservation or reset event reported once per nexus)
  // is retried. A transport failure or the deadline breaks the session and is an Error naming
  // `what`.
  using Submit = std::function<scsi_task*(iscsi_context* context, int lun,
                                          void (*callback)(iscsi_context*, int, void*, void*),
                                          void* private_data)>;
  Result<ScsiTask> execute(std::string_view what, const Submit& submit, Deadline deadline);

  // False once a timeout, a transport failure or a logout ended the session.
  bool usable() const { return context_ != nullptr; }
  const SessionAddress& address() const { return address_; }

 private:
  explicit IscsiSession(SessionAddress address);
  struct Completion;
  static void on_complete(iscsi_context* context, int status, void* command_data,
                          void* private_data);
  Result<void> wait_for(Completion& completion, std::string_view what, Deadline deadline);
  void discard();  // destroys the libiscsi context (cancels what is in flight)
  Error failure(Errc code, std::string_view what, std::string_view detail) const;

  SessionAddress address_;
  iscsi_context* context_ = nullptr;
  // The connect callback may fire again when the connection dies later, so its target lives as
  // long as the context.
  std::unique_ptr<Completion> connect_completion_;
};

}  // namespace ferry::iscsi
