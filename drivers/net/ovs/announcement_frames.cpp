#include "drivers/net/ovs/announcement_frames.h"

#include <charconv>

#include <fmt/format.h>

namespace ferry::ovs {
namespace {

constexpr std::size_t kMinFrame = 60;  // Ethernet minimum without the FCS
constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint16_t kEtherTypeRarp = 0x8035;
constexpr std::uint16_t kArpRequest = 1;
constexpr std::uint16_t kRarpRequestReverse = 3;

void put16(Frame& frame, std::uint16_t value) {
  frame.push_back(static_cast<std::uint8_t>(value >> 8));
  frame.push_back(static_cast<std::uint8_t>(value));
}

void put32(Frame& frame, std::uint32_t value) {
  put16(frame, static_cast<std::uint16_t>(value >> 16));
  put16(frame, static_cast<std::uint16_t>(value));
}

void put_mac(Frame& frame, const MacAddress& mac) {
  frame.insert(frame.end(), mac.begin(), mac.end());
}

// Ethernet broadcast header plus an ARP-format body (RARP shares ARP's layout).
Frame arp_format(std::uint16_t ether_type, std::uint16_t operation, const MacAddress& sender_mac,
                 std::uint32_t sender_ip, const MacAddress& target_mac, std::uint32_t target_ip) {
  Frame frame;
  frame.reserve(kMinFrame);
  put_mac(frame, MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  put_mac(frame, sender_mac);
  put16(frame, ether_type);
  put16(frame, 1);       // hardware type: Ethernet
  put16(frame, 0x0800);  // protocol type: IPv4
  frame.push_back(6);
  frame.push_back(4);
  put16(frame, operation);
  put_mac(frame, sender_mac);
  put32(frame, sender_ip);
  put_mac(frame, target_mac);
  put32(frame, target_ip);
  frame.resize(kMinFrame, 0);
  return frame;
}

Error bad_mac(std::string_view text) {
  return Error(Errc::invalid_argument,
               fmt::format("MAC address \"{}\" is not six hex bytes like 52:54:00:12:34:56", text));
}

}  // namespace

Result<MacAddress> parse_mac(std::string_view text) {
  MacAddress mac{};
  if (text.size() != 17) return bad_mac(text);
  for (std::size_t i = 0; i < mac.size(); ++i) {
    const char* begin = text.data() + i * 3;
    if (i > 0 && begin[-1] != ':') return bad_mac(text);
    unsigned value = 0;
    auto [end, error] = std::from_chars(begin, begin + 2, value, 16);
    if (error != std::errc() || end != begin + 2) return bad_mac(text);
    mac[i] = static_cast<std::uint8_t>(value);
  }
  if (mac[0] & 1) {
    return Error(Errc::invalid_argument,
                 fmt::format("MAC address {} is a multicast address, not a NIC's", text));
  }
  return mac;
}

std::string format_mac(const MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

Result<std::uint32_t> parse_ipv4(std::string_view text) {
  const auto bad = [&] {
    return Error(Errc::invalid_argument,
                 fmt::format("IPv4 address \"{}\" is not like 10.0.0.5 or 10.0.0.5/24", text));
  };
  std::string_view address = text;
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    const std::string_view prefix = text.substr(slash + 1);
    unsigned length = 0;
    auto [end, error] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), length);
    if (prefix.empty() || error != std::errc() || end != prefix.data() + prefix.size() ||
        length > 32) {
      return bad();
    }
  }
  std::uint32_t ip = 0;
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
    ip = (ip << 8) | value;
    cursor = end;
  }
  if (cursor != last) return bad();
  return ip;
}

Frame rarp_announcement(const MacAddress& mac) {
  return arp_format(kEtherTypeRarp, kRarpRequestReverse, mac, 0, mac, 0);
}

Frame gratuitous_arp(const MacAddress& mac, std::uint32_t ip) {
  return arp_format(kEtherTypeArp, kArpRequest, mac, ip, MacAddress{}, ip);
}

}  // namespace ferry::ovs
