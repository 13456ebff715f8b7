// The simulated guest's NIC answers (engine/vm/sim/echo_responder.h).
#include "engine/vm/sim/echo_responder.h"

#include <gtest/gtest.h>

namespace ferry::sim {
namespace {

const MacAddress kGuestMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const MacAddress kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const MacAddress kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr std::uint32_t kGuestIp = 0x0a58000a;  // 10.88.0.10
constexpr std::uint32_t kPeerIp = 0x0a580002;   // 10.88.0.2

NicAddress guest() {
  return NicAddress{kGuestMac, kGuestIp, 24};
}

void put16(Frame& f, std::uint16_t v) {
  f.push_back(static_cast<std::uint8_t>(v >> 8));
  f.push_back(static_cast<std::uint8_t>(v));
}
void put32(Frame& f, std::uint32_t v) {
  put16(f, static_cast<std::uint16_t>(v >> 16));
  put16(f, static_cast<std::uint16_t>(v));
}
void put_mac(Frame& f, const MacAddress& m) {
  f.insert(f.end(), m.begin(), m.end());
}
std::uint16_t get16(const Frame& f, std::size_t at) {
  return static_cast<std::uint16_t>(f.at(at) << 8 | f.at(at + 1));
}
std::uint32_t get32(const Frame& f, std::size_t at) {
  return std::uint32_t{get16(f, at)} << 16 | get16(f, at + 2);
}
MacAddress mac_at(const Frame& f, std::size_t at) {
  MacAddress m;
  std::copy(f.begin() + static_cast<std::ptrdiff_t>(at),
            f.begin() + static_cast<std::ptrdiff_t>(at + 6), m.begin());
  return m;
}

Frame arp_request(std::uint32_t sender_ip, std::uint32_t target_ip,
                  const MacAddress& destination = kBroadcast) {
  Frame f;
  put_mac(f, destination);
  put_mac(f, kPeerMac);
  put16(f, 0x0806);
  put16(f, 1);
  put16(f, 0x0800);
  f.push_back(6);
  f.push_back(4);
  put16(f, 1);
  put_mac(f, kPeerMac);
  put32(f, sender_ip);
  put_mac(f, MacAddress{});
  put32(f, target_ip);
  f.resize(60, 0);
  return f;
}

// An IPv4 packet from the peer to `destination_ip` with a valid header checksum.
Frame ipv4(std::uint8_t protocol, const Frame& payload, std::uint32_t destination_ip = kGuestIp,
           std::uint16_t fragment = 0x4000) {
  Frame f;
  put_mac(f, kGuestMac);
  put_mac(f, kPeerMac);
  put16(f, 0x0800);
  Frame header;
  header.push_back(0x45);
  header.push_back(0);
  put16(header, static_cast<std::uint16_t>(20 + payload.size()));
  put16(header, 0x1234);
  put16(header, fragment);
  header.push_back(64);
  header.push_back(protocol);
  put16(header, 0);
  put32(header, kPeerIp);
  put32(header, destination_ip);
  const std::uint16_t checksum = internet_checksum(header);
  header[10] = static_cast<std::uint8_t>(checksum >> 8);
  header[11] = static_cast<std::uint8_t>(checksum);
  f.insert(f.end(), header.begin(), header.end());
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

Frame icmp_echo(std::uint16_t id, std::uint16_t sequence, const std::string& data) {
  Frame icmp{8, 0, 0, 0};
  put16(icmp, id);
  put16(icmp, sequence);
  icmp.insert(icmp.end(), data.begin(), data.end());
  const std::uint16_t checksum = internet_checksum(icmp);
  icmp[2] = static_cast<std::uint8_t>(checksum >> 8);
  icmp[3] = static_cast<std::uint8_t>(checksum);
  return icmp;
}

Frame udp(std::uint16_t source_port, std::uint16_t destination_port, const std::string& data) {
  Frame u;
  put16(u, source_port);
  put16(u, destination_port);
  put16(u, static_cast<std::uint16_t>(8 + data.size()));
  put16(u, 0);  // no checksum: allowed for IPv4, and the guest does not check it
  u.insert(u.end(), data.begin(), data.end());
  return u;
}

// The reply is an IPv4 packet from the guest back to the peer with a valid header.
void expect_ipv4_reply(const Frame& reply, std::uint8_t protocol) {
  ASSERT_GE(reply.size(), 34u);
  EXPECT_EQ(mac_at(reply, 0), kPeerMac);
  EXPECT_EQ(mac_at(reply, 6), kGuestMac);
  EXPECT_EQ(get16(reply, 12), 0x0800);
  EXPECT_EQ(reply[14], 0x45);
  EXPECT_EQ(reply[23], protocol);
  EXPECT_EQ(get32(reply, 26), kGuestIp);
  EXPECT_EQ(get32(reply, 30), kPeerIp);
  EXPECT_EQ(internet_checksum(std::span(reply).subspan(14, 20)), 0) << "IP header checksum";
}

TEST(EchoResponderTest, ChecksumMatchesRfc1071Example) {
  const Frame data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internet_checksum(data), static_cast<std::uint16_t>(~0xddf2));
  const Frame odd{0x01};
  EXPECT_EQ(internet_checksum(odd), static_cast<std::uint16_t>(~0x0100));
}

TEST(EchoResponderTest, AnswersArpRequestsForItsAddressOnly) {
  auto answer = answer_frame(arp_request(kPeerIp, kGuestIp), guest());
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->kind, EchoKind::arp);
  const Frame& reply = answer->frame;
  ASSERT_EQ(reply.size(), 60u);
  EXPECT_EQ(mac_at(reply, 0), kPeerMac);
  EXPECT_EQ(mac_at(reply, 6), kGuestMac);
  EXPECT_EQ(get16(reply, 12), 0x0806);
  EXPECT_EQ(get16(reply, 20), 2);  // reply
  EXPECT_EQ(mac_at(reply, 22), kGuestMac);
  EXPECT_EQ(get32(reply, 28), kGuestIp);
  EXPECT_EQ(mac_at(reply, 32), kPeerMac);
  EXPECT_EQ(get32(reply, 38), kPeerIp);

  EXPECT_FALSE(answer_frame(arp_request(kPeerIp, kGuestIp + 1), guest()).has_value());
  // A gratuitous ARP for our own address (another host announcing it) gets no answer.
  EXPECT_FALSE(answer_frame(arp_request(kGuestIp, kGuestIp), guest()).has_value());
  // Unicast ARP to another MAC is not ours to answer.
  EXPECT_FALSE(answer_frame(arp_request(kPeerIp, kGuestIp, kPeerMac), guest()).has_value());
}

TEST(EchoResponderTest, AnswersPingWithTheSamePayload) {
  const Frame request = ipv4(1, icmp_echo(0x4242, 7, "ferry ping payload"));
  auto answer = answer_frame(request, guest());
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->kind, EchoKind::icmp);
  const Frame& reply = answer->frame;
  expect_ipv4_reply(reply, 1);
  const std::size_t icmp_length = get16(reply, 16) - 20u;
  const auto icmp = std::span(reply).subspan(34, icmp_length);
  EXPECT_EQ(icmp[0], 0);  // echo reply
  EXPECT_EQ(internet_checksum(icmp), 0) << "ICMP checksum";
  EXPECT_EQ(Frame(icmp.begin() + 4, icmp.end()),
            Frame(request.begin() + 34 + 4, request.end()));  // id, sequence, data
}

TEST(EchoResponderTest, AnswersUdpEchoOnPort7WithAValidChecksum) {
  const Frame request = ipv4(17, udp(40000, 7, "seq 1"));
  auto answer = answer_frame(request, guest());
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->kind, EchoKind::udp);
  const Frame& reply = answer->frame;
  expect_ipv4_reply(reply, 17);
  EXPECT_EQ(reply.size(), 60u);  // 14 + 20 + 13, padded to the Ethernet minimum
  EXPECT_EQ(get16(reply, 34), 7);
  EXPECT_EQ(get16(reply, 36), 40000);
  const std::uint16_t length = get16(reply, 38);
  ASSERT_EQ(length, 13);
  EXPECT_EQ(std::string(reply.begin() + 42, reply.begin() + 42 + 5), "seq 1");
  EXPECT_NE(get16(reply, 40), 0);
  const std::uint32_t pseudo =
      (kGuestIp >> 16) + (kGuestIp & 0xffff) + (kPeerIp >> 16) + (kPeerIp & 0xffff) + 17 + length;
  EXPECT_EQ(internet_checksum(std::span(reply).subspan(34, length), pseudo), 0) << "UDP checksum";
}

TEST(EchoResponderTest, IgnoresWhatIsNotForItOrMalformed) {
  const NicAddress nic = guest();
  EXPECT_FALSE(answer_frame(ipv4(17, udp(40000, 9, "discard")), nic).has_value());
  EXPECT_FALSE(answer_frame(ipv4(17, udp(40000, 7, "x"), kGuestIp + 1), nic).has_value());
  EXPECT_FALSE(answer_frame(ipv4(6, Frame(20, 0)), nic).has_value());  // TCP
  EXPECT_FALSE(answer_frame(ipv4(17, udp(40000, 7, "x"), kGuestIp, 0x2000), nic).has_value())
      << "first fragment";
  EXPECT_FALSE(answer_frame(ipv4(17, udp(40000, 7, "x"), kGuestIp, 0x0001), nic).has_value())
      << "later fragment";

  Frame bad_checksum = ipv4(1, icmp_echo(1, 1, "x"));
  bad_checksum[24] ^= 0xff;
  EXPECT_FALSE(answer_frame(bad_checksum, nic).has_value());

  Frame other_mac = ipv4(1, icmp_echo(1, 1, "x"));
  other_mac[5] ^= 1;
  EXPECT_FALSE(answer_frame(other_mac, nic).has_value());

  Frame from_self = arp_request(kPeerIp, kGuestIp);
  std::copy(kGuestMac.begin(), kGuestMac.end(), from_self.begin() + 6);
  EXPECT_FALSE(answer_frame(from_self, nic).has_value()) << "our own frame looped back";

  // Every truncation of valid requests is either ignored or answered, never read out of bounds
  // (the sanitizer build checks the "never").
  for (const Frame& full : {ipv4(1, icmp_echo(1, 1, "data")), ipv4(17, udp(1, 7, "data")),
                            arp_request(kPeerIp, kGuestIp)}) {
    for (std::size_t length = 0; length < full.size(); ++length) {
      (void)answer_frame(std::span(full.data(), length), nic);
    }
  }
}

TEST(EchoResponderTest, ParsesTheNicAddress) {
  auto nic = parse_nic_address("52:54:00:12:34:56", "10.88.0.10/24");
  ASSERT_TRUE(nic.ok()) << nic.error().message();
  EXPECT_EQ(nic->mac, kGuestMac);
  EXPECT_EQ(nic->ip, kGuestIp);
  EXPECT_EQ(nic->prefix_length, 24);
  EXPECT_EQ(parse_nic_address("52:54:00:12:34:56", "10.88.0.10")->prefix_length, 32);
  EXPECT_FALSE(parse_nic_address("52:54:00:12:34", "10.88.0.10").ok());
  EXPECT_FALSE(parse_nic_address("ff:ff:ff:ff:ff:ff", "10.88.0.10").ok());
  EXPECT_FALSE(parse_nic_address("52:54:00:12:34:56", "10.88.0.10/40").ok());
  EXPECT_FALSE(parse_nic_address("52:54:00:12:34:56", "10.88.0").ok());
}

}  // namespace
}  // namespace ferry::sim
