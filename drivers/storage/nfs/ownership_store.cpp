#include "drivers/storage/nfs/ownership_store.h"

#include <fmt/format.h>

#include <optional>
#include <thread>

namespace ferry::nfs {

namespace {

// A record is one short line of JSON.
constexpr size_t kMaxRecordBytes = 4096;
// How long to wait before looking again at another host's change in progress.
constexpr std::chrono::milliseconds kRetryPause{5};

}  // namespace

OwnershipStore::OwnershipStore(NfsSession& session, std::string record_path, std::string host)
    : session_(session), record_path_(std::move(record_path)), host_(std::move(host)) {}

Result<OwnershipRecord> OwnershipStore::read() {
  auto text = session_.read_file(record_path_, kMaxRecordBytes);
  if (!text) return std::move(text).error();
  if (!text.value()) return OwnershipRecord{};
  return OwnershipRecord::decode(*text.value(), session_.where().display() + record_path_);
}

Result<bool> OwnershipStore::clear_own_leftover(const std::string& temp_path, std::string& holder) {
  auto text = session_.read_file(temp_path, kMaxRecordBytes);
  if (!text) return std::move(text).error();
  if (!text.value()) return true;  // gone meanwhile: the other change finished or gave up
  auto leftover = OwnershipRecord::decode(*text.value(), temp_path);
  // Empty or unreadable: a change between its create and its write, by some host.
  holder = leftover ? "host " + leftover.value().changed_by
                    : std::string("an unknown host (the file is still empty or unreadable)");
  if (!leftover || leftover.value().changed_by != host_) return false;
  if (auto removed = session_.unlink(temp_path); !removed) {
    if (removed.error().code() != Errc::not_found) return std::move(removed).error();
  }
  return true;
}

Result<OwnershipRecord> OwnershipStore::change(const Plan& plan) {
  const std::string where = session_.where().display() + record_path_;
  // Set once another host's change in progress made us wait: the likely reason for a timeout.
  std::optional<std::string> blocked_by;
  auto failed = [&](Error error) -> Error {
    if (error.code() != Errc::timeout || !blocked_by) return error;
    return Error(Errc::timeout,
                 fmt::format("ownership record {} is being changed by {} and the change did not "
                             "finish before the step's deadline; if that host is down, remove the "
                             "temporary file",
                             where, *blocked_by));
  };
  while (true) {
    auto current = read();
    if (!current) return failed(std::move(current).error());
    auto wanted = plan(current.value());
    if (!wanted) return std::move(wanted).error();
    if (!wanted.value()) return std::move(current).value();

    OwnershipRecord next = std::move(*wanted.value());
    next.generation = current.value().generation + 1;
    next.changed_by = host_;
    const std::string temp_path = fmt::format("{}.{}", record_path_, next.generation);

    auto created = session_.create_exclusive(temp_path, next.encode());
    if (!created) return failed(std::move(created).error());
    if (!created.value()) {
      std::string holder;
      auto cleared = clear_own_leftover(temp_path, holder);
      if (!cleared) return failed(std::move(cleared).error());
      if (cleared.value()) continue;
      blocked_by = fmt::format("{} (its temporary file {} exists)", holder, temp_path);
      if (NfsSession::Clock::now() + kRetryPause >= session_.deadline())
        return failed(Error(Errc::timeout, "deadline"));
      std::this_thread::sleep_for(kRetryPause);
      continue;
    }

    // Holding generation g+1's name, check nobody moved the record past g meanwhile.
    auto again = read();
    if (!again || again.value().generation != current.value().generation) {
      if (auto removed = session_.unlink(temp_path); !removed)
        return failed(std::move(removed).error());
      if (!again) return failed(std::move(again).error());
      continue;
    }
    if (auto renamed = session_.rename(temp_path, record_path_); !renamed)
      return failed(std::move(renamed).error());
    return next;
  }
}

}  // namespace ferry::nfs
