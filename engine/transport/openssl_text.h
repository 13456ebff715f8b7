// OpenSSL's answers as text for error messages and logs.
#pragma once

#include <openssl/x509.h>

#include <string>

namespace ferry {

// "CN=hosta,O=ferry pool" (RFC 2253 order); "(none)" for a null certificate.
std::string certificate_subject(const X509* certificate);
// Drains OpenSSL's error queue of this thread: "reason; reason", or `fallback` when empty.
std::string openssl_errors(const char* fallback = "unknown OpenSSL error");

}  // namespace ferry
