#include "engine/vm/sim/content_model.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "engine/memory/page.h"

namespace ferry::sim {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15;
constexpr std::size_t kWordsPerPage = kPageSize / sizeof(uint64_t);
constexpr std::size_t kHeaderWords = kPageHeaderBytes / sizeof(uint64_t);

// splitmix64's finalizer: a cheap bijective mix with good avalanche.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

inline uint64_t write_hash(uint64_t seed, uint64_t w) {
  return mix64(mix64(seed ^ 0x5752495445484153) + w * kGolden);
}

inline uint64_t body_state(uint64_t seed, uint64_t page, uint64_t w) {
  return mix64(mix64(mix64(seed) ^ page) + w * kGolden);
}

// Body word i of a page whose PRNG state is now `s`.
inline uint64_t body_word(uint64_t s, PageContent content) {
  const uint64_t v = mix64(s);
  return content == PageContent::compressible ? (v & 0xffff) : v;
}

inline uint64_t load_word(const std::byte* p, std::size_t i) {
  uint64_t v;
  std::memcpy(&v, p + i * sizeof(uint64_t), sizeof v);
  return v;
}

inline void store_word(std::byte* p, std::size_t i, uint64_t v) {
  std::memcpy(p + i * sizeof(uint64_t), &v, sizeof v);
}

bool all_zero(const std::byte* data) {
  for (std::size_t i = 0; i < kWordsPerPage; ++i) {
    if (load_word(data, i) != 0) return false;
  }
  return true;
}

std::string describe_bad(const BadPage& bad) {
  std::string what;
  const PageHeader& h = bad.found;
  if (bad.found_zero) {
    what = "found an all-zero page";
  } else if (h.magic != kPageMagic) {
    what = fmt::format("found no page header (magic {:#018x})", h.magic);
  } else if (h.page != bad.page) {
    what = fmt::format("found the content of page {} ({})", h.page, describe_write(h.write));
  } else if (h.write == bad.expected_write) {
    what = "header matches but the body differs";
  } else if (bad.expected_write != kFillWrite && bad.expected_write != kNeverWritten &&
             (h.write == kFillWrite || h.write < bad.expected_write)) {
    what = fmt::format("found {} (stale: an older copy)", describe_write(h.write));
  } else {
    what = fmt::format("found {} seed {}", describe_write(h.write), h.seed);
  }
  return fmt::format("page {}: expected {}, {}", bad.page, describe_write(bad.expected_write),
                     what);
}

}  // namespace

std::string_view pattern_name(WritePattern pattern) {
  switch (pattern) {
    case WritePattern::uniform:
      return "uniform";
    case WritePattern::hot:
      return "hot";
    case WritePattern::sequential:
      return "sequential";
  }
  return "unknown";
}

std::optional<WritePattern> parse_pattern(std::string_view name) {
  for (auto p : {WritePattern::uniform, WritePattern::hot, WritePattern::sequential}) {
    if (pattern_name(p) == name) return p;
  }
  return std::nullopt;
}

std::string_view content_name(PageContent content) {
  return content == PageContent::compressible ? "compressible" : "random";
}

std::optional<PageContent> parse_content(std::string_view name) {
  for (auto c : {PageContent::random, PageContent::compressible}) {
    if (content_name(c) == name) return c;
  }
  return std::nullopt;
}

uint64_t ContentModel::page_of_write(uint64_t w) const {
  switch (pattern) {
    case WritePattern::uniform:
      return write_hash(seed, w) % wss_pages;
    case WritePattern::sequential:
      return w % wss_pages;
    case WritePattern::hot: {
      // 90% of writes to the first 10% of the working set; the choice uses independent hash bits.
      const uint64_t h = write_hash(seed, w);
      const uint64_t hot_pages = std::max<uint64_t>(1, wss_pages / 10);
      const uint64_t cold_pages = wss_pages - hot_pages;
      if (cold_pages == 0 || mix64(h) % 10 < 9) return h % hot_pages;
      return hot_pages + h % cold_pages;
    }
  }
  return 0;
}

std::vector<uint64_t> ContentModel::expected_last_writes(uint64_t writes) const {
  std::vector<uint64_t> last(memory_pages, kNeverWritten);
  std::fill_n(last.begin(), std::min(fill_pages, memory_pages), kFillWrite);
  if (pattern == WritePattern::sequential) {
    // Closed form: page p was last written by the largest w < writes with w % wss_pages == p.
    const uint64_t n = wss_pages;
    for (uint64_t p = 0; p < n && p < writes; ++p) last[p] = (writes - 1 - p) / n * n + p;
    return last;
  }
  for (uint64_t w = 0; w < writes; ++w) last[page_of_write(w)] = w;
  return last;
}

void write_page_content(std::byte* page_data, uint64_t seed, uint64_t page, uint64_t w,
                        PageContent content) {
  store_word(page_data, 0, kPageMagic);
  store_word(page_data, 1, page);
  store_word(page_data, 2, w);
  store_word(page_data, 3, seed);
  uint64_t s = body_state(seed, page, w);
  for (std::size_t i = kHeaderWords; i < kWordsPerPage; ++i) {
    s += kGolden;
    store_word(page_data, i, body_word(s, content));
  }
}

PageHeader read_page_header(const std::byte* page_data) {
  return {load_word(page_data, 0), load_word(page_data, 1), load_word(page_data, 2),
          load_word(page_data, 3)};
}

bool page_matches(const std::byte* page_data, uint64_t seed, uint64_t page, uint64_t expected_write,
                  PageContent content) {
  if (expected_write == kNeverWritten) return all_zero(page_data);
  if (load_word(page_data, 0) != kPageMagic || load_word(page_data, 1) != page ||
      load_word(page_data, 2) != expected_write || load_word(page_data, 3) != seed) {
    return false;
  }
  uint64_t s = body_state(seed, page, expected_write);
  for (std::size_t i = kHeaderWords; i < kWordsPerPage; ++i) {
    s += kGolden;
    if (load_word(page_data, i) != body_word(s, content)) return false;
  }
  return true;
}

void VerifyReport::add_bad(const BadPage& bad) {
  ++pages_bad;
  first_bad.push_back(bad);
  std::sort(first_bad.begin(), first_bad.end(),
            [](const BadPage& a, const BadPage& b) { return a.page < b.page; });
  if (first_bad.size() > kMaxListed) first_bad.resize(kMaxListed);
}

void VerifyReport::merge(const VerifyReport& other) {
  pages_checked += other.pages_checked;
  const uint64_t bad_before = pages_bad;
  for (const BadPage& bad : other.first_bad) add_bad(bad);
  pages_bad = bad_before + other.pages_bad;
}

std::string VerifyReport::describe() const {
  if (ok()) return fmt::format("all {} pages match", pages_checked);
  std::string out = fmt::format("{} bad pages of {}", pages_bad, pages_checked);
  for (const BadPage& bad : first_bad) out += "; " + describe_bad(bad);
  if (pages_bad > first_bad.size()) out += "; ...";
  return out;
}

void check_pages(uint64_t seed, uint64_t first_page, std::span<const uint64_t> expected,
                 const std::byte* data, VerifyReport& report, PageContent content) {
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const std::byte* page_data = data + i * kPageSize;
    const uint64_t page = first_page + i;
    if (!page_matches(page_data, seed, page, expected[i], content)) {
      report.add_bad({page, expected[i], read_page_header(page_data), all_zero(page_data)});
    }
  }
  report.pages_checked += expected.size();
}

VerifyReport verify_memory(const ContentModel& model, uint64_t writes,
                           std::span<const std::byte> memory) {
  VerifyReport report;
  const std::vector<uint64_t> expected = model.expected_last_writes(writes);
  check_pages(
      model.seed, 0,
      std::span(expected).first(std::min<std::size_t>(expected.size(), memory.size() / kPageSize)),
      memory.data(), report, model.content);
  return report;
}

std::string describe_write(uint64_t w) {
  if (w == kFillWrite) return "fill";
  if (w == kNeverWritten) return "zero";
  return fmt::format("write {}", w);
}

}  // namespace ferry::sim
