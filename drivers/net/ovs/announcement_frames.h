// The frames that tell switches where a MAC address lives now: RARP (what QEMU's announce-self
// sends) and gratuitous ARP. Pure: no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error/error.h"

namespace ferry::ovs {

using MacAddress = std::array<std::uint8_t, 6>;
using Frame = std::vector<std::uint8_t>;

// "52:54:00:12:34:56" (hex digits, either case). A multicast (group) address is refused: a NIC's
// own address is unicast.
Result<MacAddress> parse_mac(std::string_view text);
std::string format_mac(const MacAddress& mac);  // lower case, colon separated

// "10.0.0.5" or "10.0.0.5/24" (the prefix is checked and ignored); host byte order.
Result<std::uint32_t> parse_ipv4(std::string_view text);

// Broadcast RARP "reverse request" from `mac` about itself, padded to 60 bytes, as QEMU sends.
Frame rarp_announcement(const MacAddress& mac);
// Broadcast ARP request "who has IP? tell IP" from `mac` (sender IP = target IP): updates peers'
// ARP caches as well as switches' MAC tables.
Frame gratuitous_arp(const MacAddress& mac, std::uint32_t ip);

}  // namespace ferry::ovs
