// Parses arbitrary bytes as a stream of records and runs every typed decoder on every payload.
// Besides crashes and sanitizer reports it checks properties: whatever a decoder accepts
// re-encodes to the same bytes (or, for JSON fields, to an equal value), and a header's CRC
// verifies exactly when re-encoding the header over the payload reproduces it.
#include "tests/fuzz/wire_fuzz.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "engine/wire/control_records.h"
#include "engine/wire/data_records.h"
#include "engine/wire/field_limits.h"
#include "engine/wire/hello.h"
#include "engine/wire/page_codec.h"
#include "engine/wire/page_delta.h"
#include "engine/wire/pages.h"
#include "engine/wire/record.h"

namespace ferry::wire::fuzz {

FuzzStats& stats() {
  static FuzzStats s;
  return s;
}

namespace {

using Bytes = std::span<const std::byte>;

void require(bool property, const char* what) {
  if (!property) {
    std::fprintf(stderr, "wire fuzz: property violated: %s\n", what);
    std::abort();
  }
}

bool same_bytes(const std::vector<std::byte>& a, Bytes b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

void count(std::size_t index, const char* name, bool accepted) {
  auto& d = stats().decoders[index];
  d.name = name;
  ++(accepted ? d.accepted : d.refused);
}

// Records whose every field is fixed-width or a string that decodes to exactly what was sent.
template <typename T, typename Decode>
void exact(std::size_t index, const char* name, Bytes payload, Decode decode) {
  auto r = decode(payload);
  count(index, name, r.ok());
  if (r.ok()) require(same_bytes(encode(*r), payload), name);
}

// Records with a JSON field: the text may differ (spacing, escapes), the value may not.
template <typename T, typename Decode>
void json_equal(std::size_t index, const char* name, Bytes payload, Decode decode) {
  auto r = decode(payload);
  count(index, name, r.ok());
  if (!r.ok()) return;
  auto again = decode(encode(*r));
  require(again.ok() && *again == *r, name);
}

// REJECT / ABORT: an unknown code is folded into the message, so compare values when that
// cannot have pushed the message past the string limit.
template <typename T, typename Decode>
void error_record(std::size_t index, const char* name, Bytes payload, Decode decode) {
  auto r = decode(payload);
  count(index, name, r.ok());
  if (!r.ok() || r->message.size() > kMaxStringBytes) return;
  auto again = decode(encode(*r));
  require(again.ok() && *again == *r, name);
}

// Decodes every entry of a valid PAGES payload into a page of memory, as a receiver does. Whatever
// decodes must survive a round trip through the encoder again.
void page_data(std::size_t index, const PagesView& view) {
  static PageDecoder decoder;
  static PageCompressor compressor;
  static std::array<std::byte, kPageSize> memory;
  static std::array<std::byte, kPageSize> before;
  static std::array<std::byte, kMaxEncodedPageBytes> encoded;
  bool all = true;
  for (const PageEntry& e : view) {
    // A delta applies to what the page held: some content that is not all zeros.
    for (std::size_t i = 0; i < kPageSize; ++i) memory[i] = static_cast<std::byte>(i * 7 + e.page);
    before = memory;
    auto r = decoder.decode(e, memory.data());
    if (!r.ok()) {
      require(r.error().code() == Errc::corrupt, "page data: error code is not corrupt");
      all = false;
      continue;
    }
    if (e.encoding == PageEncoding::lz4 || e.encoding == PageEncoding::zstd) {
      const std::size_t n = compressor.compress(e.encoding, memory.data(), encoded);
      if (n == 0) continue;
      std::array<std::byte, kPageSize> again;
      require(decoder.decode({e.page, e.encoding, {encoded.data(), n}}, again.data()).ok() &&
                  again == memory,
              "page data: recompressed page does not decode to itself");
    } else if (e.encoding == PageEncoding::delta) {
      const std::size_t n = encode_page_delta(before.data(), memory.data(), encoded);
      require(n > 0, "page data: delta of a decoded page does not fit");
      auto again = before;
      require(apply_page_delta({encoded.data(), n}, again.data()).ok() && again == memory,
              "page data: re-encoded delta does not reproduce the page");
    }
  }
  count(index, "PAGE DATA", all);
}

void pages(std::size_t index, Bytes payload) {
  const uint64_t regions[] = {1u << 20, 64, 1};
  auto r = decode_pages(payload, regions);
  auto plain = decode_pages(payload, uint64_t{1} << 20);
  count(index, "PAGES", r.ok());
  if (r.ok()) require(plain.ok(), "PAGES: region-table decode accepted what the plain one refused");
  if (!plain.ok()) return;
  page_data(index + 1, *plain);
  // Rebuild the payload entry by entry: the builder must reproduce the bytes exactly.
  static PagesBuilder builder;
  builder.reset(plain->region_id);
  uint32_t n = 0;
  for (const PageEntry& e : *plain) {
    require(e.page < (uint64_t{1} << 20), "PAGES: page beyond the limit");
    builder.add_encoded(e.page, e.encoding, e.data);
    ++n;
  }
  require(n == plain->count, "PAGES: iteration count");
  require(same_bytes(std::vector<std::byte>(builder.payload().begin(), builder.payload().end()),
                     payload),
          "PAGES: rebuilt payload differs");
  const Bytes record = builder.record();
  auto header = decode_header(record.first<kHeaderSize>(), Limits{});
  require(header.ok() && verify_crc(*header, record.subspan(kHeaderSize)).ok(),
          "PAGES: builder record does not verify");
}

void run_every_decoder(Bytes p) {
  std::size_t i = 0;
  exact<Hello>(i++, "HELLO", p, decode_hello);
  json_equal<Offer>(i++, "OFFER", p, decode_offer);
  json_equal<Accept>(i++, "ACCEPT", p, decode_accept);
  error_record<Reject>(i++, "REJECT", p, decode_reject);
  exact<RoundBegin>(i++, "ROUND_BEGIN", p, decode_round_begin);
  exact<RoundEnd>(i++, "ROUND_END", p, decode_round_end);
  exact<DeviceState>(i++, "DEVICE_STATE", p, decode_device_state);
  exact<Switchover>(i++, "SWITCHOVER", p, decode_switchover);
  exact<Ready>(i++, "READY", p, decode_ready);
  json_equal<Resumed>(i++, "RESUMED", p, decode_resumed);
  error_record<Abort>(i++, "ABORT", p, decode_abort);
  exact<Ping>(i++, "PING", p, decode_ping);
  exact<Pong>(i++, "PONG", p, decode_pong);
  exact<Query>(i++, "QUERY", p, decode_query);
  json_equal<Status>(i++, "STATUS", p, decode_status);
  exact<StreamHello>(i++, "STREAM_HELLO", p, decode_stream_hello);
  exact<Fence>(i++, "FENCE", p, decode_fence);
  exact<FenceAck>(i++, "FENCE_ACK", p, decode_fence_ack);
  pages(i++, p);
  ++i;  // PAGE DATA, counted by pages() for the payloads it accepts
  require(i == kDecoderCount, "decoder table size");
}

}  // namespace
}  // namespace ferry::wire::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::wire;
  using namespace ferry::wire::fuzz;
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  // The payload decoders also see the raw input, unframed.
  run_every_decoder(input);

  const Limits limits{1 << 20};
  std::size_t offset = 0;
  while (input.size() - offset >= kHeaderSize) {
    const auto header_bytes = input.subspan(offset).first<kHeaderSize>();
    auto header = decode_header(header_bytes, limits);
    if (!header.ok()) break;  // a receiver drops the connection here
    ++stats().headers_accepted;
    (void)classify_record_type(header->type, Channel::control);
    (void)classify_record_type(header->type, Channel::data);
    const std::size_t available = input.size() - offset - kHeaderSize;
    const auto payload =
        input.subspan(offset + kHeaderSize, std::min<std::size_t>(header->length, available));
    const bool crc_ok = verify_crc(*header, payload).ok();
    if (payload.size() == header->length) {
      const auto again = encode_header(header->type, header->flags, payload);
      require(crc_ok == (std::memcmp(again.data(), header_bytes.data(), kHeaderSize) == 0),
              "verify_crc disagrees with encode_header");
    } else {
      require(!crc_ok, "verify_crc accepted a short payload");
    }
    if (crc_ok) ++stats().crc_passed;
    // Decode even when the CRC fails, so mutated payloads reach the decoders.
    run_every_decoder(payload);
    if (payload.size() < header->length) break;
    offset += kHeaderSize + header->length;
  }
  return 0;
}
