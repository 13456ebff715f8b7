#include "engine/transport/peer_security.h"

#include <gtest/gtest.h>

#include "engine/transport/pool_certificates.h"

namespace ferry {
namespace {

TEST(PeerSecurity, LoadsAPoolIdentity) {
  auto ca = pki::create_pool_ca("pool", 30);
  ASSERT_TRUE(ca);
  auto host = pki::create_host_certificate(*ca, "hosta", {}, 30);
  ASSERT_TRUE(host);
  auto security =
      PeerSecurity::tls_from_pem(ca->certificate_pem, host->certificate_pem, host->key_pem);
  ASSERT_TRUE(security) << security.error().message();
  EXPECT_TRUE(security->uses_tls());
  EXPECT_NE(security->description().find("CN=hosta"), std::string::npos);
}

TEST(PeerSecurity, RefusesACertificateFromAnotherCaOrTheWrongKey) {
  auto ca = pki::create_pool_ca("pool", 30);
  auto other = pki::create_pool_ca("other", 30);
  ASSERT_TRUE(ca && other);
  auto foreign = pki::create_host_certificate(*other, "hostx", {}, 30);
  auto own = pki::create_host_certificate(*ca, "hosta", {}, 30);
  ASSERT_TRUE(foreign && own);
  auto wrong_ca =
      PeerSecurity::tls_from_pem(ca->certificate_pem, foreign->certificate_pem, foreign->key_pem,
                                 TlsFiles{"ca.pem", "x.pem", "x.key"});
  ASSERT_FALSE(wrong_ca);
  EXPECT_NE(wrong_ca.error().message().find("x.pem"), std::string::npos);
  auto wrong_key =
      PeerSecurity::tls_from_pem(ca->certificate_pem, own->certificate_pem, foreign->key_pem);
  ASSERT_FALSE(wrong_key);
  EXPECT_NE(wrong_key.error().message().find("not the key of"), std::string::npos);
  auto not_a_ca =
      PeerSecurity::tls_from_pem(own->certificate_pem, own->certificate_pem, own->key_pem);
  ASSERT_FALSE(not_a_ca);
}

TEST(PeerSecurity, NeedsTlsFilesOrAnExplicitInsecure) {
  auto neither = PeerSecurity::configure({}, false);
  ASSERT_FALSE(neither);
  EXPECT_NE(neither.error().message().find("--insecure"), std::string::npos);
  auto both = PeerSecurity::configure({"a", "b", "c"}, true);
  ASSERT_FALSE(both);
  auto partial = PeerSecurity::configure({"ca.pem", "", ""}, false);
  ASSERT_FALSE(partial);
  EXPECT_NE(partial.error().message().find("--tls-key"), std::string::npos);
  auto missing = PeerSecurity::configure({"/nonexistent/ca.pem", "c", "k"}, false);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/nonexistent/ca.pem"), std::string::npos);
  auto plain = PeerSecurity::configure({}, true);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->uses_tls());
}

TEST(PeerSecurity, NothingInstalledMeansNoConnections) {
  asio::io_context io;
  auto none = installed_peer_security(io);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::internal);
  install_peer_security(io, PeerSecurity::insecure());
  auto installed = installed_peer_security(io);
  ASSERT_TRUE(installed);
  EXPECT_FALSE(installed->uses_tls());
}

}  // namespace
}  // namespace ferry
