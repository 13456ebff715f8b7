#include "engine/wire/pages.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/wire/crc32c.h"
#include "engine/wire/little_endian.h"
#include "engine/wire/zero_page.h"

namespace ferry::wire {
namespace {

constexpr std::size_t kDataOffset = kHeaderSize + kMaxPagesTableSize;
constexpr std::size_t kBufferSize = kDataOffset + kMaxPagesPerRecord * kMaxEncodedPageBytes;

[[noreturn]] void misuse(const std::string& what) {
  std::fprintf(stderr, "ferry: PagesBuilder misuse: %s\n", what.c_str());
  std::abort();
}

bool is_known_encoding(uint8_t encoding) {
  return encoding <= static_cast<uint8_t>(PageEncoding::delta);
}

// The data_len an encoding allows, as [min, max].
struct LengthRange {
  std::size_t min, max;
};
LengthRange allowed_length(PageEncoding encoding) {
  switch (encoding) {
    case PageEncoding::zero:
      return {0, 0};
    case PageEncoding::raw:
      return {kPageSize, kPageSize};
    default:
      return {1, kMaxEncodedPageBytes};
  }
}

}  // namespace

std::string_view page_encoding_name(PageEncoding encoding) {
  switch (encoding) {
    case PageEncoding::zero:
      return "zero";
    case PageEncoding::raw:
      return "raw";
    case PageEncoding::lz4:
      return "lz4";
    case PageEncoding::zstd:
      return "zstd";
    case PageEncoding::delta:
      return "delta";
  }
  return "unknown";
}

PagesBuilder::PagesBuilder() : buffer_(std::make_unique<std::byte[]>(kBufferSize)) {}

void PagesBuilder::reset(uint32_t region_id) {
  region_id_ = region_id;
  count_ = 0;
  data_size_ = 0;
  data_crc_ = 0;
}

void PagesBuilder::require_room(std::size_t data_len) const {
  if (count_ == kMaxPagesPerRecord) {
    misuse(fmt::format("region {}: adding a page to a full record ({} pages)", region_id_,
                       kMaxPagesPerRecord));
  }
  // Cannot trigger with per-entry lengths checked, but the buffer bound is what matters.
  if (data_size_ + data_len > kBufferSize - kDataOffset) {
    misuse(fmt::format("region {}: data would exceed the record buffer", region_id_));
  }
}

std::byte* PagesBuilder::append_entry(uint64_t page, PageEncoding encoding, std::size_t data_len) {
  require_room(data_len);
  std::byte* e = entries_.data() + count_ * kPageEntrySize;
  store_le64(e, page);
  e[8] = static_cast<std::byte>(encoding);
  e[9] = e[10] = e[11] = std::byte{0};
  store_le32(e + 12, static_cast<uint32_t>(data_len));
  ++count_;
  std::byte* data = buffer_.get() + kDataOffset + data_size_;
  data_size_ += data_len;
  return data;
}

void PagesBuilder::add_zero(uint64_t page) {
  append_entry(page, PageEncoding::zero, 0);
}

void PagesBuilder::add_raw(uint64_t page, const std::byte* src) {
  std::byte* copy = append_entry(page, PageEncoding::raw, kPageSize);
  std::memcpy(copy, src, kPageSize);
  data_crc_ = crc32c(copy, kPageSize, data_crc_);
}

PageEncoding PagesBuilder::add_page(uint64_t page, const std::byte* src) {
  require_room(kPageSize);
  std::byte* copy = buffer_.get() + kDataOffset + data_size_;
  std::memcpy(copy, src, kPageSize);
  // Decide on the copy, not on src: src may change between the check and the copy.
  if (is_zero_page(copy)) {
    append_entry(page, PageEncoding::zero, 0);
    return PageEncoding::zero;
  }
  append_entry(page, PageEncoding::raw, kPageSize);
  data_crc_ = crc32c(copy, kPageSize, data_crc_);
  return PageEncoding::raw;
}

void PagesBuilder::add_encoded(uint64_t page, PageEncoding encoding,
                               std::span<const std::byte> data) {
  if (!is_known_encoding(static_cast<uint8_t>(encoding))) {
    misuse(fmt::format("page {}: unknown encoding {}", page, static_cast<int>(encoding)));
  }
  const LengthRange range = allowed_length(encoding);
  if (data.size() < range.min || data.size() > range.max) {
    misuse(fmt::format("page {}: {} data of {} bytes, allowed {}..{}", page,
                       page_encoding_name(encoding), data.size(), range.min, range.max));
  }
  std::byte* dst = append_entry(page, encoding, data.size());
  if (!data.empty()) {
    std::memcpy(dst, data.data(), data.size());
    data_crc_ = crc32c(dst, data.size(), data_crc_);
  }
}

std::size_t PagesBuilder::table_offset() const {
  return kDataOffset - kPagesPrefixSize - count_ * kPageEntrySize;
}

std::span<const std::byte> PagesBuilder::payload() {
  std::byte* table = buffer_.get() + table_offset();
  store_le32(table, region_id_);
  store_le32(table + 4, count_);
  std::memcpy(table + kPagesPrefixSize, entries_.data(), count_ * kPageEntrySize);
  return {table, payload_size()};
}

std::span<const std::byte> PagesBuilder::record(uint16_t flags) {
  const std::span<const std::byte> body = payload();
  std::byte* header = buffer_.get() + table_offset() - kHeaderSize;
  store_le16(header, type_number(RecordType::pages));
  store_le16(header + 2, flags);
  store_le32(header + 4, static_cast<uint32_t>(body.size()));
  const std::size_t table_size = body.size() - data_size_;
  uint32_t crc = crc32c(header, 8);
  crc = crc32c(body.data(), table_size, crc);
  crc = crc32c_combine(crc, data_crc_, data_size_);
  store_le32(header + 8, crc);
  return {header, kHeaderSize + body.size()};
}

PageEntry PagesView::Iterator::operator*() const {
  return {load_le64(entry_), static_cast<PageEncoding>(entry_[8]), {data_, load_le32(entry_ + 12)}};
}

PagesView::Iterator& PagesView::Iterator::operator++() {
  data_ += load_le32(entry_ + 12);
  entry_ += kPageEntrySize;
  return *this;
}

namespace {

Error pages_error(uint32_t region, std::string_view what) {
  return Error(Errc::corrupt, fmt::format("PAGES payload (region {}): {}", region, what));
}

}  // namespace

namespace {

// The entry table at `entries` (count entries; count already checked) followed by
// `data_available` bytes of data: every check of decode_pages. Fills `out` when given.
Result<void> check_entries(uint32_t region_id, uint32_t count, const std::byte* entries,
                           std::size_t data_available, uint64_t region_pages_limit,
                           PagesTable* out) {
  uint64_t data_total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const std::byte* e = entries + i * kPageEntrySize;
    const uint64_t page = load_le64(e);
    const auto encoding = std::to_integer<uint8_t>(e[8]);
    const uint32_t data_len = load_le32(e + 12);
    if (e[9] != std::byte{0} || e[10] != std::byte{0} || e[11] != std::byte{0}) {
      return pages_error(region_id,
                         fmt::format("entry {} (page {}): reserved bytes are not zero", i, page));
    }
    if (!is_known_encoding(encoding)) {
      return pages_error(region_id,
                         fmt::format("entry {} (page {}): unknown encoding {}", i, page, encoding));
    }
    const LengthRange range = allowed_length(static_cast<PageEncoding>(encoding));
    if (data_len < range.min || data_len > range.max) {
      return pages_error(
          region_id, fmt::format("entry {} (page {}): {} data_len {}, allowed {}..{}", i, page,
                                 page_encoding_name(static_cast<PageEncoding>(encoding)), data_len,
                                 range.min, range.max));
    }
    if (page >= region_pages_limit) {
      return pages_error(region_id,
                         fmt::format("entry {}: page {} is outside the region ({} pages)", i, page,
                                     region_pages_limit));
    }
    data_total += data_len;
    if (out) out->entries[i] = {page, static_cast<PageEncoding>(encoding), data_len};
  }
  if (data_total != data_available) {
    return pages_error(region_id,
                       fmt::format("entries declare {} data bytes, the payload carries {} after "
                                   "the entry table",
                                   data_total, data_available));
  }
  return ok();
}

// The table size for `count` entries when it fits in `after_prefix` bytes.
Result<std::size_t> table_size_for(uint32_t region_id, uint32_t count, std::size_t after_prefix) {
  if (count > kMaxPagesPerRecord) {
    return pages_error(region_id, fmt::format("field count: {} entries, at most {} allowed", count,
                                              kMaxPagesPerRecord));
  }
  const std::size_t table_size = static_cast<std::size_t>(count) * kPageEntrySize;
  if (table_size > after_prefix) {
    return pages_error(region_id,
                       fmt::format("truncated entry table: {} entries need {} bytes, only {} "
                                   "follow the prefix",
                                   count, table_size, after_prefix));
  }
  return table_size;
}

}  // namespace

Result<PagesView> decode_pages(std::span<const std::byte> payload, uint64_t region_pages_limit) {
  if (payload.size() < kPagesPrefixSize) {
    return Error(Errc::corrupt, fmt::format("PAGES payload: {} bytes, shorter than the {}-byte "
                                            "region_id/count prefix",
                                            payload.size(), kPagesPrefixSize));
  }
  PagesView view;
  view.region_id = load_le32(payload.data());
  view.count = load_le32(payload.data() + 4);
  const std::size_t after_prefix = payload.size() - kPagesPrefixSize;
  auto table_size = table_size_for(view.region_id, view.count, after_prefix);
  if (!table_size) return std::move(table_size).error();
  const std::byte* entries = payload.data() + kPagesPrefixSize;
  if (auto checked = check_entries(view.region_id, view.count, entries, after_prefix - *table_size,
                                   region_pages_limit, nullptr);
      !checked)
    return std::move(checked).error();
  view.entries_ = entries;
  view.data_ = entries + *table_size;
  return view;
}

Result<std::size_t> pages_table_size(std::span<const std::byte, kPagesPrefixSize> prefix,
                                     std::size_t payload_length) {
  return table_size_for(load_le32(prefix.data()), load_le32(prefix.data() + 4),
                        payload_length - kPagesPrefixSize);
}

Result<void> decode_pages_table(std::span<const std::byte> head, std::size_t payload_length,
                                uint64_t region_pages_limit, PagesTable& table) {
  if (head.size() < kPagesPrefixSize || head.size() > payload_length)
    return Error(Errc::corrupt, fmt::format("PAGES payload: head of {} bytes for a payload of {}",
                                            head.size(), payload_length));
  table.region_id = load_le32(head.data());
  table.count = load_le32(head.data() + 4);
  auto table_size = table_size_for(table.region_id, table.count, payload_length - kPagesPrefixSize);
  if (!table_size) return std::move(table_size).error();
  if (head.size() != kPagesPrefixSize + *table_size)
    return Error(Errc::corrupt,
                 fmt::format("PAGES payload: head of {} bytes, the table of {} entries needs {}",
                             head.size(), table.count, kPagesPrefixSize + *table_size));
  return check_entries(table.region_id, table.count, head.data() + kPagesPrefixSize,
                       payload_length - head.size(), region_pages_limit, &table);
}

Result<PagesView> decode_pages(std::span<const std::byte> payload,
                               std::span<const uint64_t> region_page_counts) {
  if (payload.size() < kPagesPrefixSize) return decode_pages(payload, uint64_t{0});
  const uint32_t region = load_le32(payload.data());
  if (region >= region_page_counts.size()) {
    return pages_error(region, fmt::format("field region_id: region {} was not declared (the "
                                           "offer has {} regions)",
                                           region, region_page_counts.size()));
  }
  return decode_pages(payload, region_page_counts[region]);
}

}  // namespace ferry::wire
