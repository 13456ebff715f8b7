#include "drivers/net/ovs/announcement_frames.h"

#include <gtest/gtest.h>

namespace ferry::ovs {
namespace {

const MacAddress kMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(AnnouncementFramesTest, ParsesAndFormatsMacAddresses) {
  auto mac = parse_mac("52:54:00:12:34:56");
  ASSERT_TRUE(mac.ok()) << mac.error().message();
  EXPECT_EQ(*mac, kMac);
  auto upper = parse_mac("52:54:00:AB:cd:EF");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(format_mac(*upper), "52:54:00:ab:cd:ef");
  for (const char* bad : {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56",
                          "52:54:00:12:34:5g", "5254:00:12:34:56:", " 52:54:00:12:34:5"}) {
    auto parsed = parse_mac(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code(), Errc::invalid_argument);
    EXPECT_NE(parsed.error().message().find(bad), std::string::npos);
  }
  auto multicast = parse_mac("01:00:5e:00:00:01");
  ASSERT_FALSE(multicast.ok());
  EXPECT_NE(multicast.error().message().find("multicast"), std::string::npos);
}

TEST(AnnouncementFramesTest, ParsesIpv4WithOrWithoutPrefix) {
  EXPECT_EQ(*parse_ipv4("10.0.0.5"), 0x0a000005u);
  EXPECT_EQ(*parse_ipv4("10.88.0.10/24"), 0x0a58000au);
  EXPECT_EQ(*parse_ipv4("255.255.255.255/32"), 0xffffffffu);
  for (const char* bad : {"", "10.0.0", "10.0.0.5.1", "256.0.0.1", "10.0.0.5/33", "10.0.0.5/",
                          "10.0.0.5x", "a.b.c.d", "10..0.5", "1000.0.0.1"}) {
    EXPECT_FALSE(parse_ipv4(bad).ok()) << bad;
  }
}

TEST(AnnouncementFramesTest, RarpIsWhatQemuAnnounceSelfSends) {
  // QEMU's announce_self_create(): broadcast, ethertype 0x8035, Ethernet/IPv4, op 3 (reverse
  // request), sender and target hardware address = the NIC's, addresses 0, zero padded to 60.
  const Frame expected = {
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet
      0x80, 0x35,                                                              // RARP
      0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x03,                          // op 3
      0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00, 0x00, 0x00,              // sender
      0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00, 0x00, 0x00,              // target
      0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0};
  EXPECT_EQ(rarp_announcement(kMac), expected);
}

TEST(AnnouncementFramesTest, GratuitousArpNamesTheAddressAsSenderAndTarget) {
  const Frame frame = gratuitous_arp(kMac, 0x0a58000a);
  ASSERT_EQ(frame.size(), 60u);
  EXPECT_EQ(Frame(frame.begin(), frame.begin() + 6), Frame(6, 0xff));
  EXPECT_EQ(Frame(frame.begin() + 6, frame.begin() + 12), Frame(kMac.begin(), kMac.end()));
  EXPECT_EQ(frame[12], 0x08);
  EXPECT_EQ(frame[13], 0x06);
  EXPECT_EQ(frame[20], 0x00);
  EXPECT_EQ(frame[21], 0x01);  // request
  EXPECT_EQ(Frame(frame.begin() + 22, frame.begin() + 28), Frame(kMac.begin(), kMac.end()));
  const Frame ip = {0x0a, 0x58, 0x00, 0x0a};
  EXPECT_EQ(Frame(frame.begin() + 28, frame.begin() + 32), ip);
  EXPECT_EQ(Frame(frame.begin() + 32, frame.begin() + 38), Frame(6, 0));
  EXPECT_EQ(Frame(frame.begin() + 38, frame.begin() + 42), ip);
}

}  // namespace
}  // namespace ferry::ovs
