#include "engine/transport/pool_certificates.h"

#include <gtest/gtest.h>

namespace ferry::pki {
namespace {

TEST(PoolCertificates, MakesPemKeysAndCertificates) {
  auto ca = create_pool_ca("ferry pool test", 30);
  ASSERT_TRUE(ca) << ca.error().message();
  EXPECT_NE(ca->certificate_pem.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_NE(ca->key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto host = create_host_certificate(*ca, "hosta", {"10.0.0.1", "::1"}, 30);
  ASSERT_TRUE(host) << host.error().message();
  EXPECT_NE(host->certificate_pem, ca->certificate_pem);
}

TEST(PoolCertificates, RefusesBadNamesAddressesAndKeys) {
  auto ca = create_pool_ca("pool", 30);
  ASSERT_TRUE(ca);
  auto bad_name = create_host_certificate(*ca, "host,IP:1.2.3.4", {}, 30);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code(), Errc::invalid_argument);
  auto bad_ip = create_host_certificate(*ca, "hosta", {"10.0.0.300"}, 30);
  ASSERT_FALSE(bad_ip);
  EXPECT_NE(bad_ip.error().message().find("10.0.0.300"), std::string::npos);
  auto other = create_pool_ca("other", 30);
  ASSERT_TRUE(other);
  KeyAndCertificate mixed{other->key_pem, ca->certificate_pem};
  auto mismatched = create_host_certificate(mixed, "hosta", {}, 30);
  ASSERT_FALSE(mismatched);
  EXPECT_NE(mismatched.error().message().find("does not match"), std::string::npos);
}

}  // namespace
}  // namespace ferry::pki
