#include "net/tls_context.hpp"

#include "net/tls_record.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <system_error>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>
#include <openssl/x509v3.h>
#include <boost/asio/ssl/context.hpp>

#include "net/openssl_ptr.hpp"

namespace socketio::net {
namespace {

// TLS 1.2 only (1.3 suites are all AEAD and configured separately): forward secrecy through
// ECDHE, AEAD ciphers only, so no RSA key exchange and no CBC. Same as Mozilla's
// "intermediate" profile without DHE, ECDSA first because it is the cheaper handshake.
constexpr char kDefaultCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// TLS 1.3 suites, all AEAD: AES-128-GCM first, as browsers and Go order them. AES-256 adds no
// strength over the 128-bit key exchange (X25519/P-256), and SHA-256 (the handshake's
// transcript hash and key schedule with this suite) runs on the CPU's SHA extensions where
// SHA-384 does not (see docs/benchmarks.md, TLS handshake CPU).
constexpr char kTls13Suites[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr char kGroups[] = "X25519:P-256";
// Identifies sessions resumed through this server; the same on every context so that a
// session made on an SNI context still matches after the switch.
constexpr unsigned char kSessionIdContext[] = "socketio";
// PEM bundles are a few kilobytes; the cap stops a mistyped path such as /dev/zero.
constexpr std::size_t kMaxFileSize = 1 << 20;
constexpr int kExpirySoonDays = 30;

// OpenSSL keeps errors in a per-thread queue, and SSL_get_error() consults it: an error left
// behind by a failed load would make the next TLS read on the same thread look like a failure
// (reload() may run on a shard thread). So every entry point empties the queue on both ends.
struct ErrorQueueGuard {
  ErrorQueueGuard() { ERR_clear_error(); }
  ~ErrorQueueGuard() { ERR_clear_error(); }
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

// The reasons OpenSSL queued, oldest (the root cause) first, and empties the queue.
std::string openssl_reason() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    std::string reason = r != nullptr ? r : "error " + std::to_string(ERR_GET_REASON(e));
    if (text.find(reason) != std::string::npos) continue;
    if (!text.empty()) text += ": ";
    text += reason;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

// Text that may hold secrets (a key file, the passphrase): wiped before the memory is freed.
struct SecretText {
  std::string text;
  SecretText() = default;
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  ~SecretText() {
    if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  }
};

// What the watcher compares: inode and device catch a file replaced by rename (how
// Kubernetes and certbot update certificates) even when size and mtime happen to match.
struct FileStamp {
  std::string path;
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::time_t mtime_sec = 0;
  long mtime_nsec = 0;

  bool same_as(const FileStamp& o) const noexcept {
    return exists == o.exists && device == o.device && inode == o.inode && size == o.size &&
           mtime_sec == o.mtime_sec && mtime_nsec == o.mtime_nsec;
  }
};

FileStamp stamp_of(const std::string& path) {
  FileStamp s;
  s.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return s;
  s.exists = true;
  s.device = st.st_dev;
  s.inode = st.st_ino;
  s.size = st.st_size;
  s.mtime_sec = st.st_mtim.tv_sec;
  s.mtime_nsec = st.st_mtim.tv_nsec;
  return s;
}

std::string errno_text(int e) {
  return std::error_code(e, std::generic_category()).message();
}

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

// Reads a whole file. `what` names it in errors ("certificate file /etc/x.pem"). The stamp is
// taken before reading: a write racing with the read then shows up as a change on the next
// poll instead of being missed.
bool read_file(const std::string& path, const std::string& what, std::string& out,
               std::vector<FileStamp>* stamps, std::string& error) {
  FileStamp stamp = stamp_of(path);
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    error = what + ": cannot open: " + errno_text(errno);
    return false;
  }
  if (stamp.exists && stamp.size > 0) out.reserve(static_cast<std::size_t>(stamp.size) + 1);
  char buf[4096];
  std::size_t n = 0;
  bool too_big = false;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    out.append(buf, n);
    if (out.size() > kMaxFileSize) {
      too_big = true;
      break;
    }
  }
  const int read_errno = errno;
  const bool failed = std::ferror(f.get()) != 0;
  OPENSSL_cleanse(buf, sizeof buf);  // may hold key material
  if (failed) {
    error = what + ": cannot read: " + errno_text(read_errno);
    return false;
  }
  if (too_big) {
    error = what + ": larger than 1 MiB, not a PEM file";
    return false;
  }
  if (stamps != nullptr) stamps->push_back(std::move(stamp));
  return true;
}

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// A DNS name as it may appear in SNI: dot-separated labels of letters, digits, '-' and '_'.
bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (const char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label != 0;
}

bool is_ip_address(const std::string& text) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

// An SNI host as configured: lower-cased, one trailing dot dropped. For a wildcard, `name`
// keeps only the suffix from the dot on (".example.com").
struct HostPattern {
  std::string name;
  bool wildcard = false;
};

std::optional<HostPattern> parse_host_pattern(std::string_view host, std::string& error) {
  std::string h = to_lower(host);
  if (!h.empty() && h.back() == '.') h.pop_back();
  HostPattern p;
  std::string_view rest = h;
  if (rest.starts_with("*.")) {
    p.wildcard = true;
    rest.remove_prefix(1);  // keep the dot
  }
  const std::string_view labels = p.wildcard ? rest.substr(1) : rest;
  if (!is_dns_name(labels)) {
    error = "SNI host '" + std::string(host) +
            "' is not a host name (letters, digits, '-', dots; a wildcard only as a leading '*.')";
    return std::nullopt;
  }
  p.name = std::string(rest);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Certificates and keys

struct ChainCert {
  X509Ptr cert;
  std::string what;  // "certificate file /x/cert.pem"
  int index = 0;     // 1-based position in that file
};

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string("(empty subject)");
}

std::string describe(const ChainCert& c) {
  return "#" + std::to_string(c.index) + " '" + name_text(X509_get_subject_name(c.cert.get())) + "'";
}

std::string time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "an unreadable date";
  char buf[40];
  return std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) > 0 ? buf : "?";
}

// Every certificate in a PEM text, in order. Other PEM blocks (a key in a combined file) are
// skipped by OpenSSL itself.
bool parse_certs(const std::string& pem, const std::string& what, std::vector<ChainCert>& out,
                 std::string& error) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    error = what + ": " + openssl_reason();
    return false;
  }
  for (int index = 1;; ++index) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      const unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error();  // the normal end of the file
        break;
      }
      error = what + ": certificate #" + std::to_string(index) + " is malformed: " + openssl_reason();
      return false;
    }
    out.push_back({std::move(cert), what, index});
  }
  return true;
}

struct PassphraseRequest {
  const std::string* passphrase = nullptr;
  bool asked = false;
};

// Always installed, even without a passphrase: OpenSSL's fallback would prompt on the
// terminal, which would hang a daemon.
int passphrase_callback(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* request = static_cast<PassphraseRequest*>(userdata);
  request->asked = true;
  const std::string* pass = request->passphrase;
  if (pass == nullptr || pass->empty() || pass->size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

struct CertBundle {
  std::vector<ChainCert> chain;  // leaf first, then what follows it, then the CA file
  EvpPkeyPtr key;
};

bool load_key(const std::string& path, const std::string& passphrase, const std::string& passphrase_file,
              EvpPkeyPtr& key, std::vector<FileStamp>& stamps, std::string& error) {
  const std::string what = "key file " + path;
  SecretText pem;
  if (!read_file(path, what, pem.text, &stamps, error)) return false;
  BioPtr bio(BIO_new_mem_buf(pem.text.data(), static_cast<int>(pem.text.size())));
  if (!bio) {
    error = what + ": " + openssl_reason();
    return false;
  }
  PassphraseRequest request{passphrase.empty() ? nullptr : &passphrase};
  key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, &passphrase_callback, &request));
  if (key) return true;
  if (request.asked && passphrase.empty()) {
    ERR_clear_error();
    error = what + ": the private key is encrypted and no key passphrase file is configured";
  } else if (request.asked) {
    ERR_clear_error();
    error = what + ": cannot decrypt the private key: wrong passphrase (from " + passphrase_file + ")";
  } else if (pem.text.find("PRIVATE KEY-----") != std::string::npos) {
    error = what + ": the private key in it is malformed (" + openssl_reason() + ")";
  } else {
    ERR_clear_error();
    error = what + ": no PEM private key in it (expected '-----BEGIN PRIVATE KEY-----' or similar)";
  }
  return false;
}

// Checks that each certificate is issued by the next one, so the server never sends a chain
// that clients would reject. Names and signatures both: a CA re-issued with a new key has the
// same name but does not verify.
bool check_chain(const std::vector<ChainCert>& chain, std::string& error) {
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    const ChainCert& subject = chain[i];
    const ChainCert& issuer = chain[i + 1];
    const int rc = X509_check_issued(issuer.cert.get(), subject.cert.get());
    std::string problem;
    if (rc != X509_V_OK) {
      problem = X509_verify_cert_error_string(rc);
    } else {
      EVP_PKEY* issuer_key = X509_get0_pubkey(issuer.cert.get());
      if (issuer_key == nullptr || X509_verify(subject.cert.get(), issuer_key) != 1)
        problem = "its key does not verify the signature";
      ERR_clear_error();
    }
    if (problem.empty()) continue;
    error = issuer.what + ": certificate " + describe(issuer) + " did not issue the certificate before it, " +
            describe(subject) + (issuer.what == subject.what ? "" : " in " + subject.what) + " (" + problem +
            "); list the leaf first, then each certificate followed by its issuer";
    return false;
  }
  return true;
}

void check_validity(const ChainCert& c, const std::string& prefix, std::vector<std::string>& warnings) {
  const std::string who = prefix + c.what + ": certificate " + describe(c);
  const ASN1_TIME* not_before = X509_get0_notBefore(c.cert.get());
  const ASN1_TIME* not_after = X509_get0_notAfter(c.cert.get());
  if (X509_cmp_current_time(not_before) > 0)
    warnings.push_back(who + " is not valid yet: its validity starts " + time_text(not_before));
  int days = 0;
  int seconds = 0;
  if (X509_cmp_current_time(not_after) < 0)
    warnings.push_back(who + " expired on " + time_text(not_after));
  else if (ASN1_TIME_diff(&days, &seconds, nullptr, not_after) == 1 && days < kExpirySoonDays)
    warnings.push_back(who + " expires in " + std::to_string(days) + " days, on " + time_text(not_after));
  ERR_clear_error();
}

bool load_bundle(const TlsCertSpec& spec, const std::string& passphrase, const std::string& passphrase_file,
                 CertBundle& bundle, std::vector<FileStamp>& stamps, std::string& error) {
  const std::string cert_what = "certificate file " + spec.cert_file;
  std::string pem;
  if (!read_file(spec.cert_file, cert_what, pem, &stamps, error)) return false;
  if (!parse_certs(pem, cert_what, bundle.chain, error)) return false;
  if (bundle.chain.empty()) {
    error = cert_what + ": no PEM certificate in it (expected '-----BEGIN CERTIFICATE-----'; " +
            "convert DER with 'openssl x509 -inform DER -outform PEM')";
    return false;
  }
  if (!spec.ca_file.empty()) {
    const std::string ca_what = "CA file " + spec.ca_file;
    std::string ca_pem;
    if (!read_file(spec.ca_file, ca_what, ca_pem, &stamps, error)) return false;
    const std::size_t before = bundle.chain.size();
    if (!parse_certs(ca_pem, ca_what, bundle.chain, error)) return false;
    if (bundle.chain.size() == before) {
      error = ca_what + ": no PEM certificate in it";
      return false;
    }
  }
  if (!load_key(spec.key_file, passphrase, passphrase_file, bundle.key, stamps, error)) return false;
  X509* leaf = bundle.chain.front().cert.get();
  if (X509_check_private_key(leaf, bundle.key.get()) != 1) {
    ERR_clear_error();
    error = "key file " + spec.key_file + ": the private key does not match the certificate " +
            describe(bundle.chain.front()) + " in " + spec.cert_file;
    return false;
  }
  return check_chain(bundle.chain, error);
}

// ---------------------------------------------------------------------------------------------
// Self-signed certificate

bool add_extension(X509* cert, X509V3_CTX* v3, int nid, const std::string& value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, v3, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool make_self_signed(const std::string& host, CertBundle& bundle, std::string& error) {
  const bool ip = is_ip_address(host);
  if (!ip && !is_dns_name(host)) {
    error = "self-signed host '" + host + "' is neither a host name nor an IP address";
    return false;
  }
  const auto fail = [&](const char* step) {
    error = std::string("self-signed certificate: ") + step + ": " + openssl_reason();
    return false;
  };

  EvpPkeyCtxPtr kctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (!kctx || EVP_PKEY_keygen_init(kctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(kctx.get(), "P-256") != 1 || EVP_PKEY_generate(kctx.get(), &raw_key) != 1)
    return fail("generating the P-256 key");
  EvpPkeyPtr key(raw_key);

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return fail("creating the certificate");
  // 159 random bits: positive, unique, and within the 20 bytes RFC 5280 allows.
  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr)
    return fail("making the serial number");
  // Valid from an hour ago, so a client whose clock is a little behind still accepts it.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600) == nullptr)
    return fail("setting the validity");
  X509_NAME* name = X509_get_subject_name(cert.get());
  // X.520 caps a common name at 64 characters; the subjectAltName is what clients check.
  const std::string cn = host.size() <= 64 ? host : "socketio-server";
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1)
    return fail("setting the names");
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  if (!add_extension(cert.get(), &v3, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(cert.get(), &v3, NID_key_usage, "critical,digitalSignature") ||
      !add_extension(cert.get(), &v3, NID_ext_key_usage, "serverAuth") ||
      !add_extension(cert.get(), &v3, NID_subject_key_identifier, "hash") ||
      !add_extension(cert.get(), &v3, NID_subject_alt_name, (ip ? "IP:" : "DNS:") + host))
    return fail("adding the extensions");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return fail("signing");

  bundle.chain.clear();
  bundle.chain.push_back({std::move(cert), "self-signed certificate for " + host, 1});
  bundle.key = std::move(key);
  return true;
}

// ---------------------------------------------------------------------------------------------
// SSL contexts

// Accepts clients without ALPN (Node's https module sends none); a client that offers ALPN
// without http/1.1 (h2 only) gets the no_application_protocol alert RFC 7301 asks for rather
// than an HTTP/1.1 answer it cannot parse.
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* /*arg*/) {
  constexpr std::string_view kHttp11 = "http/1.1";
  unsigned int i = 0;
  while (i < inlen) {
    const unsigned int len = in[i];
    if (len == 0 || len > inlen - i - 1) break;  // malformed list: OpenSSL validates it, be safe
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == kHttp11) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += len + 1;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// The SNI contexts of one set. Owned by the default SSL_CTX (ex_data, freed with it), so it
// lives exactly as long as any SSL object that might still run the servername callback:
// such an SSL holds a reference to the default SSL_CTX as its session context.
struct SniTable {
  struct Entry {
    std::string name;  // lower case; for a wildcard the suffix ".example.com"
    SslCtxPtr ctx;
  };
  std::vector<Entry> exact;
  std::vector<Entry> wildcard;

  SSL_CTX* find(std::string_view servername) const {
    std::string name = to_lower(servername);
    if (!name.empty() && name.back() == '.') name.pop_back();
    for (const Entry& e : exact)
      if (e.name == name) return e.ctx.get();
    // One label only, as browsers match wildcard certificates: "*.example.com" covers
    // "a.example.com", neither "example.com" nor "a.b.example.com".
    for (const Entry& e : wildcard) {
      if (name.size() <= e.name.size() || !name.ends_with(e.name)) continue;
      const std::string_view label(name.data(), name.size() - e.name.size());
      if (label.find('.') == std::string_view::npos) return e.ctx.get();
    }
    return nullptr;
  }
};

void free_sni_table(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                    void* /*argp*/) {
  delete static_cast<SniTable*>(ptr);
}

// Asio keeps its verify callback in the SSL_CTX app data (ex_data slot 0), so the table gets
// its own slot. Registered once per process; the index itself is immutable afterwards.
int sni_table_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_sni_table);
  return index;
}

int select_sni(SSL* ssl, int* /*alert*/, void* arg) {
  const char* servername = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const auto* table = static_cast<const SniTable*>(arg);
  if (servername == nullptr || table == nullptr) return SSL_TLSEXT_ERR_OK;
  if (SSL_CTX* ctx = table->find(servername); ctx != nullptr && SSL_set_SSL_CTX(ssl, ctx) == nullptr)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

// The settings every context gets. An SSL switched to an SNI context keeps the protocol,
// cipher and option settings it was created with but takes the certificate and the ALPN
// callback from the new context, so all of them must be configured alike.
bool configure(SSL_CTX* ctx, const TlsOptions& options, std::string& error) {
  const int min_version = options.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1 || SSL_CTX_set_max_proto_version(ctx, 0) != 1) {
    error = "setting the TLS versions: " + openssl_reason();
    return false;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Stateless tickets: resumption without a server-side session cache growing with clients.
  SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  // One TLS 1.3 ticket per handshake, not OpenSSL's two: a browser keeps one, and each costs a
  // key derivation, an encryption and a send.
  SSL_CTX_set_num_tickets(ctx, 1);
  // RELEASE_BUFFERS: an idle connection gives its 2 x 16 KiB record buffers back.
  // NO_AUTO_CHAIN: send exactly the configured chain, never one built from a store.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  const std::string& ciphers = options.ciphers.empty() ? std::string(kDefaultCiphers) : options.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    error = "TLS 1.2 cipher list '" + ciphers + "': no usable cipher in it (" + openssl_reason() + ")";
    return false;
  }
  if (SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1) {
    error = std::string("TLS 1.3 cipher suites ") + kTls13Suites + ": " + openssl_reason();
    return false;
  }
  // Only matters if a custom cipher list enables DHE: then use built-in, well-sized groups.
  SSL_CTX_set_dh_auto(ctx, 1);
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    error = std::string("key exchange groups ") + kGroups + ": " + openssl_reason();
    return false;
  }
  SSL_CTX_set_alpn_select_cb(ctx, &select_alpn, nullptr);
  if (options.own_record_layer) tls13::capture_secrets(ctx);
  return true;
}

SslCtxPtr make_ctx(const TlsOptions& options, const CertBundle& bundle, std::string& error) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    error = "creating the TLS context: " + openssl_reason();
    return nullptr;
  }
  if (!configure(ctx.get(), options, error)) return nullptr;
  const ChainCert& leaf = bundle.chain.front();
  // The chain is attached to this certificate (not the store, not extra_certs) so that it is
  // sent as given, in order, whichever context the handshake ends up on.
  if (SSL_CTX_use_certificate(ctx.get(), leaf.cert.get()) != 1) {
    error = leaf.what + ": certificate " + describe(leaf) + " is not usable: " + openssl_reason();
    return nullptr;
  }
  for (std::size_t i = 1; i < bundle.chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), bundle.chain[i].cert.get()) != 1) {
      error = bundle.chain[i].what + ": certificate " + describe(bundle.chain[i]) +
              " cannot be added to the chain: " + openssl_reason();
      return nullptr;
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), bundle.key.get()) != 1 || SSL_CTX_check_private_key(ctx.get()) != 1) {
    error = "the private key for " + leaf.what + " is not usable with it: " + openssl_reason();
    return nullptr;
  }
  return ctx;
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 3);
  for (unsigned int i = 0; i < len; ++i) {
    if (i != 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

bool validate(const TlsOptions& o, std::string& error) {
  if (o.min_version != "1.2" && o.min_version != "1.3") {
    error = "TLS minimum version '" + o.min_version + "' is not supported: use 1.2 or 1.3";
    return false;
  }
  const bool has_files = !o.cert.cert_file.empty() || !o.cert.key_file.empty() || !o.cert.ca_file.empty();
  if (!o.self_signed_host.empty() && has_files) {
    error = "both certificate files and a self-signed host are configured: choose one";
    return false;
  }
  if (o.self_signed_host.empty() && (o.cert.cert_file.empty() || o.cert.key_file.empty())) {
    error = o.cert.cert_file.empty() && o.cert.key_file.empty()
                ? "no TLS certificate: give a certificate and key file, or a self-signed host"
                : std::string("TLS ") + (o.cert.cert_file.empty() ? "certificate" : "key") +
                      " file missing: both are needed";
    return false;
  }
  std::vector<HostPattern> seen;
  for (const TlsSniSpec& s : o.sni) {
    const auto pattern = parse_host_pattern(s.host, error);
    if (!pattern) return false;
    if (s.cert.cert_file.empty() || s.cert.key_file.empty()) {
      error = "SNI host " + s.host + ": a certificate and a key file are needed";
      return false;
    }
    for (const HostPattern& p : seen) {
      if (p.name == pattern->name && p.wildcard == pattern->wildcard) {
        error = "SNI host " + s.host + " is configured twice";
        return false;
      }
    }
    seen.push_back(*pattern);
  }
  return true;
}

bool read_passphrase(const std::string& path, std::string& passphrase, std::string& error) {
  const std::string what = "key passphrase file " + path;
  SecretText text;
  if (!read_file(path, what, text.text, nullptr, error)) return false;
  const std::size_t end = text.text.find_first_of("\r\n");
  if (end == 0 || text.text.empty()) {
    error = what + ": the first line is empty";
    return false;
  }
  passphrase.assign(text.text, 0, end);
  return true;
}

}  // namespace

struct TlsContext::Loaded {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::vector<FileStamp> stamps;
  std::vector<std::string> warnings;
  std::string fingerprint;
  // The generated certificate and key, reused by reloads (clients may have pinned them).
  X509Ptr self_signed_cert;
  EvpPkeyPtr self_signed_key;
};

namespace {

// Builds a complete set; nothing is shared with the running one but the self-signed
// certificate, so a failure leaves the running set untouched.
std::shared_ptr<const TlsContext::Loaded> load(const TlsOptions& options, const std::string& passphrase,
                                               const TlsContext::Loaded* previous, std::string& error) {
  auto loaded = std::make_shared<TlsContext::Loaded>();
  CertBundle bundle;
  if (!options.self_signed_host.empty()) {
    if (previous != nullptr && previous->self_signed_cert) {
      bundle.chain.push_back({share(previous->self_signed_cert.get()),
                              "self-signed certificate for " + options.self_signed_host, 1});
      bundle.key = share(previous->self_signed_key.get());
    } else if (!make_self_signed(options.self_signed_host, bundle, error)) {
      return nullptr;
    }
    loaded->self_signed_cert = share(bundle.chain.front().cert.get());
    loaded->self_signed_key = share(bundle.key.get());
  } else if (!load_bundle(options.cert, passphrase, options.key_passphrase_file, bundle, loaded->stamps,
                          error)) {
    return nullptr;
  }
  for (const ChainCert& c : bundle.chain) check_validity(c, "", loaded->warnings);
  SslCtxPtr default_ctx = make_ctx(options, bundle, error);
  if (!default_ctx) return nullptr;
  loaded->fingerprint = fingerprint(bundle.chain.front().cert.get());

  if (!options.sni.empty()) {
    auto table = std::make_unique<SniTable>();
    for (const TlsSniSpec& spec : options.sni) {
      const std::string prefix = "SNI host " + spec.host + ": ";
      const auto pattern = parse_host_pattern(spec.host, error);  // validated by create()
      if (!pattern) return nullptr;
      CertBundle sni_bundle;
      if (!load_bundle(spec.cert, passphrase, options.key_passphrase_file, sni_bundle, loaded->stamps,
                       error)) {
        error = prefix + error;
        return nullptr;
      }
      for (const ChainCert& c : sni_bundle.chain) check_validity(c, prefix, loaded->warnings);
      // Browsers ignore the subject CN, so check the subjectAltName only.
      const std::string probe = pattern->wildcard ? "x" + pattern->name : pattern->name;
      if (X509_check_host(sni_bundle.chain.front().cert.get(), probe.data(), probe.size(),
                          X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr) != 1) {
        loaded->warnings.push_back(prefix + "certificate " + describe(sni_bundle.chain.front()) + " in " +
                                   spec.cert.cert_file + " does not cover " + spec.host);
      }
      ERR_clear_error();
      SslCtxPtr ctx = make_ctx(options, sni_bundle, error);
      if (!ctx) {
        error = prefix + error;
        return nullptr;
      }
      auto& list = pattern->wildcard ? table->wildcard : table->exact;
      list.push_back({pattern->name, std::move(ctx)});
    }
    const int index = sni_table_index();
    if (index < 0 || SSL_CTX_set_ex_data(default_ctx.get(), index, table.get()) != 1) {
      error = "attaching the SNI contexts: " + openssl_reason();
      return nullptr;
    }
    SniTable* owned = table.release();  // now freed with default_ctx, by free_sni_table
    SSL_CTX_set_tlsext_servername_callback(default_ctx.get(), &select_sni);
    SSL_CTX_set_tlsext_servername_arg(default_ctx.get(), owned);
  }

  loaded->context = std::make_shared<boost::asio::ssl::context>(default_ctx.get());
  static_cast<void>(default_ctx.release());  // owned by the asio context from here on
  return loaded;
}

}  // namespace

std::optional<TlsSniSpec> parse_sni_spec(std::string_view text, std::string& error) {
  const std::string quoted = "'" + std::string(text) + "'";
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    error = "SNI certificate " + quoted + " has no '=': expected HOST=CERT,KEY[,CA]";
    return std::nullopt;
  }
  TlsSniSpec spec;
  spec.host = std::string(text.substr(0, eq));
  if (spec.host.empty()) {
    error = "SNI certificate " + quoted + " has no host before '=': expected HOST=CERT,KEY[,CA]";
    return std::nullopt;
  }
  if (!parse_host_pattern(spec.host, error)) return std::nullopt;
  std::vector<std::string> files;
  std::string_view rest = text.substr(eq + 1);
  for (;;) {
    const std::size_t comma = rest.find(',');
    files.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (files.size() < 2 || files.size() > 3) {
    error = "SNI certificate " + quoted + " lists " + std::to_string(files.size()) +
            " file(s) after '=': expected CERT,KEY or CERT,KEY,CA";
    return std::nullopt;
  }
  for (const std::string& f : files) {
    if (f.empty()) {
      error = "SNI certificate " + quoted + " has an empty file name: expected HOST=CERT,KEY[,CA]";
      return std::nullopt;
    }
  }
  spec.cert.cert_file = files[0];
  spec.cert.key_file = files[1];
  if (files.size() == 3) spec.cert.ca_file = files[2];
  return spec;
}

TlsContext::TlsContext(const TlsOptions& options) : options_(options) {}

TlsContext::~TlsContext() {
  if (!passphrase_.empty()) OPENSSL_cleanse(passphrase_.data(), passphrase_.size());
}

std::unique_ptr<TlsContext> TlsContext::create(const TlsOptions& options, std::string& error) noexcept {
  try {
    ErrorQueueGuard guard;
    if (!validate(options, error)) return nullptr;
    std::unique_ptr<TlsContext> self(new TlsContext(options));
    if (!options.key_passphrase_file.empty() &&
        !read_passphrase(options.key_passphrase_file, self->passphrase_, error))
      return nullptr;
    self->loaded_ = load(self->options_, self->passphrase_, nullptr, error);
    if (!self->loaded_) return nullptr;
    return self;
  } catch (const std::exception& e) {
    error = std::string("TLS set-up failed: ") + e.what();
    return nullptr;
  }
}

std::shared_ptr<boost::asio::ssl::context> TlsContext::current() const {
  std::lock_guard lock(mutex_);
  return loaded_->context;
}

bool TlsContext::reload(std::string& error) noexcept {
  try {
    std::lock_guard reload_lock(reload_mutex_);
    ErrorQueueGuard guard;
    std::shared_ptr<const Loaded> previous;
    {
      std::lock_guard lock(mutex_);
      previous = loaded_;
    }
    auto next = load(options_, passphrase_, previous.get(), error);
    if (!next) return false;
    std::lock_guard lock(mutex_);
    loaded_ = std::move(next);
    return true;
  } catch (const std::exception& e) {
    error = std::string("TLS reload failed: ") + e.what();
    return false;
  }
}

bool TlsContext::files_changed() const {
  std::shared_ptr<const Loaded> loaded;
  {
    std::lock_guard lock(mutex_);
    loaded = loaded_;
  }
  return std::any_of(loaded->stamps.begin(), loaded->stamps.end(),
                     [](const FileStamp& s) { return !stamp_of(s.path).same_as(s); });
}

std::vector<std::string> TlsContext::warnings() const {
  std::lock_guard lock(mutex_);
  return loaded_->warnings;
}

std::string TlsContext::fingerprint_sha256() const {
  std::lock_guard lock(mutex_);
  return loaded_->fingerprint;
}

}  // namespace socketio::net
