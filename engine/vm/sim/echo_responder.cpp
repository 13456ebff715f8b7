#include "engine/vm/sim/echo_responder.h"

#include <charconv>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace ferry::sim {
namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kMinFrame = 60;
constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint8_t kProtocolIcmp = 1;
constexpr std::uint8_t kProtocolUdp = 17;
constexpr std::uint16_t kUdpEchoPort = 7;
constexpr std::uint8_t kReplyTtl = 64;

std::uint16_t get16(std::span<const std::uint8_t> data, std::size_t at) {
  return static_cast<std::uint16_t>(data[at] << 8 | data[at + 1]);
}

std::uint32_t get32(std::span<const std::uint8_t> data, std::size_t at) {
  return std::uint32_t{get16(data, at)} << 16 | get16(data, at + 2);
}

void set16(Frame& frame, std::size_t at, std::uint16_t value) {
  frame[at] = static_cast<std::uint8_t>(value >> 8);
  frame[at + 1] = static_cast<std::uint8_t>(value);
}

void set32(Frame& frame, std::size_t at, std::uint32_t value) {
  set16(frame, at, static_cast<std::uint16_t>(value >> 16));
  set16(frame, at + 2, static_cast<std::uint16_t>(value));
}

MacAddress mac_at(std::span<const std::uint8_t> data, std::size_t at) {
  MacAddress mac;
  std::memcpy(mac.data(), data.data() + at, mac.size());
  return mac;
}

void set_mac(Frame& frame, std::size_t at, const MacAddress& mac) {
  std::memcpy(frame.data() + at, mac.data(), mac.size());
}

// An Ethernet header from us to `destination`.
Frame ethernet_to(const MacAddress& destination, const MacAddress& source, std::uint16_t type,
                  std::size_t payload) {
  Frame frame(kEthernetHeader + payload, 0);
  set_mac(frame, 0, destination);
  set_mac(frame, 6, source);
  set16(frame, 12, type);
  return frame;
}

std::optional<EchoAnswer> answer_arp(std::span<const std::uint8_t> frame, const NicAddress& nic) {
  const std::size_t a = kEthernetHeader;
  if (frame.size() < a + 28) return std::nullopt;
  if (get16(frame, a) != 1 || get16(frame, a + 2) != kEtherTypeIpv4 || frame[a + 4] != 6 ||
      frame[a + 5] != 4 || get16(frame, a + 6) != 1 /* request */) {
    return std::nullopt;
  }
  const MacAddress sender_mac = mac_at(frame, a + 8);
  const std::uint32_t sender_ip = get32(frame, a + 14);
  if (get32(frame, a + 24) != nic.ip || sender_ip == nic.ip) return std::nullopt;  // not a GARP
  Frame reply = ethernet_to(sender_mac, nic.mac, kEtherTypeArp, 28);
  set16(reply, a, 1);
  set16(reply, a + 2, kEtherTypeIpv4);
  reply[a + 4] = 6;
  reply[a + 5] = 4;
  set16(reply, a + 6, 2);  // reply
  set_mac(reply, a + 8, nic.mac);
  set32(reply, a + 14, nic.ip);
  set_mac(reply, a + 18, sender_mac);
  set32(reply, a + 24, sender_ip);
  reply.resize(kMinFrame, 0);
  return EchoAnswer{EchoKind::arp, std::move(reply)};
}

// An IPv4 reply carrying `payload` back to the sender of the request at `ip_at`.
Frame ipv4_reply(std::span<const std::uint8_t> request, std::size_t ip_at, std::uint8_t protocol,
                 std::span<const std::uint8_t> payload, const NicAddress& nic) {
  constexpr std::size_t kHeader = 20;
  Frame reply = ethernet_to(mac_at(request, 6), nic.mac, kEtherTypeIpv4, kHeader + payload.size());
  const std::size_t i = kEthernetHeader;
  reply[i] = 0x45;
  reply[i + 1] = request[ip_at + 1];  // keep the DSCP the peer chose
  set16(reply, i + 2, static_cast<std::uint16_t>(kHeader + payload.size()));
  set16(reply, i + 4, get16(request, ip_at + 4));  // identification: echo it, like Linux
  set16(reply, i + 6, 0x4000);                     // don't fragment
  reply[i + 8] = kReplyTtl;
  reply[i + 9] = protocol;
  set32(reply, i + 12, nic.ip);
  set32(reply, i + 16, get32(request, ip_at + 12));
  set16(reply, i + 10, internet_checksum(std::span(reply).subspan(i, kHeader)));
  std::memcpy(reply.data() + i + kHeader, payload.data(), payload.size());
  if (reply.size() < kMinFrame) reply.resize(kMinFrame, 0);
  return reply;
}

std::optional<EchoAnswer> answer_ipv4(std::span<const std::uint8_t> frame, const NicAddress& nic) {
  const std::size_t i = kEthernetHeader;
  if (frame.size() < i + 20 || frame[i] >> 4 != 4) return std::nullopt;
  const std::size_t header = std::size_t{frame[i] & 0x0fu} * 4;
  const std::size_t total = get16(frame, i + 2);
  if (header < 20 || total < header || i + total > frame.size()) return std::nullopt;
  if (internet_checksum(frame.subspan(i, header)) != 0) return std::nullopt;
  if ((get16(frame, i + 6) & 0x3fff) != 0) return std::nullopt;  // a fragment
  if (get32(frame, i + 16) != nic.ip) return std::nullopt;
  const auto payload = frame.subspan(i + header, total - header);
  const std::uint8_t protocol = frame[i + 9];

  if (protocol == kProtocolIcmp) {
    if (payload.size() < 8 || payload[0] != 8 /* echo request */ || payload[1] != 0) {
      return std::nullopt;
    }
    Frame icmp(payload.begin(), payload.end());
    icmp[0] = 0;  // echo reply
    set16(icmp, 2, 0);
    set16(icmp, 2, internet_checksum(icmp));
    return EchoAnswer{EchoKind::icmp, ipv4_reply(frame, i, kProtocolIcmp, icmp, nic)};
  }
  if (protocol == kProtocolUdp) {
    if (payload.size() < 8 || get16(payload, 2) != kUdpEchoPort) return std::nullopt;
    const std::size_t length = get16(payload, 4);
    if (length < 8 || length > payload.size()) return std::nullopt;
    Frame udp(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(length));
    set16(udp, 0, kUdpEchoPort);
    set16(udp, 2, get16(payload, 0));
    set16(udp, 6, 0);
    const std::uint32_t peer = get32(frame, i + 12);
    const std::uint32_t pseudo = (nic.ip >> 16) + (nic.ip & 0xffff) + (peer >> 16) +
                                 (peer & 0xffff) + kProtocolUdp +
                                 static_cast<std::uint32_t>(length);
    std::uint16_t checksum = internet_checksum(udp, pseudo);
    set16(udp, 6, checksum == 0 ? 0xffff : checksum);  // 0 would mean "no checksum"
    return EchoAnswer{EchoKind::udp, ipv4_reply(frame, i, kProtocolUdp, udp, nic)};
  }
  return std::nullopt;
}

Error bad_mac(std::string_view text) {
  return Error(Errc::invalid_argument,
               fmt::format("MAC address \"{}\" is not six hex bytes like 52:54:00:12:34:56", text));
}

}  // namespace

std::uint16_t internet_checksum(std::span<const std::uint8_t> data, std::uint32_t sum) {
  std::uint64_t total = sum;
  for (std::size_t at = 0; at + 1 < data.size(); at += 2) total += get16(data, at);
  if (data.size() % 2 != 0) total += std::uint32_t{data.back()} << 8;
  while (total >> 16) total = (total & 0xffff) + (total >> 16);
  return static_cast<std::uint16_t>(~total & 0xffff);
}

Result<MacAddress> parse_mac(std::string_view text) {
  MacAddress mac{};
  if (text.size() != 17) return bad_mac(text);
  for (std::size_t byte = 0; byte < mac.size(); ++byte) {
    const char* begin = text.data() + byte * 3;
    if (byte > 0 && begin[-1] != ':') return bad_mac(text);
    unsigned value = 0;
    auto [end, error] = std::from_chars(begin, begin + 2, value, 16);
    if (error != std::errc() || end != begin + 2) return bad_mac(text);
    mac[byte] = static_cast<std::uint8_t>(value);
  }
  if (mac[0] & 1) {
    return Error(Errc::invalid_argument,
                 fmt::format("MAC address {} is a multicast address, not a NIC's", text));
  }
  return mac;
}

Result<NicAddress> parse_nic_address(std::string_view mac, std::string_view ip) {
  NicAddress nic;
  auto parsed_mac = parse_mac(mac);
  if (!parsed_mac) return std::move(parsed_mac).error();
  nic.mac = *parsed_mac;
  const auto bad = [&] {
    return Error(Errc::invalid_argument,
                 fmt::format("IPv4 address \"{}\" is not like 10.0.0.5/24", ip));
  };
  std::string_view address = ip;
  if (const auto slash = ip.find('/'); slash != std::string_view::npos) {
    address = ip.substr(0, slash);
    const std::string_view prefix = ip.substr(slash + 1);
    auto [end, error] =
        std::from_chars(prefix.data(), prefix.data() + prefix.size(), nic.prefix_length);
    if (prefix.empty() || error != std::errc() || end != prefix.data() + prefix.size() ||
        nic.prefix_length < 0 || nic.prefix_length > 32) {
      return bad();
    }
  }
  const char* cursor = address.data();
  const char* const last = address.data() + address.size();
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (cursor == last || *cursor != '.') return bad();
      ++cursor;
    }
    unsigned value = 0;
    auto [end, error] = std::from_chars(cursor, last, value);
    if (error != std::errc() || end == cursor || end - cursor > 3 || value > 255) return bad();
    nic.ip = (nic.ip << 8) | value;
    cursor = end;
  }
  if (cursor != last) return bad();
  return nic;
}

std::optional<EchoAnswer> answer_frame(std::span<const std::uint8_t> frame, const NicAddress& nic) {
  if (frame.size() < kEthernetHeader) return std::nullopt;
  const MacAddress destination = mac_at(frame, 0);
  const bool broadcast = destination == MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if (destination != nic.mac && !broadcast) return std::nullopt;
  if (mac_at(frame, 6) == nic.mac) return std::nullopt;  // our own frame looped back
  switch (get16(frame, 12)) {
    case kEtherTypeArp:
      return answer_arp(frame, nic);
    case kEtherTypeIpv4:
      if (broadcast) return std::nullopt;
      return answer_ipv4(frame, nic);
    default:
      return std::nullopt;
  }
}

}  // namespace ferry::sim
