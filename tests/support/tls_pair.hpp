// Self-signed certificates for the TLS tests, the TLS fuzzer and tls_bench: a fresh key
// (P-256 or RSA 2048) and its certificate, written as PEM files where make_tls_context()
// (engine/net/tls_context.hpp) can load them. OpenSSL failing here is a broken set-up:
// the process aborts with the step that failed.
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ringcast::engine::test {

struct TlsPairFiles {
  std::string cert, key;  // PEM file paths
  X509* x509 = nullptr;   // the certificate (owned: X509_free), to compare with what a peer sees
};

[[noreturn]] inline void tls_pair_broken(const char* step) {
  std::fprintf(stderr, "tls test pair: %s failed\n", step);
  std::abort();
}

// A certificate for `cn`, signed by its own `key`, valid from an hour ago for a week.
inline X509* self_signed(EVP_PKEY* key, const char* cn, long serial) {
  X509* x = X509_new();
  if (x == nullptr) tls_pair_broken("X509_new");
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x, name);
  if (X509_sign(x, key, EVP_sha256()) == 0) tls_pair_broken("X509_sign");
  return x;
}

// Writes `name`.crt and `name`.key into `dir` (which must exist).
inline TlsPairFiles make_tls_pair(const std::string& dir, const std::string& name, bool rsa = false,
                                  long serial = 1, const char* cn = "localhost") {
  EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (key == nullptr) tls_pair_broken("key generation");
  TlsPairFiles p{dir + "/" + name + ".crt", dir + "/" + name + ".key", self_signed(key, cn, serial)};
  FILE* f = std::fopen(p.cert.c_str(), "w");
  if (f == nullptr || PEM_write_X509(f, p.x509) != 1 || std::fclose(f) != 0) tls_pair_broken("writing the certificate");
  f = std::fopen(p.key.c_str(), "w");
  if (f == nullptr || PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) != 1 || std::fclose(f) != 0) {
    tls_pair_broken("writing the key");
  }
  EVP_PKEY_free(key);
  return p;
}

// A fresh directory under /tmp for pairs (the caller removes it).
inline std::string make_tls_dir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) tls_pair_broken("mkdtemp");
  return tmpl;
}

}  // namespace ringcast::engine::test
