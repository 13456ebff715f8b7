// How an agent talks to other agents: mutual TLS with its pool identity (the pool CA is the only
// issuer it trusts, in both directions), or plain TCP when the operator explicitly said
// --insecure. Plain TCP is never a default: an agent with neither refuses to start, and an
// io_context with no PeerSecurity installed refuses to connect to peers.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/error/error.h"
#include "engine/transport/asio.h"
#include "engine/transport/tls_files.h"

namespace boost::asio::ssl {
class context;
}

namespace ferry {

class PeerSecurity {
 public:
  // Plain TCP: any host that reaches the listen address can send or receive migrations.
  static PeerSecurity insecure();
  // Mutual TLS (1.2 minimum, 1.3 preferred) from PEM text: peers must present a certificate the
  // pool CA signed. Fails when the key does not match the certificate or the certificate is not
  // the pool CA's. `origin` names where the PEM came from in errors.
  static Result<PeerSecurity> tls_from_pem(std::string_view ca_pem, std::string_view cert_pem,
                                           std::string_view key_pem, const TlsFiles& origin = {});
  static Result<PeerSecurity> tls_from_files(const TlsFiles& files);
  // The agent's choice: all three TLS files, or `insecure`; anything else is refused with a
  // message that says what to configure.
  static Result<PeerSecurity> configure(const TlsFiles& files, bool insecure);

  bool uses_tls() const { return tls_ != nullptr; }
  // Shared by every connection made with it; null for plain TCP.
  const std::shared_ptr<asio::ssl::context>& tls_context() const { return tls_; }
  // For logs and --check-config: "mutual TLS, pool CA /etc/ferry/ca.pem, this host CN=hosta".
  const std::string& description() const { return description_; }

 private:
  PeerSecurity(std::shared_ptr<asio::ssl::context> tls, std::string description)
      : tls_(std::move(tls)), description_(std::move(description)) {}

  std::shared_ptr<asio::ssl::context> tls_;
  std::string description_;
};

// The agent installs its PeerSecurity on the io_context that runs its peer connections, once it
// has loaded it; every outgoing peer connection made on that context (connect_peer) uses it.
void install_peer_security(asio::execution_context& context, PeerSecurity security);
// Errc::internal when nothing was installed: connecting in plain TCP by omission is a bug.
Result<PeerSecurity> installed_peer_security(asio::execution_context& context);

}  // namespace ferry
