#include "engine/wire/hello.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

#include "engine/wire/payload_reader.h"
#include "engine/wire/payload_writer.h"

namespace ferry::wire {
namespace {

constexpr std::string_view kCapabilityNames[] = {"zero_pages", "raw_pages",   "lz4", "zstd",
                                                 "delta",      "memory_hash", "tls"};

std::string range_text(const Hello& h) {
  return fmt::format("{}..{} (agent {:?} on host {:?})", h.min_version, h.max_version,
                     h.agent_version, h.host);
}

}  // namespace

std::string capability_names(uint64_t set) {
  std::string names;
  while (set != 0) {
    const int bit = std::countr_zero(set);
    set &= set - 1;
    if (!names.empty()) names += ',';
    if (bit < static_cast<int>(std::size(kCapabilityNames))) {
      names += kCapabilityNames[bit];
    } else {
      names += fmt::format("bit{}", bit);
    }
  }
  return names;
}

std::vector<std::byte> encode(const Hello& hello) {
  PayloadWriter w(8 + 2 + 2 + 8 + 4 + hello.host.size() + 4 + hello.agent_version.size());
  w.u64(kHelloMagic);
  w.u16(hello.min_version);
  w.u16(hello.max_version);
  w.u64(hello.capabilities);
  w.string(hello.host);
  w.string(hello.agent_version);
  return std::move(w).take();
}

Result<Hello> decode_hello(std::span<const std::byte> payload) {
  PayloadReader r(payload, RecordType::hello);
  Hello h;
  const uint64_t magic = r.u64("magic");
  if (!r.failed() && magic != kHelloMagic) {
    r.fail(Errc::protocol, "magic",
           fmt::format("0x{:016x} is not \"FERRYMIG\": the peer is not a ferry agent", magic));
  }
  h.min_version = r.u16("min_version");
  h.max_version = r.u16("max_version");
  h.capabilities = r.u64("capabilities");
  h.host = r.string("host");
  h.agent_version = r.string("agent_version");
  return r.finish(std::move(h));
}

Result<uint16_t> negotiate_version(const Hello& ours, const Hello& theirs) {
  auto mismatch = [&](std::string_view why) {
    return Error(Errc::version_mismatch, fmt::format("protocol version: {}: ours {}, theirs {}",
                                                     why, range_text(ours), range_text(theirs)));
  };
  if (ours.min_version == 0 || ours.min_version > ours.max_version) {
    return mismatch("our range is empty");
  }
  if (theirs.min_version == 0 || theirs.min_version > theirs.max_version) {
    return mismatch("the peer's range is empty");
  }
  const uint16_t low = std::max(ours.min_version, theirs.min_version);
  const uint16_t high = std::min(ours.max_version, theirs.max_version);
  if (low > high) return mismatch("no common version");
  return high;
}

}  // namespace ferry::wire
