#include "engine/transport/openssl_text.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <memory>

namespace ferry {

std::string certificate_subject(const X509* certificate) {
  if (!certificate) return "(none)";
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio) return "(unprintable)";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0,
                     XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : "(empty subject)";
}

std::string openssl_errors(const char* fallback) {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    if (!text.empty()) text += "; ";
    text += reason ? reason : "error " + std::to_string(code);
  }
  return text.empty() ? fallback : text;
}

}  // namespace ferry
