// PAGES: the hot-path record that carries guest memory on the data connections.
//
// Payload: region_id u32 | count u32 | count entries of {page u64, encoding u8, reserved u8[3] = 0,
// data_len u32} | the data of each entry, concatenated in entry order.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <span>
#include <string_view>

#include "engine/error/error.h"
#include "engine/memory/page.h"
#include "engine/wire/record.h"

namespace ferry::wire {

enum class PageEncoding : uint8_t { zero = 0, raw = 1, lz4 = 2, zstd = 3, delta = 4 };
std::string_view page_encoding_name(PageEncoding encoding);

inline constexpr uint32_t kMaxPagesPerRecord = 256;  // 1 MiB of raw pages per record
inline constexpr std::size_t kMaxEncodedPageBytes = kPageSize + 64;  // lz4/zstd/delta data_len
inline constexpr std::size_t kPagesPrefixSize = 8;                   // region_id, count
inline constexpr std::size_t kPageEntrySize = 16;
inline constexpr std::size_t kMaxPagesTableSize =
    kPagesPrefixSize + kMaxPagesPerRecord * kPageEntrySize;
inline constexpr std::size_t kMaxPagesPayloadSize =
    kMaxPagesTableSize + kMaxPagesPerRecord * kMaxEncodedPageBytes;

// Builds one PAGES record at a time in a buffer allocated once and reused.
//
// Page data is written straight to its final place: the buffer reserves room for the header and
// for a full entry table (kMaxPagesPerRecord entries) in front of the data. payload()/record()
// then write the table right-aligned against the data, so the data never moves (at most 4 KiB of
// table is copied) and header + payload are one contiguous span. The CRC of the data is computed
// as each page is added (while the copy is in cache) and combined with the table's at the end.
//
// Adding a page when full(), or data of the wrong size for its encoding, is a bug in the caller:
// the process aborts with a message rather than write past the buffer.
class PagesBuilder {
 public:
  PagesBuilder();

  // Starts a new record for region `region_id`; keeps the buffer.
  void reset(uint32_t region_id);

  void add_zero(uint64_t page);
  // Copies the kPageSize bytes at src: the guest may write the page meanwhile, the copy is the
  // snapshot that is checksummed and sent.
  void add_raw(uint64_t page, const std::byte* src);
  // Copies the page like add_raw and sends the copy as a zero entry if it is all zeros; returns
  // the encoding used.
  PageEncoding add_page(uint64_t page, const std::byte* src);
  // zero: data empty; raw: kPageSize bytes; lz4/zstd/delta: 1..kMaxEncodedPageBytes bytes.
  void add_encoded(uint64_t page, PageEncoding encoding, std::span<const std::byte> data);

  uint32_t region_id() const { return region_id_; }
  uint32_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  bool full() const { return count_ == kMaxPagesPerRecord; }
  std::size_t data_size() const { return data_size_; }
  std::size_t payload_size() const {
    return kPagesPrefixSize + count_ * kPageEntrySize + data_size_;
  }

  // The payload (valid until the next add or reset).
  std::span<const std::byte> payload();
  // Header (type PAGES, CRC) + payload in one span, ready to send (valid until the next add or
  // reset).
  std::span<const std::byte> record(uint16_t flags = 0);

 private:
  std::byte* append_entry(uint64_t page, PageEncoding encoding, std::size_t data_len);
  void require_room(std::size_t data_len) const;
  std::size_t table_offset() const;

  std::unique_ptr<std::byte[]> buffer_;
  std::array<std::byte, kMaxPagesPerRecord * kPageEntrySize> entries_{};
  uint32_t region_id_ = 0;
  uint32_t count_ = 0;
  std::size_t data_size_ = 0;
  uint32_t data_crc_ = 0;
};

struct PageEntry {
  uint64_t page;
  PageEncoding encoding;
  std::span<const std::byte> data;  // empty for zero, kPageSize bytes for raw
};

// A validated PAGES payload; iterate it for the entries. Only decode_pages() makes one, and it
// points into the payload it was decoded from.
class PagesView {
 public:
  uint32_t region_id = 0;
  uint32_t count = 0;

  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = PageEntry;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = PageEntry;

    Iterator() = default;
    PageEntry operator*() const;
    Iterator& operator++();
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator& other) const { return entry_ == other.entry_; }

   private:
    friend class PagesView;
    Iterator(const std::byte* entry, const std::byte* data) : entry_(entry), data_(data) {}
    const std::byte* entry_ = nullptr;
    const std::byte* data_ = nullptr;
  };

  Iterator begin() const { return {entries_, data_}; }
  Iterator end() const { return {entries_ + count * kPageEntrySize, nullptr}; }

 private:
  friend Result<PagesView> decode_pages(std::span<const std::byte> payload,
                                        uint64_t region_pages_limit);
  const std::byte* entries_ = nullptr;
  const std::byte* data_ = nullptr;
};

// Validates the whole payload before the caller applies any page: count <= kMaxPagesPerRecord,
// the table fits, reserved bytes are zero, encodings are known, each data_len fits its encoding,
// every page < region_pages_limit, and the data lengths add up to exactly the bytes after the
// table. Errc::corrupt naming the region, the entry and the field. lz4/zstd/delta entries are
// checked structurally only; this module does not decompress.
Result<PagesView> decode_pages(std::span<const std::byte> payload, uint64_t region_pages_limit);

// Same, with the page limit of region r at region_page_counts[r]; an undeclared region is
// Errc::corrupt.
Result<PagesView> decode_pages(std::span<const std::byte> payload,
                               std::span<const uint64_t> region_page_counts);

// A PAGES payload read in two steps, for a receiver that reads page data straight into guest
// memory: first the prefix and the entry table (the head), checked here, then the data.
struct PageTableEntry {
  uint64_t page = 0;
  PageEncoding encoding = PageEncoding::zero;
  uint32_t data_len = 0;
};
struct PagesTable {
  uint32_t region_id = 0;
  uint32_t count = 0;
  std::array<PageTableEntry, kMaxPagesPerRecord> entries;
};

// The size of the entry table after `prefix` in a payload of `payload_length` bytes (at least
// kPagesPrefixSize). Errc::corrupt, as decode_pages words it, when count is above
// kMaxPagesPerRecord or the table does not fit.
Result<std::size_t> pages_table_size(std::span<const std::byte, kPagesPrefixSize> prefix,
                                     std::size_t payload_length);

// Checks `head` (the prefix and the whole entry table) with every check of decode_pages, the data
// still unread: the declared data lengths must add up to payload_length - head.size(). Fills
// `table`.
Result<void> decode_pages_table(std::span<const std::byte> head, std::size_t payload_length,
                                uint64_t region_pages_limit, PagesTable& table);

}  // namespace ferry::wire
