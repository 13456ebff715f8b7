#include "drivers/storage/iscsi/iscsi_session.h"

#include <poll.h>
// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace ferry::iscsi {

namespace {

constexpr int kUnitAttentionRetries = 8;

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

long long milliseconds_between(std::chrono::steady_clock::time_point from,
                               std::chrono::steady_clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

}  // namespace

struct IscsiSession::Completion {
  bool done = false;
  int status = 0;
};

void IscsiSession::on_complete(iscsi_context*, int status, void*, void* private_data) {
  auto* completion = static_cast<Completion*>(private_data);
  completion->done = true;
  completion->status = status;
}

void ScsiTaskDeleter::operator()(scsi_task* task) const {
  if (task != nullptr) scsi_free_scsi_task(task);
}

ScsiStatus ScsiStatus::of(const scsi_task& task) {
  ScsiStatus status;
  status.status = task.status;
  if (task.status == SCSI_STATUS_CHECK_CONDITION) {
    status.sense_key = task.sense.key;
    status.ascq = task.sense.ascq;
  }
  return status;
}

std::string ScsiStatus::describe() const {
  switch (status) {
    case SCSI_STATUS_GOOD:
      return "GOOD";
    case SCSI_STATUS_RESERVATION_CONFLICT:
      return "RESERVATION CONFLICT";
    case SCSI_STATUS_BUSY:
      return "BUSY";
    case SCSI_STATUS_TASK_SET_FULL:
      return "TASK SET FULL";
    case SCSI_STATUS_CHECK_CONDITION: {
      const char* ascq_text = scsi_sense_ascq_str(ascq);
      return fmt::format("CHECK CONDITION {} ascq {:#06x} ({})", scsi_sense_key_str(sense_key),
                         ascq, ascq_text != nullptr ? ascq_text : "unknown");
    }
    default:
      return fmt::format("SCSI status {:#x}", status);
  }
}

std::string SessionAddress::describe() const {
  return fmt::format("LUN {} of {} at {} as {}", lun, target, portal, initiator);
}

IscsiSession::IscsiSession(SessionAddress address) : address_(std::move(address)) {}

IscsiSession::~IscsiSession() {
  discard();
}

void IscsiSession::discard() {
  if (context_ == nullptr) return;
  iscsi_context* context = context_;
  context_ = nullptr;
  // Cancels what is in flight: the callbacks fire now, while their completions still exist.
  iscsi_destroy_context(context);
}

Error IscsiSession::failure(Errc code, std::string_view what, std::string_view detail) const {
  return Error(code, fmt::format("{}: {}: {}", address_.describe(), what, detail));
}

Result<void> IscsiSession::wait_for(Completion& completion, std::string_view what,
                                    Deadline deadline) {
  const auto started = std::chrono::steady_clock::now();
  while (!completion.done) {
    if (context_ == nullptr)
      return failure(Errc::connection_lost, what, "the session was closed while waiting");
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      discard();
      return failure(Errc::timeout, what,
                     fmt::format("no answer within {} ms (the step's timeout)",
                                 milliseconds_between(started, now)));
    }
    const int wait_ms =
        static_cast<int>(std::min<long long>(milliseconds_between(now, deadline) + 1, 1000));
    const int events = iscsi_which_events(context_);
    if (events == 0) {
      // libiscsi is between connection attempts; it asks to be called again after a while.
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms, 100)));
      if (iscsi_service(context_, 0) < 0) {
        const std::string detail = iscsi_get_error(context_);
        if (completion.done) break;
        discard();
        return failure(Errc::connection_lost, what, detail);
      }
      continue;
    }
    pollfd descriptor{iscsi_get_fd(context_), static_cast<short>(events), 0};
    const int ready = ::poll(&descriptor, 1, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      discard();
      return failure(Errc::io, what, fmt::format("poll: {}", std::strerror(err)));
    }
    if (iscsi_service(context_, ready > 0 ? descriptor.revents : 0) < 0) {
      const std::string detail = iscsi_get_error(context_);
      if (completion.done) break;  // the failure was reported through the callback
      discard();
      return failure(Errc::connection_lost, what, detail);
    }
  }
  return ok();
}

Result<std::unique_ptr<IscsiSession>> IscsiSession::login(const SessionAddress& address,
                                                          Deadline deadline) {
  std::unique_ptr<IscsiSession> session(new IscsiSession(address));
  session->context_ = iscsi_create_context(address.initiator.c_str());
  if (session->context_ == nullptr)
    return session->failure(Errc::internal, "login", "libiscsi could not create a context");
  iscsi_context* context = session->context_;
  if (iscsi_set_targetname(context, address.target.c_str()) != 0 ||
      iscsi_set_session_type(context, ISCSI_SESSION_NORMAL) != 0 ||
      iscsi_set_header_digest(context, ISCSI_HEADER_DIGEST_NONE_CRC32C) != 0)
    return session->failure(Errc::invalid_argument, "login", iscsi_get_error(context));
  // A lost connection must surface as an error of the step that saw it, not be retried forever
  // in the background (a reconnect would also be a new I_T nexus without our registration).
  iscsi_set_noautoreconnect(context, 1);

  session->connect_completion_ = std::make_unique<Completion>();
  if (iscsi_connect_async(context, address.portal.c_str(), on_complete,
                          session->connect_completion_.get()) != 0)
    return session->failure(Errc::unreachable, "connect", iscsi_get_error(context));
  if (auto waited = session->wait_for(*session->connect_completion_, "connect", deadline);
      !waited) {
    Error error = std::move(waited).error();
    if (error.code() == Errc::connection_lost) return Error(Errc::unreachable, error.message());
    return error;
  }
  if (session->connect_completion_->status != SCSI_STATUS_GOOD)
    return session->failure(Errc::unreachable, "connect", iscsi_get_error(context));

  Completion logged_in;
  if (iscsi_login_async(context, on_complete, &logged_in) != 0)
    return session->failure(Errc::protocol, "login", iscsi_get_error(context));
  if (auto waited = session->wait_for(logged_in, "login", deadline); !waited)
    return std::move(waited).error();
  if (logged_in.status != SCSI_STATUS_GOOD) {
    const std::string detail = iscsi_get_error(context);
    const auto text = lower(detail);
    const bool missing =
        text.find("not found") != std::string::npos || text.find("removed") != std::string::npos;
    return session->failure(missing ? Errc::not_found : Errc::rejected, "login", detail);
  }

  auto ready = session->execute(
      "TEST UNIT READY",
      [](iscsi_context* c, int lun, iscsi_command_cb callback, void* data) {
        return iscsi_testunitready_task(c, lun, callback, data);
      },
      deadline);
  if (!ready) return std::move(ready).error();
  const ScsiStatus status = ScsiStatus::of(*ready.value());
  if (!status.good()) {
    // 0x2500 LOGICAL UNIT NOT SUPPORTED: the target exists but has no such LUN.
    const bool missing =
        status.sense_key == SCSI_SENSE_ILLEGAL_REQUEST && (status.ascq >> 8) == 0x25;
    return session->failure(
        missing ? Errc::not_found : Errc::io, "TEST UNIT READY",
        missing ? fmt::format("the target has no LUN {} ({})", address.lun, status.describe())
                : status.describe());
  }
  return session;
}

Result<void> IscsiSession::logout(Deadline deadline) {
  if (context_ == nullptr) return ok();
  if (!iscsi_is_logged_in(context_)) {
    discard();
    return ok();
  }
  Completion logged_out;
  if (iscsi_logout_async(context_, on_complete, &logged_out) != 0) {
    const std::string detail = iscsi_get_error(context_);
    discard();
    return failure(Errc::io, "logout", detail);
  }
  auto waited = wait_for(logged_out, "logout", deadline);
  const bool good = waited && logged_out.status == SCSI_STATUS_GOOD;
  const std::string detail = context_ != nullptr ? iscsi_get_error(context_) : "";
  discard();
  if (!waited) return std::move(waited).error();
  if (!good) return failure(Errc::io, "logout", detail);
  return ok();
}

Result<ScsiTask> IscsiSession::execute(std::string_view what, const Submit& submit,
                                       Deadline deadline) {
  for (int attempt = 0;; ++attempt) {
    if (context_ == nullptr)
      return failure(Errc::connection_lost, what, "the session is no longer logged in");
    Completion completion;
    ScsiTask task(submit(context_, address_.lun, on_complete, &completion));
    if (!task) return failure(Errc::io, what, iscsi_get_error(context_));
    if (auto waited = wait_for(completion, what, deadline); !waited)
      return std::move(waited).error();
    if (completion.status == SCSI_STATUS_CANCELLED || completion.status == SCSI_STATUS_ERROR ||
        completion.status == SCSI_STATUS_TIMEOUT) {
      const std::string detail = context_ != nullptr ? iscsi_get_error(context_) : "cancelled";
      discard();
      return failure(Errc::connection_lost, what, detail);
    }
    // A UNIT ATTENTION (reservations preempted or released, reset, power on) is reported once
    // per nexus and says nothing about this command: send it again.
    if (ScsiStatus::of(*task).unit_attention() && attempt < kUnitAttentionRetries) continue;
    return task;
  }
}

}  // namespace ferry::iscsi
