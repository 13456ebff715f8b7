// The simulated guest's memory content model: every page's content is a function of a few numbers
// (seed, page number, write number), so all of memory can be checked from a tiny state. Pure, no
// I/O.
//
// Write number w (0, 1, 2, ...) goes to page page_of_write(w) of the working set and fills it with
// a 32-byte header {magic, page, w, seed} followed by PRNG bytes seeded from (seed, page, w). Pages
// written by the initial fill carry w = kFillWrite; pages never written stay all zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::sim {

enum class WritePattern { uniform, hot, sequential };
std::string_view pattern_name(WritePattern pattern);
std::optional<WritePattern> parse_pattern(std::string_view name);

// What follows a page's header: PRNG words (incompressible: the worst case for compression), or
// PRNG words cut to their low 16 bits (lz4 and zstd shrink such a page to about 60% and 35%, in
// the range of real guest memory), so compression can be measured against a known content.
enum class PageContent { random, compressible };
std::string_view content_name(PageContent content);  // "random" | "compressible"
std::optional<PageContent> parse_content(std::string_view name);

inline constexpr uint64_t kPageMagic = 0x4d49535952524546;   // "FERRYSIM" little-endian
inline constexpr uint64_t kFillWrite = ~uint64_t{0};         // the content written at start
inline constexpr uint64_t kNeverWritten = ~uint64_t{0} - 1;  // expected content: all zero
inline constexpr std::size_t kPageHeaderBytes = 32;

struct ContentModel {
  uint64_t seed = 1;
  WritePattern pattern = WritePattern::uniform;
  uint64_t memory_pages = 0;
  uint64_t wss_pages = 0;   // writes go to pages [0, wss_pages)
  uint64_t fill_pages = 0;  // pages [0, fill_pages) hold kFillWrite content at start
  PageContent content = PageContent::random;

  // Which page write number `w` goes to (always < wss_pages).
  uint64_t page_of_write(uint64_t w) const;
  // The write number page `page` must show after writes [0, writes) (kFillWrite, kNeverWritten or
  // w).
  std::vector<uint64_t> expected_last_writes(uint64_t writes) const;
};

// Fills the 4096 bytes at `page_data` with the content of write `w` to page `page`.
void write_page_content(std::byte* page_data, uint64_t seed, uint64_t page, uint64_t w,
                        PageContent content = PageContent::random);

struct PageHeader {
  uint64_t magic = 0, page = 0, write = 0, seed = 0;
};
PageHeader read_page_header(const std::byte* page_data);

// True when the 4096 bytes at `page_data` are exactly what `expected_write` leaves in `page`
// (all zero for kNeverWritten).
bool page_matches(const std::byte* page_data, uint64_t seed, uint64_t page, uint64_t expected_write,
                  PageContent content = PageContent::random);

struct BadPage {
  uint64_t page = 0;
  uint64_t expected_write = 0;
  PageHeader found;
  bool found_zero = false;
};

struct VerifyReport {
  static constexpr std::size_t kMaxListed = 8;
  uint64_t pages_checked = 0;
  uint64_t pages_bad = 0;
  std::vector<BadPage> first_bad;  // lowest page numbers first, at most kMaxListed

  bool ok() const { return pages_bad == 0; }
  void add_bad(const BadPage& bad);
  void merge(const VerifyReport& other);
  // "all 16384 pages match" or "2 bad pages of 16384: page 17 expected write 9 found write 3
  // (stale) ..."
  std::string describe() const;
};

// Checks pages [first_page, first_page + expected.size()) whose bytes are at `data` against the
// expected last writes of those pages; adds to `report`.
void check_pages(uint64_t seed, uint64_t first_page, std::span<const uint64_t> expected,
                 const std::byte* data, VerifyReport& report,
                 PageContent content = PageContent::random);

// Checks a whole memory image (memory.size() == model.memory_pages * 4096) after `writes` writes.
VerifyReport verify_memory(const ContentModel& model, uint64_t writes,
                           std::span<const std::byte> memory);

// "write 12", "fill" or "zero".
std::string describe_write(uint64_t w);

}  // namespace ferry::sim
