// The simulated guest's RAM: a file (normally in /dev/shm) mapped MAP_SHARED, which the engine maps
// too. Used by the ferry-sim-guest process only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error/error.h"
#include "engine/posix/unique_fd.h"
#include "engine/vm/sim/content_model.h"

namespace ferry::sim {

class GuestRam {
 public:
  // Creates (or truncates) `path` at `memory` bytes and writes the fill content into pages
  // [0, fill_pages) with `threads` threads; the other pages stay holes (read as zero).
  static Result<GuestRam> create(const std::string& path, uint64_t memory, uint64_t fill_pages,
                                 uint64_t seed, PageContent content, unsigned threads);
  // Maps an existing file holding migrated contents; its size must be `memory`.
  static Result<GuestRam> open(const std::string& path, uint64_t memory);

  GuestRam(GuestRam&& other) noexcept;
  GuestRam& operator=(GuestRam&& other) noexcept;
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;
  ~GuestRam();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  std::byte* page(uint64_t n) const;

  // Checks every page against the model after `writes` writes. Reads the file with pread (not
  // through the mapping) so that holes are not allocated and the guest's page tables stay as the
  // writer left them. The writer must be stopped.
  Result<VerifyReport> verify(const ContentModel& model, uint64_t writes, unsigned threads) const;

 private:
  GuestRam() = default;
  static Result<GuestRam> map(std::string path, UniqueFd fd, uint64_t size);

  std::string path_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  std::byte* data_ = nullptr;
};

// Threads for fill and verification: the machine's cores, at least 1, at most 4.
unsigned content_threads();

}  // namespace ferry::sim
