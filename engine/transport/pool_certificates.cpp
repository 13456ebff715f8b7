#include "engine/transport/pool_certificates.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include <fmt/format.h>

#include "engine/transport/openssl_text.h"

namespace ferry::pki {

namespace {
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

Error failure(std::string_view what) {
  return Error(Errc::internal, fmt::format("{}: {}", what, openssl_errors()));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

Result<KeyPtr> new_key() {
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return failure("generating an ECDSA P-256 key");
  return key;
}

Result<std::string> key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return failure("encoding the private key");
  return bio_text(bio.get());
}

Result<std::string> certificate_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return failure("encoding the certificate");
  return bio_text(bio.get());
}

// A certificate with a random 127-bit serial, the subject CN and validity filled in.
Result<CertPtr> new_certificate(std::string_view common_name, EVP_PKEY* key, int days) {
  CertPtr cert(X509_new(), X509_free);
  if (!cert || X509_set_version(cert.get(), 2) != 1) return failure("creating a certificate");
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    return failure("choosing a serial number");
  // An hour of slack for peers whose clocks run a little behind ours.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400))
    return failure("setting the validity");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(common_name);
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("ferry pool"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1)
    return failure("setting the subject");
  if (X509_set_pubkey(cert.get(), key) != 1) return failure("setting the public key");
  return cert;
}

// `value` is one of our fixed strings, never user text (that goes through GENERAL_NAMEs).
Result<void> add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return failure(fmt::format("building extension {}", OBJ_nid2sn(nid)));
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) return failure(fmt::format("adding extension {}", OBJ_nid2sn(nid)));
  return ok();
}

Result<void> add_subject_alt_names(X509* cert, std::string_view host_name,
                                   const std::vector<std::string>& ips) {
  std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> names(sk_GENERAL_NAME_new_null(),
                                                                      GENERAL_NAMES_free);
  if (!names) return failure("subjectAltName");
  auto push = [&](GENERAL_NAME* name) {
    if (!name || sk_GENERAL_NAME_push(names.get(), name) == 0) {
      GENERAL_NAME_free(name);
      return false;
    }
    return true;
  };
  ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
  GENERAL_NAME* dns_name = GENERAL_NAME_new();
  if (!dns || !dns_name ||
      ASN1_STRING_set(dns, host_name.data(), static_cast<int>(host_name.size())) != 1) {
    ASN1_IA5STRING_free(dns);
    GENERAL_NAME_free(dns_name);
    return failure("subjectAltName DNS");
  }
  GENERAL_NAME_set0_value(dns_name, GEN_DNS, dns);
  if (!push(dns_name)) return failure("subjectAltName DNS");
  for (const auto& ip : ips) {
    ASN1_OCTET_STRING* address = a2i_IPADDRESS(ip.c_str());
    if (!address)
      return Error(Errc::invalid_argument, fmt::format("--ip '{}' is not an IP address", ip));
    GENERAL_NAME* ip_name = GENERAL_NAME_new();
    if (!ip_name) {
      ASN1_OCTET_STRING_free(address);
      return failure("subjectAltName IP");
    }
    GENERAL_NAME_set0_value(ip_name, GEN_IPADD, address);
    if (!push(ip_name)) return failure("subjectAltName IP");
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
    return failure("adding subjectAltName");
  return ok();
}

Result<KeyPtr> parse_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr,
             EVP_PKEY_free);
  if (!key)
    return Error(Errc::invalid_argument,
                 fmt::format("the pool CA key is not a PEM private key: {}", openssl_errors()));
  return key;
}

Result<CertPtr> parse_certificate(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  CertPtr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!cert)
    return Error(Errc::invalid_argument,
                 fmt::format("the pool CA certificate is not PEM: {}", openssl_errors()));
  return cert;
}
}  // namespace

bool is_valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
      return false;
  return true;
}

Result<KeyAndCertificate> create_pool_ca(std::string_view pool_name, int days) {
  if (days < 1) return Error(Errc::invalid_argument, "the CA must be valid for at least one day");
  auto key = new_key();
  if (!key) return std::move(key).error();
  auto cert = new_certificate(pool_name, key->get(), days);
  if (!cert) return std::move(cert).error();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) return failure("setting the issuer");
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}})
    if (auto added = add_extension(c, c, nid, value); !added) return std::move(added).error();
  if (X509_sign(c, key->get(), EVP_sha256()) == 0) return failure("signing the pool CA");
  auto key_text = key_pem(key->get());
  if (!key_text) return std::move(key_text).error();
  auto cert_text = certificate_pem(c);
  if (!cert_text) return std::move(cert_text).error();
  return KeyAndCertificate{std::move(*key_text), std::move(*cert_text)};
}

Result<KeyAndCertificate> create_host_certificate(const KeyAndCertificate& ca,
                                                  std::string_view host_name,
                                                  const std::vector<std::string>& ips, int days) {
  if (!is_valid_host_name(host_name))
    return Error(
        Errc::invalid_argument,
        fmt::format("'{}' is not a host name (letters, digits, '-', '.', '_')", host_name));
  if (days < 1)
    return Error(Errc::invalid_argument, "the certificate must be valid for at least one day");
  auto ca_key = parse_key(ca.key_pem);
  if (!ca_key) return std::move(ca_key).error();
  auto ca_cert = parse_certificate(ca.certificate_pem);
  if (!ca_cert) return std::move(ca_cert).error();
  if (X509_check_private_key(ca_cert->get(), ca_key->get()) != 1) {
    openssl_errors();  // clear the queue
    return Error(Errc::invalid_argument, "the pool CA key does not match the CA certificate");
  }

  auto key = new_key();
  if (!key) return std::move(key).error();
  auto cert = new_certificate(host_name, key->get(), days);
  if (!cert) return std::move(cert).error();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert->get())) != 1)
    return failure("setting the issuer");
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature"},
                            std::pair{NID_ext_key_usage, "serverAuth,clientAuth"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}})
    if (auto added = add_extension(c, ca_cert->get(), nid, value); !added)
      return std::move(added).error();
  if (auto named = add_subject_alt_names(c, host_name, ips); !named)
    return std::move(named).error();
  if (X509_sign(c, ca_key->get(), EVP_sha256()) == 0)
    return failure("signing the host certificate");
  auto key_text = key_pem(key->get());
  if (!key_text) return std::move(key_text).error();
  auto cert_text = certificate_pem(c);
  if (!cert_text) return std::move(cert_text).error();
  return KeyAndCertificate{std::move(*key_text), std::move(*cert_text)};
}

}  // namespace ferry::pki
