#include "drivers/net/ovs/ovsdb_remote.h"

#include <gtest/gtest.h>

namespace ferry::ovs {
namespace {

TEST(OvsdbRemote, ParsesUnixSocketsAndBarePaths) {
  auto remote = parse_ovsdb_remote("unix:/run/openvswitch/db.sock");
  ASSERT_TRUE(remote.ok());
  EXPECT_EQ(remote->kind, OvsdbRemote::Kind::unix_socket);
  EXPECT_EQ(remote->path, "/run/openvswitch/db.sock");
  EXPECT_EQ(remote->to_string(), "unix:/run/openvswitch/db.sock");

  auto bare = parse_ovsdb_remote("/tmp/x/db.sock");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->to_string(), "unix:/tmp/x/db.sock");
}

TEST(OvsdbRemote, ParsesTcpWithIpv4NamesAndBracketedIpv6) {
  auto v4 = parse_ovsdb_remote("tcp:127.0.0.1:6640");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->kind, OvsdbRemote::Kind::tcp);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 6640);
  EXPECT_EQ(v4->to_string(), "tcp:127.0.0.1:6640");

  auto v6 = parse_ovsdb_remote("tcp:[::1]:6641");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6641);
  EXPECT_EQ(v6->to_string(), "tcp:[::1]:6641");

  EXPECT_EQ(parse_ovsdb_remote("tcp:localhost:1")->host, "localhost");
}

TEST(OvsdbRemote, RejectsMalformedRemotesWithTheReason) {
  for (const char* bad :
       {"", "db.sock", "ssl:1.2.3.4:6640", "unix:", "tcp:1.2.3.4", "tcp::6640", "tcp:1.2.3.4:0",
        "tcp:1.2.3.4:65536", "tcp:1.2.3.4:66x", "tcp:::1:6640", "tcp:[::1", "tcp:[::1]6640"}) {
    auto remote = parse_ovsdb_remote(bad);
    ASSERT_FALSE(remote.ok()) << bad;
    EXPECT_EQ(remote.error().code(), Errc::invalid_argument);
    EXPECT_NE(remote.error().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << remote.error().message();
  }
  EXPECT_FALSE(parse_ovsdb_remote("unix:/" + std::string(200, 'x')).ok());
}

}  // namespace
}  // namespace ferry::ovs
