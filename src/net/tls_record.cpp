// TLS 1.3 record protection (see the header). References are to RFC 8446.
#include "net/tls_record.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

#include <atomic>
#include <cstring>
#include <string_view>

namespace socketio::net::tls13 {

struct RecordLayer::Suite {
  std::uint16_t id;
  const char* cipher_name;
  const char* digest_name;
  std::size_t key_size;
  std::size_t hash_size;
  EVP_CIPHER* cipher;  // fetched once for the process, never freed
};

namespace {

std::atomic<std::uint64_t> g_key_update_interval{std::uint64_t{1} << 23};

EVP_MAC_CTX* hmac_context(const RecordLayer::Suite& suite);

const RecordLayer::Suite* find_suite(std::uint16_t id) {
  static RecordLayer::Suite suites[] = {
      {0x1301, "AES-128-GCM", "SHA256", 16, 32, nullptr},
      {0x1302, "AES-256-GCM", "SHA384", 32, 48, nullptr},
      {0x1303, "ChaCha20-Poly1305", "SHA256", 32, 32, nullptr},
  };
  // Fetching is what OpenSSL 3.0 makes slow: once per process, not per connection.
  static const bool fetched = [] {
    for (auto& s : suites) s.cipher = EVP_CIPHER_fetch(nullptr, s.cipher_name, nullptr);
    return true;
  }();
  static_cast<void>(fetched);
  for (const auto& s : suites)
    if (s.id == id && s.cipher != nullptr && hmac_context(s) != nullptr) return &s;
  return nullptr;
}

// One HMAC context per thread and hash, made once: OpenSSL 3.0's one-shot HMAC() fetches the
// algorithms by name on every call, which a handshake would pay four times.
EVP_MAC_CTX* hmac_context(const RecordLayer::Suite& suite) {
  struct Contexts {
    EVP_MAC_CTX* sha256 = nullptr;
    EVP_MAC_CTX* sha384 = nullptr;
    ~Contexts() {
      EVP_MAC_CTX_free(sha256);
      EVP_MAC_CTX_free(sha384);
    }
  };
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  thread_local Contexts contexts;
  EVP_MAC_CTX*& ctx = suite.hash_size == 48 ? contexts.sha384 : contexts.sha256;
  if (ctx == nullptr && mac != nullptr) {
    ctx = EVP_MAC_CTX_new(mac);
    char digest[16];
    std::strncpy(digest, suite.digest_name, sizeof digest - 1);
    digest[sizeof digest - 1] = '\0';
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (ctx != nullptr && EVP_MAC_CTX_set_params(ctx, params) != 1) {
      EVP_MAC_CTX_free(ctx);
      ctx = nullptr;
    }
  }
  return ctx;
}

// HKDF-Expand-Label(secret, label, "", length) for length ≤ the hash's size (§7.1): one HMAC,
// T(1) = HMAC(secret, HkdfLabel || 0x01), truncated.
bool expand_label(const RecordLayer::Suite& suite, const unsigned char* secret, std::size_t secret_size,
                  std::string_view label, unsigned char* out, std::size_t length) {
  unsigned char info[2 + 1 + 6 + 16 + 1 + 1];
  std::size_t n = 0;
  info[n++] = static_cast<unsigned char>(length >> 8);
  info[n++] = static_cast<unsigned char>(length & 0xff);
  info[n++] = static_cast<unsigned char>(6 + label.size());
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label.data(), label.size());
  n += label.size();
  info[n++] = 0;  // empty context
  info[n++] = 1;  // HKDF-Expand's counter for the first block
  unsigned char block[EVP_MAX_MD_SIZE];
  std::size_t block_size = 0;
  EVP_MAC_CTX* ctx = hmac_context(suite);
  if (ctx == nullptr || EVP_MAC_init(ctx, secret, secret_size, nullptr) != 1 ||
      EVP_MAC_update(ctx, info, n) != 1 || EVP_MAC_final(ctx, block, &block_size, sizeof block) != 1 ||
      block_size < length)
    return false;
  std::memcpy(out, block, length);
  OPENSSL_cleanse(block, sizeof block);
  return true;
}

// The per-record nonce: the static IV XOR the sequence number, left-padded (§5.3).
void make_nonce(const unsigned char* iv, std::uint64_t seq, unsigned char* nonce) {
  std::memcpy(nonce, iv, 12);
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<unsigned char>(seq >> (8 * i));
}

void write_header(unsigned char* out, std::size_t length) {
  out[0] = static_cast<unsigned char>(ContentType::application_data);  // opaque_type
  out[1] = 0x03;                                                       // legacy_record_version 0x0303
  out[2] = 0x03;
  out[3] = static_cast<unsigned char>(length >> 8);
  out[4] = static_cast<unsigned char>(length & 0xff);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The SSL's slot for its Secrets: an index of its own, not the app data (ex_data 0), which
// others use (Asio's ssl::stream keeps its verify callback there).
int secrets_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// "LABEL <client random, hex> <secret, hex>" (NSS key log format, as OpenSSL writes it).
void keylog(const SSL* ssl, const char* line) {
  auto* secrets = static_cast<Secrets*>(SSL_get_ex_data(ssl, secrets_index()));
  if (secrets == nullptr || line == nullptr) return;
  std::string_view text(line);
  unsigned char* out = nullptr;
  std::uint8_t* out_size = nullptr;
  if (text.starts_with("CLIENT_TRAFFIC_SECRET_0 ")) {
    out = secrets->client;
    out_size = &secrets->client_size;
  } else if (text.starts_with("SERVER_TRAFFIC_SECRET_0 ")) {
    out = secrets->server;
    out_size = &secrets->server_size;
  } else {
    return;
  }
  const auto last = text.rfind(' ');
  if (last == std::string_view::npos) return;
  const std::string_view hex = text.substr(last + 1);
  if (hex.size() % 2 != 0 || hex.size() / 2 > sizeof secrets->client) return;
  for (std::size_t i = 0; i < hex.size() / 2; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  *out_size = static_cast<std::uint8_t>(hex.size() / 2);
}

}  // namespace

Secrets::~Secrets() {
  OPENSSL_cleanse(client, sizeof client);
  OPENSSL_cleanse(server, sizeof server);
}

void capture_secrets(SSL_CTX* ctx) {
  SSL_CTX_set_keylog_callback(ctx, &keylog);
}

bool captures_secrets(const SSL_CTX* ctx) {
  return SSL_CTX_get_keylog_callback(ctx) == &keylog;
}

void watch(SSL* ssl, Secrets* secrets) {
  SSL_set_ex_data(ssl, secrets_index(), secrets);
}

std::uint64_t RecordLayer::key_update_interval() {
  return g_key_update_interval.load(std::memory_order_relaxed);
}

void RecordLayer::set_key_update_interval_for_tests(std::uint64_t records) {
  g_key_update_interval.store(records == 0 ? 1 : records, std::memory_order_relaxed);
}

std::unique_ptr<RecordLayer> RecordLayer::make(std::uint16_t suite, const unsigned char* read_secret,
                                               const unsigned char* write_secret, std::size_t secret_size,
                                               std::uint64_t read_seq, std::uint64_t write_seq) {
  const Suite* s = find_suite(suite);
  if (s == nullptr || secret_size != s->hash_size) return nullptr;
  std::unique_ptr<RecordLayer> rl(new RecordLayer());
  rl->suite_ = s;
  if (!rl->set_key(rl->read_, read_secret, false) || !rl->set_key(rl->write_, write_secret, true))
    return nullptr;
  rl->read_.seq = read_seq;
  rl->write_.seq = write_seq;
  return rl;
}

RecordLayer::~RecordLayer() {
  for (Direction* d : {&read_, &write_}) {
    EVP_CIPHER_CTX_free(d->ctx);
    OPENSSL_cleanse(d->secret, sizeof d->secret);
    OPENSSL_cleanse(d->iv, sizeof d->iv);
  }
}

bool RecordLayer::set_key(Direction& d, const unsigned char* secret, bool encrypt) {
  unsigned char key[32];
  std::memcpy(d.secret, secret, suite_->hash_size);
  bool ok = expand_label(*suite_, secret, suite_->hash_size, "key", key, suite_->key_size) &&
            expand_label(*suite_, secret, suite_->hash_size, "iv", d.iv, sizeof d.iv);
  if (ok && d.ctx == nullptr) {
    d.ctx = EVP_CIPHER_CTX_new();
    ok = d.ctx != nullptr;
  }
  // The key is set once per generation; each record then only sets its nonce.
  ok = ok && EVP_CipherInit_ex2(d.ctx, suite_->cipher, key, nullptr, encrypt ? 1 : 0, nullptr) == 1;
  OPENSSL_cleanse(key, sizeof key);
  d.seq = 0;
  return ok;
}

bool RecordLayer::next_generation(Direction& d, bool encrypt) {
  unsigned char next[48];
  const bool ok =
      expand_label(*suite_, d.secret, suite_->hash_size, "traffic upd", next, suite_->hash_size) &&
      set_key(d, next, encrypt);
  OPENSSL_cleanse(next, sizeof next);
  return ok;
}

std::size_t RecordLayer::seal(ContentType type, const Part* parts, std::size_t count, unsigned char* out) {
  std::size_t content = 0;
  for (std::size_t i = 0; i < count; ++i) content += parts[i].size;
  if (content > kMaxPlaintext) return 0;
  const std::size_t length = content + 1 + kTagSize;
  write_header(out, length);
  unsigned char nonce[12];
  make_nonce(write_.iv, write_.seq, nonce);
  EVP_CIPHER_CTX* ctx = write_.ctx;
  int n = 0;
  if (EVP_EncryptInit_ex2(ctx, nullptr, nullptr, nonce, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx, nullptr, &n, out, static_cast<int>(kHeaderSize)) != 1)
    return 0;
  unsigned char* p = out + kHeaderSize;
  for (std::size_t i = 0; i < count; ++i) {
    if (parts[i].size == 0) continue;
    if (EVP_EncryptUpdate(ctx, p, &n, static_cast<const unsigned char*>(parts[i].data),
                          static_cast<int>(parts[i].size)) != 1)
      return 0;
    p += n;
  }
  const auto inner = static_cast<unsigned char>(type);
  if (EVP_EncryptUpdate(ctx, p, &n, &inner, 1) != 1) return 0;
  p += n;
  if (EVP_EncryptFinal_ex(ctx, p, &n) != 1) return 0;
  p += n;
  if (static_cast<std::size_t>(p - out) != kHeaderSize + content + 1) return 0;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), p) != 1) return 0;
  ++write_.seq;
  return kHeaderSize + length;
}

std::size_t RecordLayer::record_size(const unsigned char* header, Alert& alert) {
  // After the handshake every record is protected: its outer type is application_data (§5.2).
  // A change_cipher_spec now is unexpected (§5), anything else too.
  if (header[0] != static_cast<unsigned char>(ContentType::application_data)) {
    alert = Alert::unexpected_message;
    return 0;
  }
  // header[1..2], legacy_record_version, "MUST be ignored for all purposes" (§5.1).
  const std::size_t length = (std::size_t{header[3]} << 8) | header[4];
  if (length > kMaxCiphertext) {
    alert = Alert::record_overflow;
    return 0;
  }
  if (length < 1 + kTagSize) {  // not even a type byte and a tag: it cannot authenticate
    alert = Alert::bad_record_mac;
    return 0;
  }
  return kHeaderSize + length;
}

bool RecordLayer::open(unsigned char* record, std::size_t size, ContentType& type, std::size_t& content_size,
                       Alert& alert) {
  alert = Alert::bad_record_mac;
  if (size < kHeaderSize + 1 + kTagSize || size > kMaxRecord) return false;
  const std::size_t sealed = size - kHeaderSize - kTagSize;
  unsigned char nonce[12];
  make_nonce(read_.iv, read_.seq, nonce);
  EVP_CIPHER_CTX* ctx = read_.ctx;
  unsigned char* body = record + kHeaderSize;
  int n = 0;
  if (EVP_DecryptInit_ex2(ctx, nullptr, nullptr, nonce, nullptr) != 1 ||
      EVP_DecryptUpdate(ctx, nullptr, &n, record, static_cast<int>(kHeaderSize)) != 1 ||
      EVP_DecryptUpdate(ctx, body, &n, body, static_cast<int>(sealed)) != 1)
    return false;
  std::size_t plain = static_cast<std::size_t>(n);
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), body + sealed) != 1)
    return false;
  int last = 0;
  if (EVP_DecryptFinal_ex(ctx, body + plain, &last) != 1) return false;  // the tag did not match
  plain += static_cast<std::size_t>(last);
  ++read_.seq;
  // TLSInnerPlaintext: content, the real type, then zero padding (§5.4).
  while (plain > 0 && body[plain - 1] == 0) --plain;
  if (plain == 0) {  // all padding, no type
    alert = Alert::unexpected_message;
    return false;
  }
  --plain;
  if (plain > kMaxPlaintext) {
    alert = Alert::record_overflow;
    return false;
  }
  type = static_cast<ContentType>(body[plain]);
  content_size = plain;
  return true;
}

bool RecordLayer::handshake(const unsigned char* content, std::size_t size, bool& update_requested,
                            Alert& alert) {
  update_requested = false;
  if (size == 0) {  // a handshake record must not be empty (§5.1)
    alert = Alert::unexpected_message;
    return false;
  }
  std::size_t i = 0;
  while (i < size) {
    // The 4-byte message header, possibly begun in the previous record.
    while (pending_size_ < 4 && i < size) pending_[pending_size_++] = content[i++];
    if (pending_size_ < 4) return true;  // the rest comes in the next record
    const std::size_t length =
        (std::size_t{pending_[1]} << 16) | (std::size_t{pending_[2]} << 8) | pending_[3];
    if (pending_[0] != 24) {  // only KeyUpdate (24) may come from a client now
      alert = Alert::unexpected_message;
      return false;
    }
    if (length != 1) {
      alert = Alert::decode_error;
      return false;
    }
    if (i == size) return true;  // its body starts the next record
    // A KeyUpdate changes the key, so it must end its record (§5.1): its body is here.
    if (i + 1 != size) {
      alert = Alert::unexpected_message;
      return false;
    }
    const unsigned char request = content[i++];
    if (request > 1) {
      alert = Alert::illegal_parameter;
      return false;
    }
    pending_size_ = 0;
    if (!next_generation(read_, false)) {
      alert = Alert::internal_error;
      return false;
    }
    update_requested = request == 1;
  }
  return true;
}

std::size_t RecordLayer::seal_key_update(unsigned char* out) {
  const unsigned char message[5] = {24, 0, 0, 1, 0};  // KeyUpdate(update_not_requested)
  const Part part{message, sizeof message};
  const std::size_t n = seal(ContentType::handshake, &part, 1, out);
  if (n == 0 || !next_generation(write_, true)) return 0;
  return n;
}

bool RecordLayer::write_key_worn() const {
  return write_.seq >= key_update_interval();
}

std::uint64_t RecordLayer::write_seq() const {
  return write_.seq;
}

std::uint64_t RecordLayer::read_seq() const {
  return read_.seq;
}

}  // namespace socketio::net::tls13
