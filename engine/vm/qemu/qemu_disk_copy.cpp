// QemuVm's live copy of local disks: the source mirrors (drive-mirror) into the destination's NBD
// exports (nbd-server-start + block-export-add, writable: QEMU activates the export's disk even
// while the guest waits for its incoming migration).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include <fmt/format.h>

#include "engine/posix/unique_fd.h"
#include "engine/vm/qemu/qemu_attachments.h"
#include "engine/vm/qemu/qemu_vm.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
constexpr const char* kNbdFdName = "ferry-nbd-listener";

std::string job_id_for(const std::string& resource_id) {
  return "copy-" + qemu_drive_id(resource_id);
}

// A TCP listener on `host`, port chosen by the kernel: QEMU gets the socket itself, so no other
// process can take the port between our choice and its use.
Result<std::pair<UniqueFd, uint16_t>> listen_on(const std::string& host) {
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    length = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    length = sizeof(*v6);
  } else {
    return Error(Errc::invalid_argument,
                 fmt::format("disk export address \"{}\" is not an IP address", host));
  }
  UniqueFd fd(::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("disk export: socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0)
    return errno_error(fmt::format("disk export: bind to {}", host));
  if (::listen(fd.get(), 8) != 0) return errno_error("disk export: listen");
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return errno_error("disk export: getsockname");
  const uint16_t port = ntohs(address.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return std::make_pair(std::move(fd), port);
}

}  // namespace

Result<void> QemuVm::start_disk_copy(const std::vector<DiskCopyTarget>& targets) {
  std::lock_guard operation(operation_mutex_);
  for (const auto& target : targets) {
    const std::string job = job_id_for(target.resource_id);
    const std::string where =
        fmt::format("QEMU VM '{}': copying disk {} to {}", name(), target.resource_id, target.uri);
    // mode existing: the destination prepared the disk (size, space) and exports it.
    auto started = qmp_->execute("drive-mirror", {{"device", qemu_drive_id(target.resource_id)},
                                                  {"job-id", job},
                                                  {"target", target.uri},
                                                  {"format", "raw"},
                                                  {"sync", "full"},
                                                  {"mode", "existing"}});
    if (!started) {
      Error error = qemu_failure(started.error().code(), started.error().message()).within(where);
      for (const auto& other : copy_jobs_)
        (void)qmp_->execute("block-job-cancel", {{"device", other}, {"force", true}});
      copy_jobs_.clear();
      return error;
    }
    copy_jobs_.push_back(job);
  }
  return ok();
}

Result<DiskCopyProgress> QemuVm::disk_copy_progress() {
  std::lock_guard operation(operation_mutex_);
  const std::string where = fmt::format("QEMU VM '{}': disk copy", name());
  auto jobs = qmp_->execute("query-block-jobs");
  if (!jobs) return qemu_failure(jobs.error().code(), jobs.error().message()).within(where);
  DiskCopyProgress progress;
  progress.ready = !copy_jobs_.empty();
  for (const auto& id : copy_jobs_) {
    auto it = std::find_if(jobs->begin(), jobs->end(),
                           [&](const nlohmann::json& j) { return j.value("device", "") == id; });
    if (it == jobs->end()) {
      // A mirror never ends by itself: it failed (the destination went away, its disk filled).
      std::string reason = "it ended before completion";
      for (const auto& event : qmp_->take_events()) {
        if ((event.name == "BLOCK_JOB_COMPLETED" || event.name == "BLOCK_JOB_ERROR") &&
            event.data.value("device", "") == id)
          reason = fmt::format("{} {}", event.name, event.data.dump());
      }
      return Error(Errc::io, fmt::format("{}: job {} failed: {}", where, id, reason));
    }
    if (it->value("io-status", "ok") != "ok")
      return Error(Errc::io, fmt::format("{}: job {} has I/O status {}", where, id,
                                         it->value("io-status", "")));
    progress.total += it->value("len", uint64_t{0});
    progress.transferred += it->value("offset", uint64_t{0});
    progress.ready = progress.ready && it->value("ready", false);
  }
  return progress;
}

Result<void> QemuVm::complete_disk_copy(std::chrono::milliseconds timeout) {
  std::lock_guard operation(operation_mutex_);
  const std::string where = fmt::format("QEMU VM '{}': completing the disk copy", name());
  // Cancelling a mirror that is ready (and, the guest being paused, idle) completes it: the
  // destination's disk equals ours, and we keep our own disk in use.
  for (const auto& id : copy_jobs_) {
    if (auto done = qmp_->execute("block-job-cancel", {{"device", id}}); !done)
      return qemu_failure(done.error().code(), done.error().message()).within(where);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::string> pending = copy_jobs_;
  while (!pending.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms)
      return Error(Errc::timeout, fmt::format("{}: {} did not finish within {} ms", where,
                                              fmt::join(pending, ", "), timeout.count()));
    auto event = qmp_->wait_event("BLOCK_JOB_COMPLETED", std::min(left, 500ms));
    if (!event) {
      auto cancelled = qmp_->wait_event("BLOCK_JOB_CANCELLED", 0ms);
      if (cancelled) {
        return Error(Errc::io,
                     fmt::format("{}: job {} was cancelled before it caught up ({})", where,
                                 cancelled->data.value("device", ""), cancelled->data.dump()));
      }
      continue;
    }
    const std::string id = event->data.value("device", "");
    if (event->data.contains("error"))
      return Error(Errc::io,
                   fmt::format("{}: job {} failed: {}", where, id, event->data["error"].dump()));
    if (event->data.value("offset", uint64_t{0}) != event->data.value("len", uint64_t{1}))
      return Error(Errc::io, fmt::format("{}: job {} stopped at {} of {} bytes", where, id,
                                         event->data.value("offset", uint64_t{0}),
                                         event->data.value("len", uint64_t{0})));
    pending.erase(std::remove(pending.begin(), pending.end(), id), pending.end());
  }
  copy_jobs_.clear();
  return ok();
}

void QemuVm::cancel_disk_copy() {
  std::lock_guard operation(operation_mutex_);
  for (const auto& id : copy_jobs_)
    (void)qmp_->execute("block-job-cancel", {{"device", id}, {"force", true}});
  copy_jobs_.clear();
}

Result<nlohmann::json> QemuVm::export_disks(const std::vector<std::string>& resource_ids,
                                            const std::string& host) {
  std::lock_guard operation(operation_mutex_);
  const std::string where = fmt::format("QEMU VM '{}': exporting its disks on {}", name(), host);
  auto explain = [&](const Error& error) {
    return qemu_failure(error.code(), error.message()).within(where);
  };
  auto listener = listen_on(host);
  if (!listener) return std::move(listener).error().within(where);
  auto passed = qmp_->execute_with_fd("getfd", {{"fdname", kNbdFdName}}, listener->first.get());
  if (!passed) return explain(passed.error());
  auto started = qmp_->execute("nbd-server-start",
                               {{"addr", {{"type", "fd"}, {"data", {{"str", kNbdFdName}}}}}});
  if (!started) return explain(started.error());
  exporting_disks_ = true;
  const std::string authority =
      host.find(':') != std::string::npos ? fmt::format("[{}]", host) : host;
  nlohmann::json uris = nlohmann::json::object();
  for (const auto& id : resource_ids) {
    const std::string drive = qemu_drive_id(id);
    auto added = qmp_->execute("block-export-add", {{"type", "nbd"},
                                                    {"id", drive},
                                                    {"node-name", qemu_drive_node(id)},
                                                    {"name", drive},
                                                    {"writable", true}});
    if (!added) return explain(added.error()).within("disk " + id);
    uris[id] = fmt::format("nbd://{}:{}/{}", authority, listener->second, drive);
  }
  return uris;
}

Result<void> QemuVm::stop_disk_exports() {
  std::lock_guard operation(operation_mutex_);
  if (!exporting_disks_) return ok();
  if (auto stopped = qmp_->execute("nbd-server-stop"); !stopped)
    return qemu_failure(stopped.error().code(), stopped.error().message())
        .within(fmt::format("QEMU VM '{}': closing its disk exports", name()));
  exporting_disks_ = false;
  return ok();
}

}  // namespace ferry
