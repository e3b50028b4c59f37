// The server's TLS configuration: loads the certificate files (or makes a self-signed
// certificate in memory), builds one OpenSSL context per certificate with the project's modern
// defaults (TLS 1.2+, ECDHE AEAD ciphers, X25519/P-256, ALPN http/1.1, stateless session
// tickets), and picks the certificate per connection from the client's SNI. The listener owns
// one TlsContext for the life of the server; every shard asks it for current() when it accepts
// a connection, and a reload (SIGHUP, --tls-watch) swaps in a complete new set atomically.
// Thread-safe: every member function may be called from any thread at any time. Kept free of
// Asio, Beast and OpenSSL headers so that including it costs nothing.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace socketio::net {

// PEM files. cert_file holds the leaf first, optionally followed by its intermediates;
// ca_file (optional) holds more chain certificates. Both are sent as they are, in file order.
struct TlsCertSpec {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
};

// A certificate served when the client's SNI names `host`. "*.example.com" matches exactly one
// extra label, as browsers match wildcard certificates.
struct TlsSniSpec {
  std::string host;
  TlsCertSpec cert;
};

struct TlsOptions {
  TlsCertSpec cert;  // the default certificate (no SNI, or no SNI entry matches)
  // Optional: the first line of this file is the passphrase of every encrypted key. Read once
  // by create() and kept in memory for reloads, so the file may be removed after start-up.
  std::string key_passphrase_file;
  std::vector<TlsSniSpec> sni;
  std::string min_version = "1.2";  // "1.2" or "1.3"
  std::string ciphers;              // TLS 1.2 cipher list; empty = ECDHE with AES-GCM/ChaCha20
  // Instead of cert.cert_file/key_file: generate an EC P-256 key and a one-year certificate
  // for this host name or IP address in memory. Kept across reloads (its fingerprint may be
  // pinned by clients).
  std::string self_signed_host;
  // After a TLS 1.3 handshake a connection frees OpenSSL's state (~12 KiB) and protects its
  // records itself from the traffic secrets (net/tls_record.hpp, OpenSSL's AEAD). Off: OpenSSL's
  // record layer for the whole connection.
  bool own_record_layer = true;
};

// Parses "HOST=CERT,KEY[,CA]" (the --tls-sni flag). On failure returns nullopt and sets error
// to a sentence saying what is wrong with the text.
std::optional<TlsSniSpec> parse_sni_spec(std::string_view text, std::string& error);

class TlsContext {
 public:
  // On failure returns nullptr and sets error to one line naming the file and the problem.
  static std::unique_ptr<TlsContext> create(const TlsOptions& options, std::string& error) noexcept;
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The context for a new connection: the connection's TLS stream (net/tls_stream.hpp) keeps
  // this shared_ptr for its life, so a reload never pulls a context from under an open
  // connection (the old set is freed when its last connection closes).
  std::shared_ptr<boost::asio::ssl::context> current() const;

  // Re-reads every file and swaps in the new set. On failure keeps the old set, returns false
  // and sets error like create(). Connections already accepted keep the set they started with.
  bool reload(std::string& error) noexcept;

  // True when any file of the current set differs (mtime, size, inode, or it vanished) from
  // when it was loaded: poll this for --tls-watch, then reload().
  bool files_changed() const;

  // Problems that do not stop the server, from the last successful load: certificates expired,
  // not yet valid or expiring within 30 days, an SNI certificate that does not cover its host.
  std::vector<std::string> warnings() const;

  // SHA-256 of the default leaf certificate, as "AA:BB:...:FF" (32 bytes).
  std::string fingerprint_sha256() const;

  struct Loaded;  // one complete set of contexts; defined in the .cpp

 private:
  explicit TlsContext(const TlsOptions& options);

  const TlsOptions options_;
  std::string passphrase_;    // from key_passphrase_file; wiped by the destructor, never logged
  std::mutex reload_mutex_;   // one reload at a time, so a slow one cannot overwrite a newer one
  mutable std::mutex mutex_;  // guards loaded_ only; held just to copy or swap the pointer
  std::shared_ptr<const Loaded> loaded_;
};

}  // namespace socketio::net
