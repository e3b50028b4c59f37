// TlsContext against real handshakes: a small PKI (root, intermediate, leaves, an expired one,
// an encrypted key) is made with the OpenSSL API in a temporary directory once per run, and
// every behaviour is checked from an OpenSSL client's side over an in-memory BIO pair, the
// way a browser would see it: the chain it receives, whether it verifies against the root
// only, the certificate SNI selected, ALPN, versions, ciphers, resumption.
#include "net/tls_context.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <boost/asio/ssl/context.hpp>

#include "net/openssl_ptr.hpp"

namespace socketio::net {
namespace {

namespace fs = std::filesystem;

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "'" << (haystack) << "' lacks '" << (needle) << "'"

using SessionPtr = std::unique_ptr<SSL_SESSION, OpensslDeleter<&SSL_SESSION_free>>;

// ---------------------------------------------------------------------------------------------
// A test PKI, made with the OpenSSL API.

std::string drain_errors() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text;
}

EvpPkeyPtr make_key(bool rsa = false) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, rsa ? "RSA" : "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) return nullptr;
  if (rsa ? EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) != 1
          : EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1)
    return nullptr;
  if (EVP_PKEY_generate(ctx.get(), &key) != 1) return nullptr;
  return EvpPkeyPtr(key);
}

struct CertSpec {
  std::string cn;
  std::string san;  // "DNS:a,IP:1.2.3.4" or empty
  bool ca = false;
  long not_before = -3600;  // seconds from now
  long not_after = 90L * 24 * 3600;
  bool key_ids = true;  // subject/authority key identifiers
};

void add_ext(X509* cert, X509V3_CTX* v3, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, v3, nid, value));
  ASSERT_TRUE(ext) << drain_errors();
  ASSERT_EQ(X509_add_ext(cert, ext.get(), -1), 1);
}

// Signed by issuer/issuer_key, or self-signed when issuer is null.
X509Ptr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  BignumPtr serial(BN_new());
  BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  add_ext(cert.get(), &v3, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(cert.get(), &v3, NID_key_usage,
          spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  if (spec.key_ids) {
    add_ext(cert.get(), &v3, NID_subject_key_identifier, "hash");
    add_ext(cert.get(), &v3, NID_authority_key_identifier, "keyid:always");
  }
  if (!spec.san.empty()) add_ext(cert.get(), &v3, NID_subject_alt_name, spec.san.c_str());
  EXPECT_GT(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0)
      << drain_errors();
  return cert;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string cert_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bio_text(bio.get());
}

std::string key_pem(EVP_PKEY* key, const std::string& passphrase = {}) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (passphrase.empty()) {
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey(bio.get(), key, EVP_aes_256_cbc(),
                             reinterpret_cast<const unsigned char*>(passphrase.data()),
                             static_cast<int>(passphrase.size()), nullptr, nullptr);
  }
  return bio_text(bio.get());
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Replaces a file the way certbot and Kubernetes do: write aside, then rename over it.
void replace_file(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".new";
  write_file(tmp, content);
  fs::rename(tmp, path);
}

std::string cn_of(X509* cert) {
  char buf[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf) < 0) return "?";
  return buf;
}

constexpr char kPassphrase[] = "correct horse battery";

struct Pki {
  fs::path dir;
  EvpPkeyPtr root_key, inter_key, leaf_key, leaf2_key, wild_key, exact_key, api_key, other_key, impostor_key;
  X509Ptr root, inter, leaf, leaf2, wild, exact, api, expired, future, impostor_root, self_root;

  std::string path(const std::string& name) const { return (dir / name).string(); }

  void make() {
    char tmpl[] = "/tmp/sio-tls-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    root_key = make_key();
    inter_key = make_key();
    leaf_key = make_key();
    leaf2_key = make_key();
    wild_key = make_key();
    exact_key = make_key();
    api_key = make_key(/*rsa=*/true);
    other_key = make_key();
    impostor_key = make_key();
    ASSERT_TRUE(root_key && inter_key && leaf_key && leaf2_key && wild_key && exact_key && api_key &&
                other_key && impostor_key);

    root = make_cert({"Test Root CA", "", true, -3600, 3650L * 86400}, root_key.get(), nullptr, nullptr);
    inter = make_cert({"Test Intermediate CA", "", true}, inter_key.get(), root.get(), root_key.get());
    leaf =
        make_cert({"localhost", "DNS:localhost,IP:127.0.0.1"}, leaf_key.get(), inter.get(), inter_key.get());
    leaf2 = make_cert({"localhost-2", "DNS:localhost,IP:127.0.0.1"}, leaf2_key.get(), inter.get(),
                      inter_key.get());
    wild = make_cert({"*.example.test", "DNS:*.example.test"}, wild_key.get(), inter.get(), inter_key.get());
    exact = make_cert({"exact.example.test", "DNS:exact.example.test"}, exact_key.get(), inter.get(),
                      inter_key.get());
    api = make_cert({"api.other.test", "DNS:api.other.test"}, api_key.get(), inter.get(), inter_key.get());
    expired = make_cert({"expired", "DNS:localhost", false, -30L * 86400, -86400}, leaf_key.get(),
                        inter.get(), inter_key.get());
    future = make_cert({"future", "DNS:localhost", false, 10L * 86400, 100L * 86400}, leaf_key.get(),
                       inter.get(), inter_key.get());
    // Same name as the root, another key: a chain that looks right but does not verify. The
    // second one has no key identifier, so only its signature gives it away.
    impostor_root = make_cert({"Test Root CA", "", true}, impostor_key.get(), nullptr, nullptr);
    X509Ptr quiet_impostor = make_cert({"Test Root CA", "", true, -3600, 86400, /*key_ids=*/false},
                                       impostor_key.get(), nullptr, nullptr);

    write_file(dir / "root.pem", cert_pem(root.get()));
    write_file(dir / "inter.pem", cert_pem(inter.get()));
    write_file(dir / "chain.pem", cert_pem(inter.get()) + cert_pem(root.get()));
    write_file(dir / "chain-reversed.pem", cert_pem(root.get()) + cert_pem(inter.get()));
    write_file(dir / "impostor-chain.pem", cert_pem(inter.get()) + cert_pem(impostor_root.get()));
    write_file(dir / "quiet-impostor-chain.pem", cert_pem(inter.get()) + cert_pem(quiet_impostor.get()));
    write_file(dir / "localhost.pem", cert_pem(leaf.get()));
    write_file(dir / "localhost-full.pem", cert_pem(leaf.get()) + cert_pem(inter.get()));
    write_file(dir / "localhost.key", key_pem(leaf_key.get()));
    write_file(dir / "localhost-combined.pem",
               key_pem(leaf_key.get()) + cert_pem(leaf.get()) + cert_pem(inter.get()));
    write_file(dir / "localhost-enc.key", key_pem(leaf_key.get(), kPassphrase));
    write_file(dir / "localhost2.pem", cert_pem(leaf2.get()));
    write_file(dir / "localhost2.key", key_pem(leaf2_key.get()));
    write_file(dir / "wild.pem", cert_pem(wild.get()));
    write_file(dir / "wild.key", key_pem(wild_key.get()));
    write_file(dir / "exact.pem", cert_pem(exact.get()));
    write_file(dir / "exact.key", key_pem(exact_key.get()));
    write_file(dir / "api.pem", cert_pem(api.get()));
    write_file(dir / "api.key", key_pem(api_key.get()));
    write_file(dir / "other.key", key_pem(other_key.get()));
    write_file(dir / "expired.pem", cert_pem(expired.get()));
    write_file(dir / "future.pem", cert_pem(future.get()));
    write_file(dir / "pass.txt", std::string(kPassphrase) + "\n");
    write_file(dir / "wrong-pass.txt", "not the passphrase\n");
    write_file(dir / "empty-pass.txt", "\nsecond line\n");
    write_file(dir / "garbage.pem", "this is not a certificate\n");
    std::string der("\x30\x82\x01\x0a", 4);
    write_file(dir / "der.crt", der + std::string(200, '\x01'));
  }
};

// ---------------------------------------------------------------------------------------------
// An OpenSSL client talking to a server SSL over a memory BIO pair.

struct Client {
  std::string sni;                 // server_name to send; empty = none
  std::string verify_host;         // check the certificate names this host; empty = no check
  bool verify = true;              // fail the handshake unless the chain verifies to `trust`
  X509* trust = nullptr;           // the only trusted root (defaults to the test root)
  std::vector<std::string> alpn;   // protocols to offer; empty = no ALPN extension
  int max_version = 0;             // e.g. TLS1_2_VERSION; 0 = highest
  std::string ciphers;             // TLS 1.2 cipher list; empty = OpenSSL default
  SSL_SESSION* session = nullptr;  // to resume
};

struct Outcome {
  bool ok = false;
  std::string error;
  long verify_result = -1;
  std::vector<std::string> chain;  // CN of every certificate the server sent, in order
  std::string alpn;
  std::string version;
  std::string cipher;
  std::string leaf_fingerprint;
  bool resumed = false;
  int tickets = 0;  // sessions the client was given (TLS 1.3: one per NewSessionTicket)
  SessionPtr session;
};

// The client's new-session callback: counts, does not keep (returns 0).
int count_ticket(SSL* ssl, SSL_SESSION* /*session*/) {
  ++*static_cast<int*>(SSL_get_app_data(ssl));
  return 0;
}

std::string sha256_of(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  std::string out;
  char buf[4];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, i == 0 ? "%02X" : ":%02X", md[i]);
    out += buf;
  }
  return out;
}

class TlsContextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki;
    pki_->make();
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(pki_->dir, ec);
    delete pki_;
    pki_ = nullptr;
  }
  void TearDown() override { EXPECT_EQ(ERR_peek_error(), 0UL) << "OpenSSL error queue left dirty"; }

  static const Pki& pki() { return *pki_; }
  static std::string path(const std::string& name) { return pki_->path(name); }

  static TlsOptions default_options() {
    TlsOptions o;
    o.cert = {path("localhost.pem"), path("localhost.key"), path("chain.pem")};
    return o;
  }
  static TlsOptions sni_options() {
    TlsOptions o = default_options();
    o.sni.push_back({"*.example.test", {path("wild.pem"), path("wild.key"), path("inter.pem")}});
    o.sni.push_back({"exact.example.test", {path("exact.pem"), path("exact.key"), path("inter.pem")}});
    o.sni.push_back({"API.Other.Test", {path("api.pem"), path("api.key"), path("inter.pem")}});
    return o;
  }

  static std::unique_ptr<TlsContext> make(const TlsOptions& options) {
    std::string error;
    auto tls = TlsContext::create(options, error);
    EXPECT_TRUE(tls) << error;
    return tls;
  }
  static std::string create_error(const TlsOptions& options) {
    std::string error;
    auto tls = TlsContext::create(options, error);
    EXPECT_FALSE(tls);
    EXPECT_FALSE(error.empty());
    return error;
  }

  static Outcome handshake(const TlsContext& tls, const Client& client) {
    return handshake(SslPtr(SSL_new(tls.current()->native_handle())), client);
  }

  static Outcome handshake(SslPtr server, const Client& client) {
    Outcome out;
    SslCtxPtr cctx(SSL_CTX_new(TLS_client_method()));
    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx.get()), client.trust ? client.trust : pki().root.get());
    SSL_CTX_set_verify(cctx.get(), client.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    if (client.max_version != 0) SSL_CTX_set_max_proto_version(cctx.get(), client.max_version);
    if (!client.ciphers.empty()) {
      EXPECT_EQ(SSL_CTX_set_cipher_list(cctx.get(), client.ciphers.c_str()), 1);
    }
    SSL_CTX_set_session_cache_mode(cctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(cctx.get(), &count_ticket);
    SslPtr c(SSL_new(cctx.get()));
    SSL_set_app_data(c.get(), &out.tickets);
    if (!client.sni.empty()) SSL_set_tlsext_host_name(c.get(), client.sni.c_str());
    if (!client.verify_host.empty()) SSL_set1_host(c.get(), client.verify_host.c_str());
    if (!client.alpn.empty()) {
      std::string wire;
      for (const auto& p : client.alpn) wire += static_cast<char>(p.size()) + p;
      EXPECT_EQ(SSL_set_alpn_protos(c.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned>(wire.size())),
                0);
    }
    if (client.session != nullptr) SSL_set_session(c.get(), client.session);

    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
    SSL_set_bio(c.get(), client_bio, client_bio);
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_connect_state(c.get());
    SSL_set_accept_state(server.get());

    // Each side runs until it blocks on the other. Once a side fails, the peer gets one more
    // round, to read the alert.
    enum class State { running, done, failed };
    SSL* const sides[2] = {c.get(), server.get()};
    State state[2] = {State::running, State::running};
    bool failure_seen = false;
    for (int round = 0; round < 20; ++round) {
      for (int i = 0; i < 2; ++i) {
        if (state[i] != State::running) continue;
        const int r = SSL_do_handshake(sides[i]);
        if (r == 1) {
          state[i] = State::done;
          continue;
        }
        const int e = SSL_get_error(sides[i], r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) continue;
        out.error += std::string(i == 0 ? "client: " : "server: ") + drain_errors() + " ";
        state[i] = State::failed;
      }
      if (state[0] != State::running && state[1] != State::running) break;
      const bool failed = state[0] == State::failed || state[1] == State::failed;
      if (failed && failure_seen) break;
      failure_seen = failed;
    }
    ERR_clear_error();
    out.verify_result = SSL_get_verify_result(c.get());
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(c.get()))
      for (int i = 0; i < sk_X509_num(chain); ++i) out.chain.push_back(cn_of(sk_X509_value(chain, i)));
    if (state[0] != State::done || state[1] != State::done) return out;

    // Application data both ways; the client's read also takes in TLS 1.3 session tickets.
    char buf[16] = {};
    EXPECT_EQ(SSL_write(server.get(), "hello", 5), 5);
    EXPECT_EQ(SSL_read(c.get(), buf, sizeof buf), 5);
    EXPECT_EQ(std::string(buf, 5), "hello");
    EXPECT_EQ(SSL_write(c.get(), "ping", 4), 4);
    EXPECT_EQ(SSL_read(server.get(), buf, sizeof buf), 4);
    EXPECT_EQ(std::string(buf, 4), "ping");

    out.ok = true;
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(c.get(), &alpn, &alpn_len);
    out.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    out.version = SSL_get_version(c.get());
    out.cipher = SSL_get_cipher_name(c.get());
    out.resumed = SSL_session_reused(c.get()) == 1;
    if (X509* peer = SSL_get0_peer_certificate(c.get())) out.leaf_fingerprint = sha256_of(peer);
    out.session.reset(SSL_get1_session(c.get()));
    // A clean close: OpenSSL marks the session of an SSL freed without close_notify as not
    // resumable, as a browser's would be after a broken connection.
    SSL_shutdown(c.get());
    SSL_shutdown(server.get());
    ERR_clear_error();
    return out;
  }

  static std::vector<std::string> full_chain() {
    return {"localhost", "Test Intermediate CA", "Test Root CA"};
  }

  static Pki* pki_;
};

Pki* TlsContextTest::pki_ = nullptr;

// ---------------------------------------------------------------------------------------------
// parse_sni_spec

TEST(ParseSniSpec, AcceptsTwoOrThreeFiles) {
  std::string error;
  auto spec = parse_sni_spec("a.example.com=/c.pem,/k.pem", error);
  ASSERT_TRUE(spec) << error;
  EXPECT_EQ(spec->host, "a.example.com");
  EXPECT_EQ(spec->cert.cert_file, "/c.pem");
  EXPECT_EQ(spec->cert.key_file, "/k.pem");
  EXPECT_EQ(spec->cert.ca_file, "");

  spec = parse_sni_spec("*.Example.com=c.pem,k.pem,ca.pem", error);
  ASSERT_TRUE(spec) << error;
  EXPECT_EQ(spec->host, "*.Example.com");
  EXPECT_EQ(spec->cert.ca_file, "ca.pem");
}

TEST(ParseSniSpec, ErrorsSayWhatIsWrong) {
  const auto error_of = [](std::string_view text) {
    std::string error;
    EXPECT_FALSE(parse_sni_spec(text, error)) << text;
    return error;
  };
  EXPECT_CONTAINS(error_of("example.com"), "no '='");
  EXPECT_CONTAINS(error_of("=c.pem,k.pem"), "no host");
  EXPECT_CONTAINS(error_of("example.com=c.pem"), "1 file(s)");
  EXPECT_CONTAINS(error_of("example.com=a,b,c,d"), "4 file(s)");
  EXPECT_CONTAINS(error_of("example.com=c.pem,,ca.pem"), "empty file name");
  EXPECT_CONTAINS(error_of("a.*.com=c.pem,k.pem"), "not a host name");
  EXPECT_CONTAINS(error_of("*=c.pem,k.pem"), "not a host name");
  EXPECT_CONTAINS(error_of("exa mple.com=c.pem,k.pem"), "not a host name");
}

// ---------------------------------------------------------------------------------------------
// Chain

TEST_F(TlsContextTest, SendsCertFileThenCaFileInOrderAndClientVerifiesAgainstRootOnly) {
  auto tls = make(default_options());
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->warnings().empty());
  for (const int version : {TLS1_2_VERSION, 0}) {
    const Outcome out = handshake(*tls, {.verify_host = "localhost", .max_version = version});
    ASSERT_TRUE(out.ok) << out.error;
    EXPECT_EQ(out.verify_result, X509_V_OK);
    EXPECT_EQ(out.chain, full_chain());
  }
}

TEST_F(TlsContextTest, SendsChainFromCertFileAlone) {
  TlsOptions o = default_options();
  o.cert = {path("localhost-full.pem"), path("localhost.key"), ""};
  auto tls = make(o);
  ASSERT_TRUE(tls);
  const Outcome out = handshake(*tls, {.verify_host = "127.0.0.1"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain, (std::vector<std::string>{"localhost", "Test Intermediate CA"}));
}

TEST_F(TlsContextTest, CombinedKeyAndChainFile) {
  TlsOptions o = default_options();
  o.cert = {path("localhost-combined.pem"), path("localhost-combined.pem"), ""};
  auto tls = make(o);
  ASSERT_TRUE(tls);
  const Outcome out = handshake(*tls, {.verify_host = "localhost"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain, (std::vector<std::string>{"localhost", "Test Intermediate CA"}));
}

TEST_F(TlsContextTest, LeafOnlyIsSentAloneNeverCompletedFromAStore) {
  TlsOptions o = default_options();
  o.cert.ca_file.clear();
  auto tls = make(o);
  ASSERT_TRUE(tls);
  const Outcome out = handshake(*tls, {.verify = false});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain, (std::vector<std::string>{"localhost"}));
  EXPECT_NE(out.verify_result, X509_V_OK);  // the client cannot reach the root without the intermediate
}

// ---------------------------------------------------------------------------------------------
// Start-up errors name the file

TEST_F(TlsContextTest, MissingCertFile) {
  TlsOptions o = default_options();
  o.cert.cert_file = path("nope.pem");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "certificate file " + path("nope.pem"));
  EXPECT_CONTAINS(error, "No such file");
}

TEST_F(TlsContextTest, UnreadableCertFileIsADirectory) {
  TlsOptions o = default_options();
  o.cert.cert_file = pki().dir.string();
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, pki().dir.string());
  EXPECT_CONTAINS(error, "cannot read");
}

TEST_F(TlsContextTest, CertFileWithoutPem) {
  for (const char* name : {"garbage.pem", "der.crt", "localhost.key"}) {
    TlsOptions o = default_options();
    o.cert.cert_file = path(name);
    const std::string error = create_error(o);
    EXPECT_CONTAINS(error, "certificate file " + path(name));
    EXPECT_CONTAINS(error, "no PEM certificate");
  }
}

TEST_F(TlsContextTest, MalformedCertificateInFile) {
  std::string pem = cert_pem(pki().leaf.get());
  pem.replace(pem.find('\n') + 10, 8, "!!!!!!!!");  // corrupt the base64 of the first line
  write_file(pki().dir / "corrupt.pem", pem);
  TlsOptions o = default_options();
  o.cert.cert_file = path("corrupt.pem");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "certificate file " + path("corrupt.pem"));
  EXPECT_CONTAINS(error, "certificate #1 is malformed");
}

TEST_F(TlsContextTest, CaFileWithoutCertificate) {
  TlsOptions o = default_options();
  o.cert.ca_file = path("garbage.pem");
  EXPECT_CONTAINS(create_error(o), "CA file " + path("garbage.pem") + ": no PEM certificate");
}

TEST_F(TlsContextTest, MissingKeyFile) {
  TlsOptions o = default_options();
  o.cert.key_file = path("nope.key");
  EXPECT_CONTAINS(create_error(o), "key file " + path("nope.key") + ": cannot open");
}

TEST_F(TlsContextTest, KeyFileWithoutKey) {
  TlsOptions o = default_options();
  o.cert.key_file = path("localhost.pem");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "key file " + path("localhost.pem"));
  EXPECT_CONTAINS(error, "no PEM private key");
}

TEST_F(TlsContextTest, KeyDoesNotMatchCertificate) {
  TlsOptions o = default_options();
  o.cert.key_file = path("other.key");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "key file " + path("other.key"));
  EXPECT_CONTAINS(error, "does not match");
  EXPECT_CONTAINS(error, path("localhost.pem"));
}

TEST_F(TlsContextTest, EncryptedKeyWithPassphraseFile) {
  TlsOptions o = default_options();
  o.cert.key_file = path("localhost-enc.key");
  o.key_passphrase_file = path("pass.txt");
  auto tls = make(o);
  ASSERT_TRUE(tls);
  EXPECT_TRUE(handshake(*tls, {.verify_host = "localhost"}).ok);
}

TEST_F(TlsContextTest, EncryptedKeyWithoutPassphrase) {
  TlsOptions o = default_options();
  o.cert.key_file = path("localhost-enc.key");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "key file " + path("localhost-enc.key"));
  EXPECT_CONTAINS(error, "encrypted");
}

TEST_F(TlsContextTest, WrongPassphraseIsNamedButNotShown) {
  TlsOptions o = default_options();
  o.cert.key_file = path("localhost-enc.key");
  o.key_passphrase_file = path("wrong-pass.txt");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "key file " + path("localhost-enc.key"));
  EXPECT_CONTAINS(error, "wrong passphrase");
  EXPECT_CONTAINS(error, path("wrong-pass.txt"));
  EXPECT_EQ(error.find("not the passphrase"), std::string::npos) << error;
}

TEST_F(TlsContextTest, PassphraseFileProblems) {
  TlsOptions o = default_options();
  o.cert.key_file = path("localhost-enc.key");
  o.key_passphrase_file = path("nope.txt");
  EXPECT_CONTAINS(create_error(o), "key passphrase file " + path("nope.txt") + ": cannot open");
  o.key_passphrase_file = path("empty-pass.txt");
  EXPECT_CONTAINS(create_error(o),
                  "key passphrase file " + path("empty-pass.txt") + ": the first line is empty");
}

TEST_F(TlsContextTest, ChainThatSkipsTheIntermediate) {
  TlsOptions o = default_options();
  o.cert.ca_file = path("root.pem");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "CA file " + path("root.pem"));
  EXPECT_CONTAINS(error, "#1 'CN=Test Root CA' did not issue");
  EXPECT_CONTAINS(error, "#1 'CN=localhost' in certificate file " + path("localhost.pem"));
}

TEST_F(TlsContextTest, ChainInTheWrongOrder) {
  TlsOptions o = default_options();
  o.cert.ca_file = path("chain-reversed.pem");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "CA file " + path("chain-reversed.pem"));
  EXPECT_CONTAINS(error, "certificate #1 'CN=Test Root CA' did not issue");
}

TEST_F(TlsContextTest, ChainWithAnImpostorRoot) {
  TlsOptions o = default_options();
  o.cert.ca_file = path("impostor-chain.pem");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "CA file " + path("impostor-chain.pem"));
  EXPECT_CONTAINS(
      error, "#2 'CN=Test Root CA' did not issue the certificate before it, #1 'CN=Test Intermediate CA'");
}

TEST_F(TlsContextTest, ChainWithAnImpostorRootWithoutKeyIdentifiers) {
  TlsOptions o = default_options();
  o.cert.ca_file = path("quiet-impostor-chain.pem");
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "CA file " + path("quiet-impostor-chain.pem"));
  EXPECT_CONTAINS(error, "#2 'CN=Test Root CA' did not issue");
  EXPECT_CONTAINS(error, "its key does not verify the signature");
}

TEST_F(TlsContextTest, OptionErrors) {
  TlsOptions o = default_options();
  o.min_version = "1.1";
  EXPECT_CONTAINS(create_error(o), "'1.1' is not supported");

  o = default_options();
  o.ciphers = "NO-SUCH-CIPHER";
  EXPECT_CONTAINS(create_error(o), "cipher list 'NO-SUCH-CIPHER'");

  o = default_options();
  o.self_signed_host = "localhost";
  EXPECT_CONTAINS(create_error(o), "choose one");

  o = TlsOptions{};
  EXPECT_CONTAINS(create_error(o), "no TLS certificate");
  o.cert.cert_file = path("localhost.pem");
  EXPECT_CONTAINS(create_error(o), "key file missing");

  o = default_options();
  o.sni.push_back({"a.test", {path("wild.pem"), path("wild.key"), ""}});
  o.sni.push_back({"A.TEST", {path("wild.pem"), path("wild.key"), ""}});
  EXPECT_CONTAINS(create_error(o), "SNI host A.TEST is configured twice");

  o = default_options();
  o.sni.push_back({"bad host", {path("wild.pem"), path("wild.key"), ""}});
  EXPECT_CONTAINS(create_error(o), "'bad host' is not a host name");

  o = default_options();
  o.self_signed_host.clear();
  o.sni.push_back({"a.test", {path("wild.pem"), path("other.key"), ""}});
  const std::string error = create_error(o);
  EXPECT_CONTAINS(error, "SNI host a.test: key file " + path("other.key"));
  EXPECT_CONTAINS(error, "does not match");
}

// ---------------------------------------------------------------------------------------------
// Warnings

TEST_F(TlsContextTest, ExpiredCertificateIsAWarningNotAnError) {
  TlsOptions o = default_options();
  o.cert.cert_file = path("expired.pem");
  auto tls = make(o);
  ASSERT_TRUE(tls);
  const auto warnings = tls->warnings();
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_CONTAINS(warnings[0], "certificate file " + path("expired.pem"));
  EXPECT_CONTAINS(warnings[0], "'CN=expired' expired on 20");
  // Still served: the client is the one to reject it.
  const Outcome out = handshake(*tls, {.verify = false});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.verify_result, X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_F(TlsContextTest, NotYetValidAndUncoveredSniHostAreWarnings) {
  TlsOptions o = default_options();
  o.cert.cert_file = path("future.pem");
  o.sni.push_back({"nothere.test", {path("wild.pem"), path("wild.key"), path("inter.pem")}});
  auto tls = make(o);
  ASSERT_TRUE(tls);
  const auto warnings = tls->warnings();
  ASSERT_EQ(warnings.size(), 2U);
  EXPECT_CONTAINS(warnings[0], "certificate file " + path("future.pem"));
  EXPECT_CONTAINS(warnings[0], "is not valid yet");
  EXPECT_CONTAINS(warnings[1], "SNI host nothere.test:");
  EXPECT_CONTAINS(warnings[1], "does not cover nothere.test");
}

// ---------------------------------------------------------------------------------------------
// Protocol settings

TEST_F(TlsContextTest, ModernDefaultsOnTls12) {
  auto tls = make(default_options());
  ASSERT_TRUE(tls);
  const Outcome out = handshake(*tls, {.verify_host = "localhost", .max_version = TLS1_2_VERSION});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.version, "TLSv1.2");
  EXPECT_EQ(out.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");

  // CBC and RSA key exchange are refused.
  for (const char* weak : {"ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256"}) {
    const Outcome refused = handshake(*tls, {.max_version = TLS1_2_VERSION, .ciphers = weak});
    EXPECT_FALSE(refused.ok) << weak;
    EXPECT_CONTAINS(refused.error, "no shared cipher");
  }

  SSL_CTX* ctx = tls->current()->native_handle();
  const uint64_t must = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE;
  EXPECT_EQ(SSL_CTX_get_options(ctx) & must, must);
  EXPECT_EQ(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET, 0U);
  EXPECT_NE(SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS, 0);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
}

TEST_F(TlsContextTest, CipherOverride) {
  TlsOptions o = default_options();
  o.ciphers = "ECDHE-ECDSA-AES128-SHA256";
  auto tls = make(o);
  ASSERT_TRUE(tls);
  const Outcome out =
      handshake(*tls, {.max_version = TLS1_2_VERSION, .ciphers = "ECDHE-ECDSA-AES128-SHA256"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.cipher, "ECDHE-ECDSA-AES128-SHA256");
}

TEST_F(TlsContextTest, Tls13ByDefaultAndMinVersion13RefusesTls12Clients) {
  auto tls = make(default_options());
  ASSERT_TRUE(tls);
  const Outcome out = handshake(*tls, {});
  EXPECT_EQ(out.version, "TLSv1.3");
  EXPECT_EQ(out.cipher, "TLS_AES_128_GCM_SHA256");  // the server's order, AES-128 first

  TlsOptions o = default_options();
  o.min_version = "1.3";
  tls = make(o);
  ASSERT_TRUE(tls);
  const Outcome refused = handshake(*tls, {.max_version = TLS1_2_VERSION});
  EXPECT_FALSE(refused.ok);
  EXPECT_CONTAINS(refused.error, "protocol version");
  const Outcome ok = handshake(*tls, {.verify_host = "localhost"});
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.version, "TLSv1.3");
}

TEST_F(TlsContextTest, Alpn) {
  auto tls = make(sni_options());
  ASSERT_TRUE(tls);
  Outcome out = handshake(*tls, {.alpn = {"h2", "http/1.1"}});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.alpn, "http/1.1");

  out = handshake(*tls, {});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.alpn, "");

  out = handshake(*tls, {.alpn = {"h2"}});
  EXPECT_FALSE(out.ok);
  EXPECT_CONTAINS(out.error, "no application protocol");

  // After the switch to an SNI context, that context's ALPN callback runs.
  out = handshake(*tls, {.sni = "a.example.test", .alpn = {"spdy/3", "http/1.1"}});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.alpn, "http/1.1");
  EXPECT_EQ(out.chain.front(), "*.example.test");
}

TEST_F(TlsContextTest, StatelessSessionTicketsResume) {
  auto tls = make(default_options());
  ASSERT_TRUE(tls);
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    const Outcome first = handshake(*tls, {.max_version = version});
    ASSERT_TRUE(first.ok) << first.error;
    ASSERT_TRUE(first.session);
    EXPECT_FALSE(first.resumed);
    const Outcome second = handshake(*tls, {.max_version = version, .session = first.session.get()});
    ASSERT_TRUE(second.ok) << second.error;
    EXPECT_TRUE(second.resumed) << version;
  }
}

// TLS 1.3 servers send two tickets by default (OpenSSL, Node); a browser keeps one, and each
// costs the server a key derivation, an encryption and a send: one per handshake, resumable.
TEST_F(TlsContextTest, OneSessionTicketPerHandshakeAndItResumes) {
  auto tls = make(default_options());
  ASSERT_TRUE(tls);
  const Outcome first = handshake(*tls, {});
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.version, "TLSv1.3");
  EXPECT_EQ(first.tickets, 1);
  const Outcome second = handshake(*tls, {.session = first.session.get()});
  ASSERT_TRUE(second.ok) << second.error;
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.tickets, 1);
}

// ---------------------------------------------------------------------------------------------
// SNI

TEST_F(TlsContextTest, SniSelectsExactThenOneLabelWildcardElseDefault) {
  auto tls = make(sni_options());
  ASSERT_TRUE(tls);
  const struct {
    const char* sni;
    const char* leaf;
  } cases[] = {
      {"", "localhost"},
      {"localhost", "localhost"},
      {"unknown.test", "localhost"},
      {"a.example.test", "*.example.test"},
      {"A.Example.TEST", "*.example.test"},
      {"a.example.test.", "*.example.test"},
      {"example.test", "localhost"},
      {"a.b.example.test", "localhost"},
      {"exact.example.test", "exact.example.test"},  // exact beats the wildcard
      {"EXACT.example.test", "exact.example.test"},
      {"api.other.test", "api.other.test"},
      {"Api.Other.Test", "api.other.test"},
      {"xapi.other.test", "localhost"},
  };
  for (const auto& c : cases) {
    const Outcome out = handshake(*tls, {.sni = c.sni, .verify = false});
    ASSERT_TRUE(out.ok) << c.sni << ": " << out.error;
    ASSERT_FALSE(out.chain.empty());
    EXPECT_EQ(out.chain.front(), c.leaf) << "SNI '" << c.sni << "'";
  }
}

TEST_F(TlsContextTest, SniContextSendsItsOwnChainAndVerifies) {
  auto tls = make(sni_options());
  ASSERT_TRUE(tls);
  Outcome out = handshake(*tls, {.sni = "z.example.test", .verify_host = "z.example.test"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain, (std::vector<std::string>{"*.example.test", "Test Intermediate CA"}));
  // An RSA certificate on TLS 1.2: ECDHE-RSA with AES-GCM.
  out = handshake(*tls,
                  {.sni = "api.other.test", .verify_host = "api.other.test", .max_version = TLS1_2_VERSION});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(out.chain, (std::vector<std::string>{"api.other.test", "Test Intermediate CA"}));
}

TEST_F(TlsContextTest, SniContextsHaveTheSameSettings) {
  auto tls = make(sni_options());
  ASSERT_TRUE(tls);
  SslPtr server(SSL_new(tls->current()->native_handle()));
  SSL* raw = server.get();
  SSL_up_ref(raw);  // keep it to inspect after the handshake helper frees its reference
  SslPtr keep(raw);
  ASSERT_TRUE(handshake(std::move(server), {.sni = "a.example.test", .verify = false}).ok);
  SSL_CTX* sni_ctx = SSL_get_SSL_CTX(keep.get());
  ASSERT_NE(sni_ctx, tls->current()->native_handle());
  const uint64_t must = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE;
  EXPECT_EQ(SSL_CTX_get_options(sni_ctx) & must, must);
  EXPECT_NE(SSL_CTX_get_mode(sni_ctx) & SSL_MODE_RELEASE_BUFFERS, 0);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(sni_ctx), TLS1_2_VERSION);
}

TEST_F(TlsContextTest, ConnectionOutlivesTheTlsContext) {
  auto tls = make(sni_options());
  ASSERT_TRUE(tls);
  SslPtr server(SSL_new(tls->current()->native_handle()));
  tls.reset();  // the server shutting down while a handshake is still pending
  const Outcome out =
      handshake(std::move(server), {.sni = "a.example.test", .verify_host = "a.example.test"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain, (std::vector<std::string>{"*.example.test", "Test Intermediate CA"}));
}

// ---------------------------------------------------------------------------------------------
// Reload

class TlsReloadTest : public TlsContextTest {
 protected:
  void SetUp() override {
    dir_ = pki().dir / ("reload-" + std::to_string(::getpid()) + "-" +
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    fs::copy_file(path("localhost.pem"), dir_ / "cert.pem");
    fs::copy_file(path("localhost.key"), dir_ / "key.pem");
    fs::copy_file(path("chain.pem"), dir_ / "ca.pem");
    fs::copy_file(path("wild.pem"), dir_ / "sni.pem");
    fs::copy_file(path("wild.key"), dir_ / "sni.key");
    options_.cert = {file("cert.pem"), file("key.pem"), file("ca.pem")};
    options_.sni.push_back({"*.example.test", {file("sni.pem"), file("sni.key"), path("inter.pem")}});
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // The second localhost certificate for the default and the exact one for the SNI entry.
  void rotate() {
    replace_file(dir_ / "cert.pem", read_text(path("localhost2.pem")));
    replace_file(dir_ / "key.pem", read_text(path("localhost2.key")));
    replace_file(dir_ / "sni.pem", read_text(path("exact.pem")));
    replace_file(dir_ / "sni.key", read_text(path("exact.key")));
  }

  fs::path dir_;
  TlsOptions options_;
};

TEST_F(TlsReloadTest, SwapsTheLeafWhileHandshakesStartedBeforeKeepTheOldSet) {
  auto tls = make(options_);
  ASSERT_TRUE(tls);
  EXPECT_FALSE(tls->files_changed());
  const std::string old_fingerprint = tls->fingerprint_sha256();

  // Connections accepted before the reload: SSL objects made from the old context, whose
  // shared_ptr is already gone, as in a session that only keeps its stream.
  SslPtr old_default(SSL_new(tls->current()->native_handle()));
  SslPtr old_sni(SSL_new(tls->current()->native_handle()));

  rotate();
  EXPECT_TRUE(tls->files_changed());
  std::string error;
  ASSERT_TRUE(tls->reload(error)) << error;
  EXPECT_FALSE(tls->files_changed());
  EXPECT_NE(tls->fingerprint_sha256(), old_fingerprint);
  EXPECT_EQ(tls->fingerprint_sha256(), sha256_of(pki().leaf2.get()));

  Outcome out = handshake(*tls, {.verify_host = "localhost"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain, (std::vector<std::string>{"localhost-2", "Test Intermediate CA", "Test Root CA"}));
  out = handshake(*tls, {.sni = "exact.example.test", .verify_host = "exact.example.test"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain.front(), "exact.example.test");

  out = handshake(std::move(old_default), {.verify_host = "localhost"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain, full_chain());
  EXPECT_EQ(out.leaf_fingerprint, old_fingerprint);
  out = handshake(std::move(old_sni), {.sni = "q.example.test", .verify_host = "q.example.test"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain.front(), "*.example.test");
}

TEST_F(TlsReloadTest, FailedReloadKeepsTheOldSet) {
  auto tls = make(options_);
  ASSERT_TRUE(tls);
  const auto before = tls->current();
  const std::string fingerprint = tls->fingerprint_sha256();

  // A half-finished rotation: new certificate, old key.
  replace_file(dir_ / "cert.pem", read_text(path("localhost2.pem")));
  EXPECT_TRUE(tls->files_changed());
  std::string error;
  EXPECT_FALSE(tls->reload(error));
  EXPECT_CONTAINS(error, "key file " + file("key.pem"));
  EXPECT_CONTAINS(error, "does not match");
  EXPECT_EQ(tls->current(), before);
  EXPECT_EQ(tls->fingerprint_sha256(), fingerprint);
  EXPECT_TRUE(tls->files_changed());  // still differs from what is loaded: the watcher retries
  const Outcome out = handshake(*tls, {.verify_host = "localhost"});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.chain.front(), "localhost");

  // An SNI file that went missing fails the reload the same way, naming the host.
  replace_file(dir_ / "key.pem", read_text(path("localhost2.key")));
  fs::remove(dir_ / "sni.key");
  EXPECT_FALSE(tls->reload(error));
  EXPECT_CONTAINS(error, "SNI host *.example.test: key file " + file("sni.key") + ": cannot open");
  EXPECT_EQ(tls->current(), before);

  fs::copy_file(path("wild.key"), dir_ / "sni.key");
  ASSERT_TRUE(tls->reload(error)) << error;
  EXPECT_NE(tls->current(), before);
  EXPECT_EQ(tls->fingerprint_sha256(), sha256_of(pki().leaf2.get()));
}

TEST_F(TlsReloadTest, FilesChangedSeesInPlaceEditsAndRemovals) {
  auto tls = make(options_);
  ASSERT_TRUE(tls);
  EXPECT_FALSE(tls->files_changed());
  // Same content, written in place: only the mtime moves.
  const auto ca = dir_ / "ca.pem";
  fs::last_write_time(ca, fs::last_write_time(ca) + std::chrono::seconds(5));
  EXPECT_TRUE(tls->files_changed());
  std::string error;
  ASSERT_TRUE(tls->reload(error)) << error;
  EXPECT_FALSE(tls->files_changed());
  fs::remove(dir_ / "sni.pem");
  EXPECT_TRUE(tls->files_changed());
}

TEST_F(TlsReloadTest, ConcurrentHandshakesDuringReloads) {
  auto tls = make(options_);
  ASSERT_TRUE(tls);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> handshakes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      while (!stop.load()) {
        const Outcome out = handshake(*tls, {.sni = t == 0 ? "" : "w.example.test", .verify = false});
        if (!out.ok) failures.fetch_add(1);
        handshakes.fetch_add(1);
      }
    });
  }
  std::string error;
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(tls->reload(error)) << error;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  while (handshakes.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// ---------------------------------------------------------------------------------------------
// Self-signed

TEST_F(TlsContextTest, SelfSignedCertificateInMemory) {
  TlsOptions o;
  o.self_signed_host = "dev.local";
  auto tls = make(o);
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->warnings().empty());
  EXPECT_FALSE(tls->files_changed());
  const std::string fp = tls->fingerprint_sha256();
  EXPECT_TRUE(std::regex_match(fp, std::regex("([0-9A-F]{2}:){31}[0-9A-F]{2}"))) << fp;

  X509* cert = SSL_CTX_get0_certificate(tls->current()->native_handle());
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cn_of(cert), "dev.local");
  EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
  EXPECT_EQ(EVP_PKEY_get_id(X509_get0_pubkey(cert)), EVP_PKEY_EC);
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_EQ(X509_check_host(cert, "dev.local", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr), 1);
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert)), 1);
  EXPECT_GE(days, 365);
  EXPECT_LE(days, 366);

  // A client that pins exactly this certificate verifies it, host name included.
  const Outcome out = handshake(*tls, {.verify_host = "dev.local", .trust = cert});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.leaf_fingerprint, fp);
  EXPECT_EQ(out.chain, (std::vector<std::string>{"dev.local"}));

  // Reload keeps the certificate: a pinned fingerprint stays valid.
  std::string error;
  ASSERT_TRUE(tls->reload(error)) << error;
  EXPECT_EQ(tls->fingerprint_sha256(), fp);

  // Each TlsContext makes its own key.
  auto other = make(o);
  ASSERT_TRUE(other);
  EXPECT_NE(other->fingerprint_sha256(), fp);
}

TEST_F(TlsContextTest, SelfSignedForAnIpAddress) {
  TlsOptions o;
  o.self_signed_host = "127.0.0.1";
  auto tls = make(o);
  ASSERT_TRUE(tls);
  X509* cert = SSL_CTX_get0_certificate(tls->current()->native_handle());
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  const Outcome out = handshake(*tls, {.trust = cert});
  ASSERT_TRUE(out.ok) << out.error;

  o.self_signed_host = "bad,host";
  EXPECT_CONTAINS(create_error(o), "self-signed host 'bad,host'");
}

}  // namespace
}  // namespace socketio::net
