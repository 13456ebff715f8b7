#include "engine/transport/peer_security.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/asio/ssl/context.hpp>

#include "engine/transport/openssl_text.h"

namespace ferry {

namespace {
namespace ssl = asio::ssl;

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

std::string name_or(const std::string& path, std::string_view fallback) {
  return path.empty() ? std::string(fallback) : path;
}

Result<std::vector<X509Ptr>> parse_certificates(std::string_view pem, const std::string& origin) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                BIO_free);
  std::vector<X509Ptr> out;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(c, X509_free);
  ERR_clear_error();  // the loop ends on "no start line"
  if (out.empty())
    return Error(
        Errc::invalid_argument,
        fmt::format("{}: no PEM certificate (expected -----BEGIN CERTIFICATE-----)", origin));
  return out;
}

// Checks our own certificate the way a peer will: chain to the pool CA, usable as both TLS client
// and server. A wrong file is then reported at start, not as every peer refusing us.
Result<void> check_own_certificate(SSL_CTX* ctx, const std::string& cert_origin,
                                   const std::string& ca_origin) {
  X509* own = SSL_CTX_get0_certificate(ctx);
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  for (int purpose : {X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER}) {
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> check(X509_STORE_CTX_new(),
                                                                          X509_STORE_CTX_free);
    if (!check || X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx), own, chain) != 1)
      return Error(Errc::internal, "checking our certificate: " + openssl_errors());
    X509_STORE_CTX_set_purpose(check.get(), purpose);
    if (X509_verify_cert(check.get()) != 1) {
      const int err = X509_STORE_CTX_get_error(check.get());
      ERR_clear_error();
      return Error(Errc::invalid_argument,
                   fmt::format("{} ({}) is not usable as a pool certificate {}: {} (pool CA: {})",
                               cert_origin, certificate_subject(own),
                               purpose == X509_PURPOSE_SSL_CLIENT ? "for connecting to peers"
                                                                  : "for accepting peers",
                               X509_verify_cert_error_string(err), ca_origin));
    }
  }
  return ok();
}

Result<std::string> read_file(const std::string& path, std::string_view what, bool secret) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_error(fmt::format("{} {}", what, path));
  // Like ssh: a key every local user can read is not a secret any more.
  if (secret && (st.st_mode & S_IROTH))
    return Error(Errc::invalid_argument,
                 fmt::format("{} {} is readable by every user (mode {:o}): chmod 600 {}", what,
                             path, st.st_mode & 0777, path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_error(fmt::format("reading {} {}", what, path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class PeerSecurityService : public asio::execution_context::service {
 public:
  using key_type = PeerSecurityService;
  static inline asio::execution_context::id id;
  explicit PeerSecurityService(asio::execution_context& context) : service(context) {}

  void set(PeerSecurity security) {
    std::lock_guard lock(mutex_);
    security_ = std::move(security);
  }
  std::optional<PeerSecurity> get() const {
    std::lock_guard lock(mutex_);
    return security_;
  }

 private:
  void shutdown() override {}

  mutable std::mutex mutex_;
  std::optional<PeerSecurity> security_;
};
}  // namespace

PeerSecurity PeerSecurity::insecure() {
  return PeerSecurity(nullptr, "plain TCP (--insecure): peers are not authenticated");
}

Result<PeerSecurity> PeerSecurity::tls_from_pem(std::string_view ca_pem, std::string_view cert_pem,
                                                std::string_view key_pem, const TlsFiles& origin) {
  const std::string ca_name = name_or(origin.ca, "pool CA");
  const std::string cert_name = name_or(origin.cert, "host certificate");
  const std::string key_name = name_or(origin.key, "host key");
  ERR_clear_error();
  auto context = std::make_shared<ssl::context>(ssl::context::tls);
  SSL_CTX* ctx = context->native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
    return Error(Errc::internal, "setting TLS 1.2 as the minimum: " + openssl_errors());
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);

  // The pool CA is the only trust anchor: no system roots, so a certificate from any public CA
  // is as foreign as a self-signed one.
  auto cas = parse_certificates(ca_pem, ca_name);
  if (!cas) return std::move(cas).error();
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (auto& ca : *cas) {
    if (X509_check_ca(ca.get()) == 0)
      return Error(Errc::invalid_argument, fmt::format("{}: {} is not a CA certificate", ca_name,
                                                       certificate_subject(ca.get())));
    if (X509_STORE_add_cert(store, ca.get()) != 1 || SSL_CTX_add_client_CA(ctx, ca.get()) != 1)
      return Error(Errc::invalid_argument, fmt::format("{}: {}", ca_name, openssl_errors()));
  }

  boost::system::error_code ec;
  context->use_certificate_chain(asio::buffer(cert_pem.data(), cert_pem.size()), ec);
  if (ec)
    return Error(Errc::invalid_argument, fmt::format("{}: not a PEM certificate: {}", cert_name,
                                                     openssl_errors(ec.message().c_str())));
  context->use_private_key(asio::buffer(key_pem.data(), key_pem.size()), ssl::context::pem, ec);
  if (ec)
    return Error(Errc::invalid_argument,
                 fmt::format("{}: not a PEM private key, or not the key of {}: {}", key_name,
                             cert_name, openssl_errors(ec.message().c_str())));
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Error(Errc::invalid_argument,
                 fmt::format("{} is not the private key of {}", key_name, cert_name));
  }
  if (auto checked = check_own_certificate(ctx, cert_name, ca_name); !checked)
    return std::move(checked).error();

  context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  SSL_CTX_set_verify_depth(ctx, 4);
  const std::string description = fmt::format("mutual TLS, pool CA {} ({}), this host {}", ca_name,
                                              certificate_subject(cas->front().get()),
                                              certificate_subject(SSL_CTX_get0_certificate(ctx)));
  return PeerSecurity(std::move(context), description);
}

Result<PeerSecurity> PeerSecurity::tls_from_files(const TlsFiles& files) {
  auto ca = read_file(files.ca, "TLS pool CA", false);
  if (!ca) return std::move(ca).error();
  auto cert = read_file(files.cert, "TLS certificate", false);
  if (!cert) return std::move(cert).error();
  auto key = read_file(files.key, "TLS key", true);
  if (!key) return std::move(key).error();
  return tls_from_pem(*ca, *cert, *key, files);
}

Result<PeerSecurity> PeerSecurity::configure(const TlsFiles& files, bool insecure) {
  if (insecure && !files.empty())
    return Error(Errc::invalid_argument,
                 "peers: both --insecure and TLS files are configured: choose one (drop "
                 "--insecure / \"insecure\" to use TLS)");
  if (insecure) return PeerSecurity::insecure();
  if (files.empty())
    return Error(Errc::invalid_argument,
                 "peers: no TLS identity and no --insecure. Give the pool CA, this host's "
                 "certificate and key (--tls-ca/--tls-cert/--tls-key, or \"tls\": {\"ca\", "
                 "\"cert\", \"key\"} in the configuration file; `ferry pki` creates them), or "
                 "--insecure to accept unauthenticated peers over plain TCP");
  std::vector<std::string> missing;
  if (files.ca.empty()) missing.push_back("--tls-ca (tls.ca)");
  if (files.cert.empty()) missing.push_back("--tls-cert (tls.cert)");
  if (files.key.empty()) missing.push_back("--tls-key (tls.key)");
  if (!missing.empty())
    return Error(
        Errc::invalid_argument,
        fmt::format("peers: TLS needs the pool CA, the certificate and the key; missing {}",
                    fmt::join(missing, ", ")));
  return tls_from_files(files);
}

void install_peer_security(asio::execution_context& context, PeerSecurity security) {
  asio::use_service<PeerSecurityService>(context).set(std::move(security));
}

Result<PeerSecurity> installed_peer_security(asio::execution_context& context) {
  auto security = asio::use_service<PeerSecurityService>(context).get();
  if (!security)
    return Error(Errc::internal,
                 "no peer security (TLS or --insecure) installed on this io_context: refusing to "
                 "connect to a peer");
  return std::move(*security);
}

}  // namespace ferry
