// The pool's certificates, made with OpenSSL: one CA per pool, and per host a key and a
// certificate the CA signs (usable as TLS client and server, SAN = the host's name and IPs).
// Pure: PEM text in and out; writing files is the caller's business.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/error/error.h"

namespace ferry::pki {

struct KeyAndCertificate {
  std::string key_pem;          // PKCS#8 private key (ECDSA P-256)
  std::string certificate_pem;  // X.509 v3
};

// A self-signed CA certificate "CN=<pool_name>" valid for `days`.
Result<KeyAndCertificate> create_pool_ca(std::string_view pool_name, int days);

// A host certificate signed by `ca`: CN = host_name, SAN = DNS:host_name plus IP:ip for each of
// `ips` (IPv4 or IPv6 text), extended key usage serverAuth + clientAuth.
Result<KeyAndCertificate> create_host_certificate(const KeyAndCertificate& ca,
                                                  std::string_view host_name,
                                                  const std::vector<std::string>& ips, int days);

// Whether `name` can be a host name in a certificate (letters, digits, '-', '.', '_').
bool is_valid_host_name(std::string_view name);

}  // namespace ferry::pki
