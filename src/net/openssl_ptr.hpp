// Owning smart pointers for OpenSSL handles, so that every early return on an error path
// frees what was allocated so far. Internal to src/net (and its tests): it includes the
// OpenSSL headers, so keep it out of public headers. Plain values: any thread may use them
// as long as it owns the pointer.
#pragma once

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace socketio::net {

// Calls the OpenSSL free function given as a template argument; an empty deleter, so the
// unique_ptr stays the size of a raw pointer.
template <auto FreeFn>
struct OpensslDeleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    FreeFn(p);
  }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslDeleter<&SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpensslDeleter<&SSL_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslDeleter<&X509_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpensslDeleter<&X509_EXTENSION_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<&EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<&EVP_PKEY_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<&BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<&BN_free>>;

// A second owner of a reference-counted handle (OpenSSL's own up_ref, not a copy).
inline X509Ptr share(X509* x) noexcept {
  if (x != nullptr) X509_up_ref(x);
  return X509Ptr(x);
}
inline EvpPkeyPtr share(EVP_PKEY* k) noexcept {
  if (k != nullptr) EVP_PKEY_up_ref(k);
  return EvpPkeyPtr(k);
}

}  // namespace socketio::net
