// One mounted NFSv3 export, driven through libnfs's asynchronous interface so that every call
// honours a deadline: a call polls the connection until its answer arrives or the deadline passes
// (Errc::timeout). After a timeout or a lost connection the session is closed and later calls fail
// at once; a driver step opens its own session and drops it at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/storage/nfs/nfs_location.h"
#include "engine/error/error.h"

struct nfs_context;
struct nfsfh;

namespace ferry::nfs {

struct NfsFileStat {
  uint64_t fileid = 0;
  uint64_t fsid = 0;
  uint64_t size = 0;
  uint64_t mode = 0;  // file type and permission bits, as st_mode
};

class NfsSession {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects (through the portmapper unless the export names fixed ports) and mounts the export.
  // Errc::unreachable: no connection; Errc::rejected: the server refused the export;
  // Errc::timeout: no answer before `deadline`.
  static Result<std::unique_ptr<NfsSession>> mount(const NfsExport& where,
                                                   Clock::time_point deadline);
  ~NfsSession();
  NfsSession(const NfsSession&) = delete;
  NfsSession& operator=(const NfsSession&) = delete;

  const NfsExport& where() const { return where_; }
  Clock::time_point deadline() const { return deadline_; }
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }

  // Paths are inside the export and start with "/".
  Result<NfsFileStat> stat(const std::string& path);
  // The access the server grants this client: a mask of R_OK, W_OK and X_OK.
  Result<int> access(const std::string& path);
  // Opens for reading and writing, as QEMU will, and closes again.
  Result<void> open_read_write(const std::string& path);
  // The whole file; nullopt when it does not exist; Errc::corrupt when it exceeds `max_bytes`.
  Result<std::optional<std::string>> read_file(const std::string& path, size_t max_bytes);
  // Creates `path` only if it does not exist (NFSv3 exclusive create) and writes `contents` to
  // stable storage. false: the path exists already.
  Result<bool> create_exclusive(const std::string& path, std::string_view contents);
  // Replaces `to` atomically.
  Result<void> rename(const std::string& from, const std::string& to);
  Result<void> unlink(const std::string& path);
  // Tells the server's MOUNT service the export is no longer used (advisory in NFSv3).
  Result<void> unmount();

 private:
  struct Call;
  using Start = std::function<int(nfs_context*, void (*)(int, nfs_context*, void*, void*), void*)>;
  using Take = std::function<void(int status, void* data)>;

  explicit NfsSession(NfsExport where, Clock::time_point deadline);

  // Queues one asynchronous call and services the connection until it completes. Returns the
  // callback's non-negative status; a negative one becomes an Error naming `what` and `path`.
  Result<int> run(std::string_view what, std::string_view path, const Start& start,
                  const Take& take = {});
  Result<nfsfh*> open(const std::string& path, int flags);
  Result<void> close(nfsfh* handle, const std::string& path);
  void close_quietly(nfsfh* handle);
  // Drops the context after a timeout or a broken connection: nothing more can be sent on it.
  void destroy_context();
  Error closed_error(std::string_view what, std::string_view path) const;

  NfsExport where_;
  Clock::time_point deadline_;
  nfs_context* context_ = nullptr;
  bool mounted_ = false;
  int last_errno_ = 0;  // the errno of the last call that the server failed, 0 if none
  std::string closed_reason_;
  std::vector<nfsfh*> open_files_;
  // Calls given up on while libnfs may still complete them: freed after the context is gone.
  std::vector<std::unique_ptr<Call>> abandoned_;
};

}  // namespace ferry::nfs
