#include "engine/vm/sim/guest_ram.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/memory/page.h"

namespace ferry::sim {
namespace {

constexpr uint64_t kChunkPages = 256;  // 1 MiB per pwrite/pread

// Runs fn(first_page, end_page) over [0, pages) split into `threads` contiguous parts; returns the
// first error any part reported.
template <typename Fn>
Result<void> run_split(uint64_t pages, unsigned threads, Fn fn) {
  threads = static_cast<unsigned>(std::clamp<uint64_t>(pages / kChunkPages, 1, threads));
  std::mutex mutex;
  std::optional<Error> first_error;
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    const uint64_t begin = pages * t / threads, end = pages * (t + 1) / threads;
    workers.emplace_back([&, begin, end] {
      Result<void> r = fn(begin, end);
      if (!r) {
        std::lock_guard lock(mutex);
        if (!first_error) first_error = std::move(r).error();
      }
    });
  }
  for (auto& w : workers) w.join();
  if (first_error) return std::move(*first_error);
  return ok();
}

Result<void> pwrite_all(int fd, const std::byte* data, std::size_t size, uint64_t offset,
                        const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_error(fmt::format("write {} at offset {}", path, offset));
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return ok();
}

Result<void> pread_all(int fd, std::byte* data, std::size_t size, uint64_t offset,
                       const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pread(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(fmt::format("read {} at offset {}", path, offset));
    if (n == 0) {
      return Error(Errc::io,
                   fmt::format("read {} at offset {}: unexpected end of file", path, offset));
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return ok();
}

}  // namespace

unsigned content_threads() {
  return std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
}

Result<GuestRam> GuestRam::create(const std::string& path, uint64_t memory, uint64_t fill_pages,
                                  uint64_t seed, PageContent content, unsigned threads) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return errno_error("create RAM file " + path);
  if (::ftruncate(fd.get(), static_cast<off_t>(memory)) != 0) {
    return errno_error(fmt::format("size RAM file {} to {} bytes", path, memory));
  }
  // pwrite from a buffer instead of stores through the mapping: no page fault per page, and the
  // first touch of the tmpfs pages is spread over the threads (measured 0.65 s per GiB, 2 threads).
  auto filled = run_split(fill_pages, threads, [&](uint64_t begin, uint64_t end) -> Result<void> {
    std::vector<std::byte> buffer(kChunkPages * kPageSize);
    for (uint64_t page = begin; page < end; page += kChunkPages) {
      const uint64_t n = std::min(kChunkPages, end - page);
      for (uint64_t i = 0; i < n; ++i) {
        write_page_content(buffer.data() + i * kPageSize, seed, page + i, kFillWrite, content);
      }
      auto written = pwrite_all(fd.get(), buffer.data(), n * kPageSize, page * kPageSize, path);
      if (!written) return written;
    }
    return ok();
  });
  if (!filled) return std::move(filled).error().within("fill RAM file");
  return map(path, std::move(fd), memory);
}

Result<GuestRam> GuestRam::open(const std::string& path, uint64_t memory) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open RAM file " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("stat RAM file " + path);
  if (static_cast<uint64_t>(st.st_size) != memory) {
    return Error(
        Errc::invalid_argument,
        fmt::format("RAM file {} has {} bytes, the guest state says {}", path, st.st_size, memory));
  }
  return map(path, std::move(fd), memory);
}

Result<GuestRam> GuestRam::map(std::string path, UniqueFd fd, uint64_t size) {
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (data == MAP_FAILED) return errno_error(fmt::format("map RAM file {} ({} bytes)", path, size));
  GuestRam ram;
  ram.path_ = std::move(path);
  ram.fd_ = std::move(fd);
  ram.size_ = size;
  ram.data_ = static_cast<std::byte*>(data);
  return ram;
}

GuestRam::GuestRam(GuestRam&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::move(other.fd_)),
      size_(std::exchange(other.size_, 0)),
      data_(std::exchange(other.data_, nullptr)) {}

GuestRam& GuestRam::operator=(GuestRam&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(data_, size_);
    path_ = std::move(other.path_);
    fd_ = std::move(other.fd_);
    size_ = std::exchange(other.size_, 0);
    data_ = std::exchange(other.data_, nullptr);
  }
  return *this;
}

GuestRam::~GuestRam() {
  if (data_) ::munmap(data_, size_);
}

std::byte* GuestRam::page(uint64_t n) const {
  return data_ + n * kPageSize;
}

Result<VerifyReport> GuestRam::verify(const ContentModel& model, uint64_t writes,
                                      unsigned threads) const {
  const std::vector<uint64_t> expected = model.expected_last_writes(writes);
  std::mutex mutex;
  VerifyReport total;
  auto checked =
      run_split(model.memory_pages, threads, [&](uint64_t begin, uint64_t end) -> Result<void> {
        std::vector<std::byte> buffer(kChunkPages * kPageSize);
        VerifyReport part;
        for (uint64_t page = begin; page < end; page += kChunkPages) {
          const uint64_t n = std::min(kChunkPages, end - page);
          auto read = pread_all(fd_.get(), buffer.data(), n * kPageSize, page * kPageSize, path_);
          if (!read) return read;
          check_pages(model.seed, page, std::span(expected).subspan(page, n), buffer.data(), part,
                      model.content);
        }
        std::lock_guard lock(mutex);
        total.merge(part);
        return ok();
      });
  if (!checked) return std::move(checked).error().within("verify");
  return total;
}

}  // namespace ferry::sim
