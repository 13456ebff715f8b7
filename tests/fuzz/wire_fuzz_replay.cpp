// Runs the wire fuzz function over a deterministic corpus derived from valid records with
// mutations (bit flips, truncations, length and type edits, field overwrites, splices), so every
// build and every ctest run exercises the decoders against hostile input without libFuzzer.
//
//   ferry_wire_fuzz_replay [inputs=200000] [seed=1]
//   ferry_wire_fuzz_replay --write-seeds DIR   (the unmutated corpus, as libFuzzer seed files)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/wire/control_records.h"
#include "engine/wire/crc32c.h"
#include "engine/wire/data_records.h"
#include "engine/wire/hello.h"
#include "engine/wire/little_endian.h"
#include "engine/wire/page_codec.h"
#include "engine/wire/page_delta.h"
#include "engine/wire/pages.h"
#include "engine/wire/record.h"
#include "tests/fuzz/wire_fuzz.h"

namespace ferry::wire::fuzz {
namespace {

using Buffer = std::vector<std::byte>;

void append(Buffer& out, const Buffer& more) {
  out.insert(out.end(), more.begin(), more.end());
}

template <typename T>
Buffer framed(const T& value) {
  auto r = encode_record(value);
  if (!r.ok()) {
    std::fprintf(stderr, "seed record does not encode: %s\n", r.error().message().c_str());
    std::exit(2);
  }
  return std::move(r).value();
}

Buffer pages_record(std::mt19937_64& rng) {
  PagesBuilder b;
  b.reset(1);
  Buffer page(kPageSize);
  for (auto& x : page) x = static_cast<std::byte>(rng());
  Buffer small(40);
  for (auto& x : small) x = static_cast<std::byte>(rng());
  b.add_zero(3);
  b.add_encoded(5, PageEncoding::lz4, small);
  b.add_raw(6, page.data());
  b.add_encoded(63, PageEncoding::delta, std::span(small).first(7));
  const auto r = b.record();
  return Buffer(r.begin(), r.end());
}

// Entries whose data really decodes: lz4 and zstd pages of text, and a delta.
Buffer encoded_pages_record() {
  PagesBuilder b;
  b.reset(0);
  Buffer page(kPageSize);
  std::string text;
  while (text.size() < kPageSize) text += "pid 4711 state=running rss=123456 ";
  std::memcpy(page.data(), text.data(), kPageSize);
  PageCompressor compressor;
  Buffer out(kMaxEncodedPageBytes);
  const std::size_t lz4 = compressor.compress(PageEncoding::lz4, page.data(), out);
  b.add_encoded(1, PageEncoding::lz4, std::span(out).first(lz4));
  const std::size_t zstd = compressor.compress(PageEncoding::zstd, page.data(), out);
  b.add_encoded(2, PageEncoding::zstd, std::span(out).first(zstd));
  Buffer changed = page;
  changed[100] = std::byte{'X'};
  changed[4000] = std::byte{'Y'};
  const std::size_t delta = encode_page_delta(page.data(), changed.data(), out);
  b.add_encoded(3, PageEncoding::delta, std::span(out).first(delta));
  const auto r = b.record();
  return Buffer(r.begin(), r.end());
}

Buffer zero_pages_record() {
  PagesBuilder b;
  b.reset(0);
  for (uint64_t p = 0; p < 20; ++p) b.add_zero(p * 3);
  const auto r = b.record();
  return Buffer(r.begin(), r.end());
}

std::vector<Buffer> seeds() {
  std::mt19937_64 rng(99);
  const nlohmann::json doc = {{"session", "s-1"},
                              {"regions", {{{"id", 0}, {"pages", 262144}}}},
                              {"settings", {{"streams", 4}, {"compress", nullptr}, {"x", 1.5}}},
                              {"name", "web-\xC3\xA9"}};
  Hello hello;
  hello.capabilities = Capability::zero_pages | Capability::raw_pages;
  hello.host = "hostA";
  hello.agent_version = "ferry 0.1.0";
  Buffer state(300);
  for (auto& x : state) x = static_cast<std::byte>(rng());

  std::vector<Buffer> s = {
      framed(hello),
      framed(Offer{doc}),
      framed(Accept{nlohmann::json{{"ok", true}}}),
      framed(Reject{Errc::not_found, "network prod: no mapping"}),
      framed(RoundBegin{2}),
      framed(RoundEnd{2, 1000, 4096000}),
      framed(DeviceState{100, 400, state}),
      framed(Switchover{5, 262144}),
      framed(Ready{}),
      framed(Resumed{nlohmann::json{{"downtime_ms", 87}, {"hash", "abc"}}}),
      framed(Abort{Errc::timeout, "switchover", "no READY"}),
      framed(Ping{1}),
      framed(Pong{1}),
      framed(Query{"s-1"}),
      framed(Status{nlohmann::json::array({1, "two", nullptr, false})}),
      framed(StreamHello{"s-1", 1, 4}),
      framed(Fence{2, 1, 10, 40960}),
      framed(FenceAck{2, 1, 10, 40960}),
      pages_record(rng),
      zero_pages_record(),
  };
  // Whole conversations: several records back to back.
  Buffer control, data;
  for (std::size_t i = 0; i < 15; ++i) append(control, s[i]);
  append(data, s[15]);
  append(data, s[18]);
  append(data, s[19]);
  append(data, s[16]);
  s.push_back(control);
  s.push_back(data);
  s.push_back(encoded_pages_record());
  // Bare payloads, so the unframed pass starts from valid bytes too.
  const std::size_t framed_count = s.size();
  for (std::size_t i = 0; i < framed_count - 2; ++i) {
    s.emplace_back(s[i].begin() + static_cast<std::ptrdiff_t>(kHeaderSize), s[i].end());
  }
  return s;
}

// Sets the first record's CRC to match its (mutated) bytes, so the mutation is judged by the
// decoders rather than only by the checksum.
void fix_first_crc(Buffer& b) {
  if (b.size() < kHeaderSize) return;
  const std::size_t length = std::min<std::size_t>(load_le32(b.data() + 4), b.size() - kHeaderSize);
  uint32_t crc = crc32c(b.data(), 8);
  crc = crc32c(b.data() + kHeaderSize, length, crc);
  store_le32(b.data() + 8, crc);
}

// Offsets that hold length-like fields in a framed record: header length and the first few
// u32s of the payload (string lengths, PAGES count and data_len sit there).
std::size_t interesting_offset(std::mt19937_64& rng, std::size_t size) {
  static const std::size_t offsets[] = {4, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52};
  const std::size_t o = offsets[rng() % std::size(offsets)];
  return o < size ? o : (size == 0 ? 0 : rng() % size);
}

void mutate(Buffer& b, std::mt19937_64& rng) {
  const uint16_t types[] = {0x0000, 0x0001, 0x0002, 0x0004, 0x0012, 0x0020,
                            0x0100, 0x0101, 0x0102, 0x7FFF, 0x8001, 0xFFFF};
  const uint32_t values[] = {
      0,          1,          2,         7,    8,    16,   255,     256,
      257,        4095,       4096,      4097, 4160, 4161, 1 << 20, (1 << 20) + 1,
      0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFF0};
  const int steps = 1 + static_cast<int>(rng() % 3);
  for (int step = 0; step < steps; ++step) {
    switch (rng() % 9) {
      case 0:  // bit flip
      case 1:
        if (!b.empty()) b[rng() % b.size()] ^= std::byte(1u << (rng() % 8));
        break;
      case 2:  // truncate
        b.resize(b.empty() ? 0 : rng() % b.size());
        break;
      case 3:  // header length edit: small delta or a boundary value
        if (b.size() >= 8) {
          const uint32_t len = load_le32(b.data() + 4);
          const uint32_t edited = rng() % 2 ? len + static_cast<uint32_t>(rng() % 17) - 8
                                            : values[rng() % std::size(values)];
          store_le32(b.data() + 4, edited);
        }
        break;
      case 4:  // type edit
        if (b.size() >= 2) store_le16(b.data(), types[rng() % std::size(types)]);
        break;
      case 5:  // field overwrite with a boundary value
        if (b.size() >= 4) {
          const std::size_t o = std::min(interesting_offset(rng, b.size()), b.size() - 4);
          store_le32(b.data() + o, values[rng() % std::size(values)]);
        }
        break;
      case 6:  // random byte
        if (!b.empty()) b[rng() % b.size()] = static_cast<std::byte>(rng());
        break;
      case 7:  // insert or delete a few bytes
        if (!b.empty()) {
          const auto at = static_cast<std::ptrdiff_t>(rng() % b.size());
          if (rng() % 2) {
            b.insert(b.begin() + at, 1 + rng() % 4, static_cast<std::byte>(rng()));
          } else {
            b.erase(b.begin() + at,
                    b.begin() + std::min<std::ptrdiff_t>(at + 1 + rng() % 4,
                                                         static_cast<std::ptrdiff_t>(b.size())));
          }
        }
        break;
      case 8:  // append garbage
        for (int i = 0, n = static_cast<int>(rng() % 16); i < n; ++i) {
          b.push_back(static_cast<std::byte>(rng()));
        }
        break;
    }
  }
  if (rng() % 2) fix_first_crc(b);
}

}  // namespace
}  // namespace ferry::wire::fuzz

int main(int argc, char** argv) {
  using namespace ferry::wire::fuzz;
  if (argc == 3 && std::strcmp(argv[1], "--write-seeds") == 0) {
    const auto corpus = seeds();
    for (std::size_t i = 0; i < corpus.size(); ++i) {
      const std::string path = std::string(argv[2]) + "/seed-" + std::to_string(i);
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(corpus[i].data()),
                static_cast<std::streamsize>(corpus[i].size()));
      if (!out) {
        std::fprintf(stderr, "write %s failed\n", path.c_str());
        return 2;
      }
    }
    std::printf("wrote %zu seed files to %s\n", corpus.size(), argv[2]);
    return 0;
  }
  const uint64_t inputs = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  const auto start = std::chrono::steady_clock::now();

  const auto corpus = seeds();
  for (const auto& s : corpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < inputs; ++i) {
    auto input = corpus[rng() % corpus.size()];
    mutate(input, rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const FuzzStats& s = stats();
  std::printf(
      "wire fuzz replay: %llu mutated inputs (seed %llu) in %.1f s; %llu headers "
      "accepted, %llu CRCs passed\n",
      static_cast<unsigned long long>(inputs), static_cast<unsigned long long>(seed), seconds,
      static_cast<unsigned long long>(s.headers_accepted),
      static_cast<unsigned long long>(s.crc_passed));
  // Every decoder must have accepted and refused something: a corpus that never gets past a
  // decoder's checks would test nothing behind them.
  int failures = 0;
  for (const auto& d : s.decoders) {
    std::printf("  %-13s accepted %8llu  refused %8llu\n", d.name,
                static_cast<unsigned long long>(d.accepted),
                static_cast<unsigned long long>(d.refused));
    if (d.accepted == 0 || d.refused == 0) {
      std::printf("  ^ %s was never %s\n", d.name, d.accepted == 0 ? "accepted" : "refused");
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}
