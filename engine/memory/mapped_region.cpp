#include "engine/memory/mapped_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "engine/memory/prefault.h"
#include "engine/posix/unique_fd.h"

namespace ferry {

struct MappedRegion::Prefault {
  PrefaultProgress progress;
  std::thread thread;
  std::optional<Error> error;  // written by the thread, read only after join
  // create_reserving_ahead: the file (the thread fallocates it step by step) and how far the
  // reservation got; `failed` is set, after `error`, when it cannot go on.
  UniqueFd file;
  std::atomic<uint64_t> reserved{0};
  std::atomic<bool> failed{false};
};

namespace {

Result<void> check_size(const std::string& path, uint64_t size) {
  if (size == 0 || size % kPageSize != 0) {
    return Error(Errc::invalid_argument, "map " + path + ": size " + std::to_string(size) +
                                             " is not a positive multiple of the page size (" +
                                             std::to_string(kPageSize) + ")");
  }
  return ok();
}

std::string bytes_text(const std::string& path, uint64_t size) {
  return path + " (" + std::to_string(size) + " bytes)";
}

}  // namespace

Result<MappedRegion> MappedRegion::open(const std::string& path, uint64_t size, Access access) {
  if (auto checked = check_size(path, size); !checked) return std::move(checked).error();
  const bool writable = access == Access::read_write;
  UniqueFd fd(::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("fstat " + path);
  if (static_cast<uint64_t>(st.st_size) != size) {
    return Error(Errc::invalid_argument, "open " + path + ": file is " +
                                             std::to_string(st.st_size) + " bytes, expected " +
                                             std::to_string(size));
  }
  void* data =
      ::mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd.get(), 0);
  if (data == MAP_FAILED) return errno_error("mmap " + bytes_text(path, size));
  MappedRegion region;
  region.path_ = path;
  region.size_ = size;
  region.data_ = static_cast<std::byte*>(data);
  region.writable_ = writable;
  return region;
}

// Creates (or truncates) `path` with `size` bytes, lets `reserve` claim or check the space, and
// maps it read-write. A half-made file would hold tmpfs memory for nothing: removed on failure.
Result<MappedRegion> MappedRegion::create_mapped(const std::string& path, uint64_t size,
                                                 Reserve reserve, UniqueFd* keep_file) {
  if (auto checked = check_size(path, size); !checked) return std::move(checked).error();
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("create " + path);
  auto fail = [&](Error error) {
    ::unlink(path.c_str());
    return error;
  };
  if (reserve == Reserve::check_room) {
    struct statvfs fs {};
    if (::fstatvfs(fd.get(), &fs) != 0) return fail(errno_error("statvfs " + path));
    const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (free_bytes < size) {
      return fail(Error(Errc::no_space, fmt::format("{}: no space left: {} bytes needed, {} free",
                                                    path, size, free_bytes)));
    }
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return fail(errno_error("ftruncate " + bytes_text(path, size)));
  }
  if (reserve == Reserve::now && ::fallocate(fd.get(), 0, 0, static_cast<off_t>(size)) != 0 &&
      errno != EOPNOTSUPP) {
    // EOPNOTSUPP: the file system cannot reserve ahead; running out shows up later as SIGBUS.
    return fail(errno_error("fallocate " + bytes_text(path, size)));
  }
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (data == MAP_FAILED) return fail(errno_error("mmap " + bytes_text(path, size)));
  MappedRegion region;
  region.path_ = path;
  region.size_ = size;
  region.data_ = static_cast<std::byte*>(data);
  region.writable_ = true;
  if (keep_file) *keep_file = std::move(fd);
  return region;
}

Result<MappedRegion> MappedRegion::create(const std::string& path, uint64_t size) {
  return create_mapped(path, size, Reserve::now, nullptr);
}

Result<MappedRegion> MappedRegion::create_reserving_ahead(const std::string& path, uint64_t size) {
  UniqueFd fd;
  auto created = create_mapped(path, size, Reserve::check_room, &fd);
  if (!created) return created;
  MappedRegion region = std::move(created).value();
  region.prefault_ = std::make_unique<Prefault>();
  Prefault* state = region.prefault_.get();
  region.reserved_ = &state->reserved;
  state->file = std::move(fd);
  state->thread = std::thread([state, data = region.data_, size, what = path] {
    for (uint64_t offset = 0; offset < size; offset += kPrefaultStep) {
      if (state->progress.stop.load(std::memory_order_relaxed)) return;
      const uint64_t step = std::min(kPrefaultStep, size - offset);
      const int failure = ::fallocate(state->file.get(), 0, static_cast<off_t>(offset),
                                      static_cast<off_t>(step)) == 0
                              ? 0
                              : errno;
      if (failure != 0 && failure != EOPNOTSUPP) {
        state->error = Error(failure == ENOSPC ? Errc::no_space : Errc::io,
                             fmt::format("reserving {} bytes at {} of {}: {}", step, offset, what,
                                         std::strerror(failure)));
        state->failed.store(true, std::memory_order_release);
        return;
      }
      state->reserved.store(offset + step, std::memory_order_release);
      PrefaultProgress part;
      auto faulted =
          prefault_range(data + offset, step, true, PrefaultMethod::populate, part, what);
      if (!faulted) {
        state->error = std::move(faulted).error();
        state->failed.store(true, std::memory_order_release);
        return;
      }
      state->progress.bytes.store(offset + step, std::memory_order_release);
    }
  });
  return region;
}

Result<void> MappedRegion::wait_reserved(uint64_t end) const {
  if (!prefault_ || !prefault_->file.valid()) return ok();
  const Prefault& state = *prefault_;
  while (state.reserved.load(std::memory_order_acquire) < std::min(end, size_)) {
    if (state.failed.load(std::memory_order_acquire)) {
      return state.error ? *state.error
                         : Error(Errc::no_space, "reserving " + bytes_text(path_, size_));
    }
    // Reserving runs at a few GB/s, faster than pages arrive: a rare, short wait.
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return ok();
}

MappedRegion::MappedRegion(MappedRegion&& other) noexcept
    : path_(std::move(other.path_)),
      size_(std::exchange(other.size_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      writable_(other.writable_),
      prefault_(std::move(other.prefault_)),
      reserved_(std::exchange(other.reserved_, nullptr)) {}

MappedRegion& MappedRegion::operator=(MappedRegion&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    size_ = std::exchange(other.size_, 0);
    data_ = std::exchange(other.data_, nullptr);
    writable_ = other.writable_;
    prefault_ = std::move(other.prefault_);
    reserved_ = std::exchange(other.reserved_, nullptr);
  }
  return *this;
}

MappedRegion::~MappedRegion() {
  unmap();
}

void MappedRegion::unmap() {
  // The prefault thread works on the mapping: stop and join it before the mapping goes away.
  if (prefault_ && prefault_->thread.joinable()) {
    prefault_->progress.stop.store(true, std::memory_order_relaxed);
    prefault_->thread.join();
  }
  prefault_.reset();
  reserved_ = nullptr;
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

void MappedRegion::start_prefault() {
  if (prefault_ || data_ == nullptr) return;  // create_reserving_ahead prefaults already
  prefault_ = std::make_unique<Prefault>();
  Prefault* state = prefault_.get();
  state->thread =
      std::thread([state, data = data_, size = size_, writable = writable_, what = path_] {
        auto done =
            prefault_range(data, size, writable, PrefaultMethod::populate, state->progress, what);
        if (!done) state->error = std::move(done).error();
      });
}

uint64_t MappedRegion::prefaulted_bytes() const {
  return prefault_ ? prefault_->progress.bytes.load(std::memory_order_acquire) : 0;
}

Result<void> MappedRegion::wait_prefault() {
  if (!prefault_) return ok();
  if (prefault_->thread.joinable()) prefault_->thread.join();
  if (prefault_->error) return *prefault_->error;
  return ok();
}

Result<void> MappedRegion::unlink_file() {
  if (::unlink(path_.c_str()) != 0) return errno_error("unlink " + path_);
  return ok();
}

}  // namespace ferry
