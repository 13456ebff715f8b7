// What the simulated guest's network stack answers: ARP requests for its address, ICMP echo
// requests and UDP echo (port 7) sent to it. Pure frame parsing and building: no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/error/error.h"

namespace ferry::sim {

using MacAddress = std::array<std::uint8_t, 6>;
using Frame = std::vector<std::uint8_t>;

struct NicAddress {
  MacAddress mac{};
  std::uint32_t ip = 0;  // host byte order
  int prefix_length = 32;
};

// "52:54:00:12:34:56"; a multicast address is refused.
Result<MacAddress> parse_mac(std::string_view text);
// `ip` is "10.0.0.5/24" or "10.0.0.5" (prefix 32).
Result<NicAddress> parse_nic_address(std::string_view mac, std::string_view ip);

enum class EchoKind { arp, icmp, udp };

struct EchoAnswer {
  EchoKind kind;
  Frame frame;
};

// The answer to one Ethernet frame received by the NIC, or nullopt for a frame the guest ignores
// (not for it, malformed, fragmented, or a protocol it does not answer).
std::optional<EchoAnswer> answer_frame(std::span<const std::uint8_t> frame, const NicAddress& nic);

// RFC 1071 ones' complement sum, folded and complemented; `sum` carries a pseudo-header.
std::uint16_t internet_checksum(std::span<const std::uint8_t> data, std::uint32_t sum = 0);

}  // namespace ferry::sim
