// Where an agent's pool identity lives on disk: the pool CA and this host's certificate and key
// (PEM). Kept free of OpenSSL so configuration code can name them without including it.
#pragma once

#include <string>

namespace ferry {

struct TlsFiles {
  std::string ca;    // the pool CA certificate: the only issuer a peer may present
  std::string cert;  // this host's certificate, signed by the pool CA
  std::string key;   // this host's private key

  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
};

}  // namespace ferry
