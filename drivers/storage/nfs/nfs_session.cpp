#include "drivers/storage/nfs/nfs_session.h"

#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ferry::nfs {

namespace {

// The poll interval while waiting: short enough that libnfs's own timers (serviced from
// nfs_service) keep running, long enough not to spin.
constexpr std::chrono::milliseconds kMaxPollWait{100};

Errc errno_code(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Errc::not_found;
    case EACCES:
    case EPERM:
    case EROFS:
      return Errc::rejected;
    case ENOSPC:
    case EDQUOT:
      return Errc::no_space;
    case ETIMEDOUT:
      return Errc::timeout;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return Errc::unreachable;
    case ECONNRESET:
    case EPIPE:
      return Errc::connection_lost;
    default:
      return Errc::io;
  }
}

void ignore_completion(int, nfs_context*, void*, void*) {}

}  // namespace

struct NfsSession::Call {
  bool done = false;
  int status = 0;
  std::string error;
  Take take;

  static void complete(int status, nfs_context*, void* data, void* private_data) {
    auto* call = static_cast<Call*>(private_data);
    call->done = true;
    call->status = status;
    if (status < 0)
      call->error = data != nullptr ? static_cast<const char*>(data) : std::strerror(-status);
    else if (call->take)
      call->take(status, data);
  }
};

NfsSession::NfsSession(NfsExport where, Clock::time_point deadline)
    : where_(std::move(where)), deadline_(deadline) {}

NfsSession::~NfsSession() {
  destroy_context();
}

void NfsSession::destroy_context() {
  if (context_ == nullptr) return;
  // Closing an NFSv3 handle sends nothing unless writes are pending; it frees the handle.
  for (nfsfh* handle : open_files_) nfs_close_async(context_, handle, ignore_completion, nullptr);
  open_files_.clear();
  nfs_destroy_context(context_);
  context_ = nullptr;
  // libnfs has cancelled whatever was in flight: nothing refers to these calls any more.
  abandoned_.clear();
}

Error NfsSession::closed_error(std::string_view what, std::string_view path) const {
  return Error(Errc::connection_lost,
               fmt::format("{} {} on NFS server {}: the session was closed earlier ({})", what,
                           path, where_.display(), closed_reason_));
}

Result<int> NfsSession::run(std::string_view what, std::string_view path, const Start& start,
                            const Take& take) {
  if (context_ == nullptr) return closed_error(what, path);
  last_errno_ = 0;
  auto call = std::make_unique<Call>();
  call->take = take;
  auto describe = [&](std::string_view problem) {
    return fmt::format("{} {} on NFS server {}: {}", what, path, where_.display(), problem);
  };
  if (start(context_, &Call::complete, call.get()) != 0) {
    return Error(mounted_ ? Errc::io : Errc::unreachable,
                 describe(fmt::format("could not send the request: {}", nfs_get_error(context_))));
  }
  auto give_up = [&](Errc code, std::string message) {
    call->take = nullptr;  // it may refer to the caller's stack
    abandoned_.push_back(std::move(call));
    closed_reason_ = message;
    destroy_context();
    return Error(code, std::move(message));
  };
  while (!call->done) {
    const auto now = Clock::now();
    if (now >= deadline_) {
      return give_up(Errc::timeout,
                     describe("no answer before the step's deadline (the server is stopped, "
                              "overloaded or unreachable)"));
    }
    const auto wait = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(deadline_ - now),
                                 std::chrono::milliseconds(1), kMaxPollWait);
    pollfd descriptor{};
    descriptor.fd = nfs_get_fd(context_);
    descriptor.events = static_cast<short>(nfs_which_events(context_));
    const int ready =
        ::poll(&descriptor, descriptor.fd >= 0 ? 1 : 0, static_cast<int>(wait.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return give_up(Errc::io, describe(fmt::format("poll: {}", std::strerror(errno))));
    }
    if (nfs_service(context_, ready > 0 ? descriptor.revents : 0) < 0) {
      if (call->done) {
        // The failure reached the call, whose status says what happened; the connection is
        // unusable all the same.
        closed_reason_ = describe(fmt::format("connection failed: {}", nfs_get_error(context_)));
        destroy_context();
        break;
      }
      // Before the mount completes this is the connection itself failing.
      return give_up(mounted_ ? Errc::connection_lost : Errc::unreachable,
                     describe(fmt::format("connection failed: {}", nfs_get_error(context_))));
    }
  }
  if (call->status < 0) {
    const int err = -call->status;
    last_errno_ = err;
    return Error(errno_code(err), describe(call->error));
  }
  return call->status;
}

Result<std::unique_ptr<NfsSession>> NfsSession::mount(const NfsExport& where,
                                                      Clock::time_point deadline) {
  std::unique_ptr<NfsSession> session(new NfsSession(where, deadline));
  session->context_ = nfs_init_context();
  if (session->context_ == nullptr)
    return Error(Errc::no_space, "nfs_init_context failed for " + where.display());
  // A broken connection must fail the step now, not be retried behind our back.
  nfs_set_autoreconnect(session->context_, 0);
  // Every lookup goes to the server: another host may have just renamed the ownership record.
  nfs_set_dircache(session->context_, 0);
  if (auto url = libnfs_port_url(where)) {
    nfs_url* parsed = nfs_parse_url_dir(session->context_, url->c_str());
    if (parsed == nullptr)
      return Error(Errc::invalid_argument,
                   fmt::format("NFS server {}: libnfs rejected the URL {}: {}", where.display(),
                               *url, nfs_get_error(session->context_)));
    nfs_destroy_url(parsed);
  }
  auto mounted = session->run("mount export", where.export_path,
                              [&](nfs_context* context, auto callback, void* call) {
                                return nfs_mount_async(context, where.server.c_str(),
                                                       where.export_path.c_str(), callback, call);
                              });
  if (!mounted) {
    Error error = std::move(mounted).error();
    // Whatever is not an answer from the MOUNT service is the connection failing.
    if (error.code() == Errc::io) error = Error(Errc::unreachable, error.message());
    // MOUNT answers "access denied" for an export it does not have.
    if (error.code() == Errc::rejected)
      error = Error(
          Errc::rejected,
          error.message() + " (the server has no such export, or it does not admit this host)");
    return error;
  }
  session->mounted_ = true;
  return session;
}

Result<NfsFileStat> NfsSession::stat(const std::string& path) {
  NfsFileStat out;
  auto done = run(
      "stat", path,
      [&](nfs_context* context, auto callback, void* call) {
        return nfs_stat64_async(context, path.c_str(), callback, call);
      },
      [&](int, void* data) {
        const auto* st = static_cast<const nfs_stat_64*>(data);
        out.fileid = st->nfs_ino;
        out.fsid = st->nfs_dev;
        out.size = st->nfs_size;
        out.mode = st->nfs_mode;
      });
  if (!done) return std::move(done).error();
  return out;
}

Result<int> NfsSession::access(const std::string& path) {
  return run("check access to", path, [&](nfs_context* context, auto callback, void* call) {
    return nfs_access2_async(context, path.c_str(), callback, call);
  });
}

Result<nfsfh*> NfsSession::open(const std::string& path, int flags) {
  nfsfh* handle = nullptr;
  auto done = run((flags & O_ACCMODE) == O_RDONLY ? "open for reading" : "open for writing", path,
                  [&](nfs_context* context, auto callback, void* call) {
                    return nfs_open_async(context, path.c_str(), flags, callback, call);
                  },
                  [&](int, void* data) { handle = static_cast<nfsfh*>(data); });
  if (!done) return std::move(done).error();
  open_files_.push_back(handle);
  return handle;
}

Result<void> NfsSession::close(nfsfh* handle, const std::string& path) {
  auto tracked = std::find(open_files_.begin(), open_files_.end(), handle);
  if (context_ == nullptr || tracked == open_files_.end()) return closed_error("close", path);
  open_files_.erase(tracked);
  auto done = run("close", path, [&](nfs_context* context, auto callback, void* call) {
    return nfs_close_async(context, handle, callback, call);
  });
  if (!done) return std::move(done).error();
  return {};
}

void NfsSession::close_quietly(nfsfh* handle) {
  auto tracked = std::find(open_files_.begin(), open_files_.end(), handle);
  if (context_ == nullptr || tracked == open_files_.end()) return;
  open_files_.erase(tracked);
  nfs_close_async(context_, handle, ignore_completion, nullptr);
}

Result<void> NfsSession::open_read_write(const std::string& path) {
  auto handle = open(path, O_RDWR);
  if (!handle) return std::move(handle).error();
  return close(handle.value(), path);
}

Result<std::optional<std::string>> NfsSession::read_file(const std::string& path,
                                                         size_t max_bytes) {
  auto handle = open(path, O_RDONLY);
  if (!handle) {
    if (handle.error().code() == Errc::not_found) return std::optional<std::string>();
    return std::move(handle).error();
  }
  std::string contents;
  // One byte more than allowed tells a file that is too large from one that fits exactly.
  auto read = run(
      "read", path,
      [&](nfs_context* context, auto callback, void* call) {
        return nfs_pread_async(context, handle.value(), 0, max_bytes + 1, callback, call);
      },
      [&](int status, void* data) { contents.assign(static_cast<const char*>(data), status); });
  if (!read) {
    close_quietly(handle.value());
    return std::move(read).error();
  }
  if (auto closed = close(handle.value(), path); !closed) return std::move(closed).error();
  if (contents.size() > max_bytes)
    return Error(Errc::corrupt, fmt::format("{} on NFS server {} is larger than {} bytes", path,
                                            where_.display(), max_bytes));
  return std::optional<std::string>(std::move(contents));
}

Result<bool> NfsSession::create_exclusive(const std::string& path, std::string_view contents) {
  nfsfh* handle = nullptr;
  auto created = run(
      "create", path,
      [&](nfs_context* context, auto callback, void* call) {
        return nfs_create_async(context, path.c_str(), O_EXCL, 0644, callback, call);
      },
      [&](int, void* data) { handle = static_cast<nfsfh*>(data); });
  if (!created) {
    if (last_errno_ == EEXIST) return false;
    return std::move(created).error();
  }
  open_files_.push_back(handle);
  auto fail = [&](Error error) -> Result<bool> {
    // Leave no half-written file behind if the server still answers.
    close_quietly(handle);
    if (context_ != nullptr) (void)unlink(path);
    return error;
  };
  auto written = run("write", path, [&](nfs_context* context, auto callback, void* call) {
    return nfs_pwrite_async(context, handle, 0, contents.size(), contents.data(), callback, call);
  });
  if (!written) return fail(std::move(written).error());
  if (static_cast<size_t>(written.value()) != contents.size())
    return fail(Error(Errc::io, fmt::format("write {} on NFS server {}: wrote {} of {} bytes", path,
                                            where_.display(), written.value(), contents.size())));
  auto synced = run("fsync", path, [&](nfs_context* context, auto callback, void* call) {
    return nfs_fsync_async(context, handle, callback, call);
  });
  if (!synced) return fail(std::move(synced).error());
  if (auto closed = close(handle, path); !closed) return std::move(closed).error();
  return true;
}

Result<void> NfsSession::rename(const std::string& from, const std::string& to) {
  auto done =
      run("rename", from + " to " + to, [&](nfs_context* context, auto callback, void* call) {
        return nfs_rename_async(context, from.c_str(), to.c_str(), callback, call);
      });
  if (!done) return std::move(done).error();
  return {};
}

Result<void> NfsSession::unlink(const std::string& path) {
  auto done = run("remove", path, [&](nfs_context* context, auto callback, void* call) {
    return nfs_unlink_async(context, path.c_str(), callback, call);
  });
  if (!done) return std::move(done).error();
  return {};
}

Result<void> NfsSession::unmount() {
  if (!mounted_) return {};
  auto done = run("unmount export", where_.export_path,
                  [&](nfs_context* context, auto callback, void* call) {
                    return nfs_umount_async(context, callback, call);
                  });
  mounted_ = false;
  if (!done) return std::move(done).error();
  return {};
}

}  // namespace ferry::nfs
