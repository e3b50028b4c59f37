// TLS 1.3 record protection after the handshake (RFC 8446 §5, §7.3, §4.6.3), so that a server
// connection can free OpenSSL's per-connection state (~12 KiB: the SSL object, its session,
// digests, key shares) once the handshake is over and keep only its two traffic keys (a few
// hundred bytes). OpenSSL still does every handshake, and every cipher operation here is
// OpenSSL's AEAD (EVP); what is ours is the record framing: the nonce from the sequence number,
// the inner content type and padding, the length checks, and KeyUpdate.
//
// The secrets come from OpenSSL's key log callback (capture_secrets()), the only public way
// OpenSSL 3.0 gives them out; the stream (tls_stream.cpp) decides when a connection can switch.
// Pure: no sockets, no Asio. The fuzz target tests/fuzz/tls_record_fuzz.cpp drives open().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace socketio::net::tls13 {

inline constexpr std::size_t kHeaderSize = 5;
inline constexpr std::size_t kMaxPlaintext = 16384;                 // 2^14 (§5.1)
inline constexpr std::size_t kMaxCiphertext = kMaxPlaintext + 256;  // TLSCiphertext.length (§5.2)
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kSealOverhead = kHeaderSize + 1 + kTagSize;  // header, type byte, tag
inline constexpr std::size_t kMaxRecord = kHeaderSize + kMaxCiphertext;

enum class ContentType : unsigned char {
  invalid = 0,
  change_cipher_spec = 20,
  alert = 21,
  handshake = 22,
  application_data = 23,
};

// The alerts this layer sends (§6): close_notify, or why it gave up on the peer.
enum class Alert : unsigned char {
  close_notify = 0,
  unexpected_message = 10,
  bad_record_mac = 20,
  record_overflow = 22,
  illegal_parameter = 47,
  decode_error = 50,
  internal_error = 80,
};

// The application traffic secrets of one connection's handshake, filled by the key log callback
// while the handshake runs (a few hundred bytes, freed once the connection has switched).
struct Secrets {
  unsigned char client[48] = {};
  unsigned char server[48] = {};
  std::uint8_t client_size = 0;
  std::uint8_t server_size = 0;
  ~Secrets();
};

// Installs the key log callback on `ctx` (every context a connection may be switched to by SNI
// needs it). Idempotent. Connections whose SSL carries a Secrets (watch()) get theirs filled.
void capture_secrets(SSL_CTX* ctx);
bool captures_secrets(const SSL_CTX* ctx);
void watch(SSL* ssl, Secrets* secrets);  // nullptr stops it

class RecordLayer {
 public:
  // For a TLS 1.3 cipher suite (its IANA number: 0x1301 AES-128-GCM-SHA256, 0x1302
  // AES-256-GCM-SHA384, 0x1303 CHACHA20-POLY1305-SHA256; nullptr for any other), the peer's
  // and our traffic secrets (the hash's size), and how many records each side has already
  // protected with them.
  static std::unique_ptr<RecordLayer> make(std::uint16_t suite, const unsigned char* read_secret,
                                           const unsigned char* write_secret, std::size_t secret_size,
                                           std::uint64_t read_seq, std::uint64_t write_seq);
  ~RecordLayer();
  RecordLayer(const RecordLayer&) = delete;
  RecordLayer& operator=(const RecordLayer&) = delete;

  struct Part {
    const void* data;
    std::size_t size;
  };
  // Protects one record of `type` whose content is the parts in order (≤ kMaxPlaintext in all)
  // into `out`, which has room for that plus kSealOverhead. Returns the record's size, 0 if the
  // cipher failed (then nothing more can be sent).
  std::size_t seal(ContentType type, const Part* parts, std::size_t count, unsigned char* out);

  // The size of the whole record whose 5-byte header is at `header`, or 0 with `alert` set when
  // that header cannot start a protected TLS 1.3 record.
  static std::size_t record_size(const unsigned char* header, Alert& alert);

  // Opens one whole record in place (`size` as record_size said). On success its inner type and
  // content (at record + kHeaderSize, `content_size` bytes); otherwise false and the alert to send.
  bool open(unsigned char* record, std::size_t size, ContentType& type, std::size_t& content_size,
            Alert& alert);

  // The content of a handshake record after the handshake: only KeyUpdate is valid from a
  // client. A KeyUpdate moves the read key to its next generation; `update_requested` says the
  // peer wants ours moved too (send a KeyUpdate, then update_write_key()).
  bool handshake(const unsigned char* content, std::size_t size, bool& update_requested, Alert& alert);
  // A handshake message begun and not finished: the next record must continue it (§5.1).
  bool handshake_pending() const { return pending_size_ > 0; }

  // Seals our KeyUpdate(update_not_requested) into `out` (room for kSealOverhead + 5) and moves
  // the write key to its next generation. Returns the record's size, 0 on failure.
  std::size_t seal_key_update(unsigned char* out);

  // Records sealed under the current write key; past key_update_interval() the caller sends a
  // KeyUpdate first (AES-GCM's limit is 2^24.5 full records per key, §5.5).
  bool write_key_worn() const;
  std::uint64_t write_seq() const;
  std::uint64_t read_seq() const;

  // Records per write key before a KeyUpdate: 2^23 unless a test sets fewer.
  static std::uint64_t key_update_interval();
  static void set_key_update_interval_for_tests(std::uint64_t records);

  struct Suite;  // the cipher, its key size and the hash of the key schedule (tls_record.cpp)

 private:
  // One direction's key: the AEAD context keyed with it, the static IV, the record count, and
  // the secret its next generation comes from.
  struct Direction {
    EVP_CIPHER_CTX* ctx = nullptr;
    std::uint64_t seq = 0;
    unsigned char secret[48] = {};
    unsigned char iv[12] = {};
  };
  RecordLayer() = default;
  bool set_key(Direction& d, const unsigned char* secret, bool encrypt);
  bool next_generation(Direction& d, bool encrypt);

  const Suite* suite_ = nullptr;
  Direction read_;
  Direction write_;
  unsigned char pending_[4] = {};  // a KeyUpdate's header split across records
  std::uint8_t pending_size_ = 0;
};

}  // namespace socketio::net::tls13
