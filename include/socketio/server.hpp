// socketio::Server: the embeddable Socket.IO server. Owns the worker shards, the listener
// (HTTP and, when configured, TLS on the same port), the Engine.IO server and the namespaces.
// Configure it (options, of(), use(), on_connection()) on one thread before listen(); then
// run() blocks until stop() (stop() may be called from any thread but a shard's own, since it
// joins them: from a handler, post it to a thread of yours). Broadcasts are thread-safe; a
// Socket belongs to its shard (see socket.hpp, and namespace.hpp for which thread runs each
// callback).
//
//   socketio::Server io;
//   io.on_connection([](const socketio::SocketPtr& s) {
//     s->on("ping", [](socketio::Event& ev) { ev.ack(socketio::Args().add("pong")); });
//   });
//   io.listen();  // 0.0.0.0:3000
//   io.run();
#pragma once

#include "socketio/adapter.hpp"
#include "socketio/engine.hpp"
#include "socketio/metrics.hpp"
#include "socketio/namespace.hpp"
#include "socketio/socket.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace socketio {

// Off unless configured, as in the reference (no `cors` option: no CORS headers at all). "*"
// answers "Access-Control-Allow-Origin: *" and never carries credentials; credentials are sent
// only to an origin listed by name (reflected, with Vary: Origin).
struct CorsConfig {
  bool enabled = false;
  std::vector<std::string> origins{"*"};  // "*": any origin
  bool credentials = false;               // Access-Control-Allow-Credentials, for listed origins only
  std::string methods = "GET,HEAD,PUT,PATCH,POST,DELETE";
  std::string allowed_headers;  // empty: reflect the request's
};

struct TlsConfig {
  std::string cert_file, key_file, ca_file, key_passphrase_file;
  std::vector<std::string> sni;  // "HOST=CERT,KEY[,CA]"
  std::string min_version = "1.2";
  std::string ciphers;
  std::string self_signed_host;
  bool redirect_plain = false;  // plain HTTP on the TLS port gets a 308 to https
  // After a TLS 1.3 handshake, free OpenSSL's per-connection state (~12 KiB) and protect the
  // records from the traffic secrets with OpenSSL's AEAD; false: OpenSSL's record layer throughout.
  bool own_record_layer = true;
  bool enabled() const noexcept { return !cert_file.empty() || !self_signed_host.empty(); }
};

// The client packet format, server-wide like the reference's `parser` option: socket.io-parser
// (JSON text + binary attachments) or socket.io-msgpack-parser 3.x (one MessagePack message per
// packet, what /socket.io/socket.io.msgpack.min.js speaks).
enum class Parser { json, msgpack };

// Connection state recovery (the reference's connectionStateRecovery): a client that lost its
// connection and comes back within max_disconnection_duration gets its id, rooms and data back,
// and the packets it missed. Off by default, as in Node. Each namespace keeps the recoverable
// packets of the window once (whatever the number of recipients) and the sessions of
// disconnected sockets, within max_bytes / max_sessions (oldest dropped first, counted).
struct RecoveryOptions {
  bool enabled = false;
  std::chrono::milliseconds max_disconnection_duration{2 * 60 * 1000};
  bool skip_middlewares = true;              // a recovered socket skips the connection middlewares
  std::size_t max_bytes = 64 * 1024 * 1024;  // retained packets, per namespace
  std::size_t max_sessions = 100'000;        // kept sessions, per namespace
};

// permessage-deflate (RFC 7692) on WebSocket connections: engine.io's perMessageDeflate, off by
// default as there. Messages of at least `threshold` bytes (Engine.IO packet type included) are
// compressed, unless sent with compress(false). Context takeover is off by default in both
// directions (ws turns it on): then a broadcast is compressed once per shard and shared by its
// recipients, and no connection holds zlib memory; with it on, each connection that compresses
// holds its own zlib stream(s), sized by the window bits and mem_level (docs/reliability.md).
// The Server constructor throws std::invalid_argument for a value out of range.
struct PerMessageDeflate {
  bool enabled = false;
  std::size_t threshold = 1024;
  bool server_no_context_takeover = true;
  bool client_no_context_takeover = true;
  int server_max_window_bits = 15;  // 9..15
  int client_max_window_bits = 15;  // 8..15
  int mem_level = 8;                // 1..9 (zlibDeflateOptions.memLevel)
  int level = 6;                    // 0..9 (zlibDeflateOptions.level)
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 3000;
  std::size_t threads = 0;  // 0: one per core
  // After its last ready event a worker thread keeps polling its sockets for this long before it
  // sleeps in epoll_wait: a request that comes meanwhile is handled without the kernel's wake-up
  // (tens of µs on a VM), at the price of that thread's CPU while traffic flows. 0: sleep at once.
  std::chrono::microseconds busy_poll{0};
  std::string path = "/socket.io/";
  std::chrono::milliseconds ping_interval{25'000};
  std::chrono::milliseconds ping_timeout{20'000};
  std::chrono::milliseconds upgrade_timeout{10'000};
  std::chrono::milliseconds connect_timeout{45'000};
  std::size_t max_http_buffer_size = 1'000'000;
  bool allow_polling = true;
  bool allow_websocket = true;
  bool allow_upgrades = true;
  bool allow_eio3 = false;
  bool http_compression = true;  // gzip/deflate polling responses (engine.io's httpCompression)
  std::size_t http_compression_threshold = 1024;  // bytes
  PerMessageDeflate per_message_deflate;          // WebSocket compression (engine.io's perMessageDeflate)
  Parser parser = Parser::json;
  CorsConfig cors;
  TlsConfig tls;
  // Take the client address / secure flag from X-Forwarded-For / -Proto, read from the right:
  // the peer and the next trust_proxy_hops - 1 hops are proxies (1: the last entry is the
  // client), or, when trusted_proxies is set (addresses, CIDR networks, loopback, linklocal,
  // uniquelocal), exactly those are. The Server constructor throws std::invalid_argument on a
  // bad entry.
  bool trust_proxy = false;
  std::size_t trust_proxy_hops = 1;
  std::vector<std::string> trusted_proxies;
  // The connection budget (docs/reliability.md has every limit, its counter and what a client
  // over it sees). TCP connections in total (Node's maxConnections; 0: the open-file limit
  // minus 128, so that accept never runs out of descriptors) and per peer address (0: no
  // limit; trusted proxies are exempt), checked at accept: over them the connection is closed
  // unread. Engine.IO sessions and handshakes per second per client address (through trusted
  // proxies; 0: no limit), checked at the handshake: over them it gets 403 {"code":4,...}.
  // IPv6 addresses count per /64. At most max_client_addresses addresses are tracked at once.
  std::size_t max_connections = 0;
  std::size_t max_connections_per_address = 0;
  std::size_t max_sessions_per_address = 0;
  std::uint32_t handshake_rate = 0;
  std::uint32_t handshake_burst = 0;  // 0: twice handshake_rate
  std::size_t max_client_addresses = 65'536;
  // What one socket / one client may make the server hold (docs/reliability.md). Rooms per
  // socket besides its own (join() over it is refused: it returns false); ack ids the client
  // asked the server to answer and that are not answered yet (an unhandled event never is: the
  // oldest is forgotten, so its late ack() does nothing); namespace name length in bytes
  // (CONNECT_ERROR "Namespace name too long", checked before any dynamic-namespace predicate or
  // regex); dynamic namespaces created at once (CONNECT_ERROR "Too many namespaces"). 0: no
  // limit (rooms, dynamic namespaces).
  // A request head over max_header_size bytes or with more than max_headers_count fields gets
  // 431 and the connection is closed (Node's maxHeaderSize, 16 KiB, and maxHeadersCount).
  std::size_t max_header_size = 16 * 1024;
  std::size_t max_headers_count = 100;
  // A new connection's first request must arrive whole within headers_timeout (Node's
  // headersTimeout); a kept-alive connection may then idle up to keep_alive_timeout between
  // requests (Node's keepAliveTimeout; a long poll that is held is not idle). Then it is closed.
  std::chrono::milliseconds headers_timeout{10'000};
  std::chrono::milliseconds keep_alive_timeout{60'000};
  std::size_t max_rooms_per_socket = 1024;
  std::size_t max_pending_client_acks = 1024;
  std::size_t max_namespace_name_length = 256;
  std::size_t max_dynamic_namespaces = 1024;
  // Node's cleanupEmptyChildNamespaces: a dynamic namespace goes when its last socket leaves
  // (or when no socket ever made it through its middleware). Its Namespace& (and operators on
  // it) must not be kept beyond its sockets then.
  bool cleanup_empty_child_namespaces = false;
  std::size_t max_attachments = 10;
  std::size_t max_json_depth = 32;
  // Per-client outbox: above high_water, volatile packets are dropped and emits report
  // SendResult::buffered; a client above it for longer than slow_client_timeout is disconnected.
  std::size_t outbox_high_water = 1024 * 1024;
  std::chrono::milliseconds slow_client_timeout{10'000};
  // Publisher backpressure: a client whose message puts a receiver over outbox_high_water is not
  // read further until every receiver it put there is back under the mark (or has been over it
  // for hold_senders_timeout), so a sender that outruns its receivers is slowed before any
  // receiver is dropped.
  bool hold_senders = true;
  // A receiver over the mark holds its senders for this long, and again for as long as each period
  // saw its queue shrink (then it faces the slow-client timeout alone): one that reads nothing
  // cannot freeze the others for longer than this.
  std::chrono::milliseconds hold_senders_timeout{1'000};
  // A connection that must go (slow client, ping timeout, server close, protocol error) is
  // destroyed at most this long after its close began, whether or not the peer reads (ws's
  // closeTimeout); an HTTP response the peer does not read is bounded the same.
  std::chrono::milliseconds close_timeout{30'000};
  // From the first byte of a connection on a TLS port to a finished TLS handshake.
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  // TLS handshakes one thread runs at once. When they are all taken, a handshake from an address
  // holding fewer than the biggest holder takes that holder's oldest (which is closed): one
  // address cannot shut the others out. Others are closed at once.
  std::size_t max_tls_handshakes = 1024;
  // Static files: the Socket.IO client bundle under path, and a directory served at "/".
  bool serve_client = true;
  std::string client_dir;  // where socket.io.js & co. are; empty: the bundle built in
  std::string static_dir;  // empty: the built-in chat page (if any)
  bool serve_static = true;
  // static_dir files waiting for an I/O thread to read them; over it, 503 (--static-max-pending).
  std::size_t static_max_pending = 1024;
  AdapterFactory adapter;  // null: in-process adapter
  RecoveryOptions connection_state_recovery;
  // Operations endpoints (docs/operations.md): GET /metrics (Prometheus) and GET /healthz,
  // /readyz on the main port; and/or a listener of their own serving all three.
  bool serve_metrics = false;
  bool serve_health = false;
  bool ops_listen = false;
  std::string ops_host = "127.0.0.1";
  std::uint16_t ops_port = 0;  // 0: a free port (ops_port() tells which)
  // Engine.IO options and hooks, as engine.io's (see engine.hpp and docs/migrating.md).
  std::optional<CookieOptions> cookie;  // none: no cookie (engine.io's default)
  AllowRequest allow_request;
  HeadersHook initial_headers;
  HeadersHook headers;
  ConnectionErrorHandler on_connection_error;
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const ServerOptions& options() const noexcept;

  // The namespace with that name (created if needed). "/" is the main namespace.
  Namespace& of(const std::string& name);
  // A dynamic namespace: any name the predicate accepts (or the regex matches) is created on
  // first CONNECT with the handlers and middleware registered on the returned parent.
  Namespace& of(std::function<bool(const std::string& name, const boost::json::object& auth)> predicate);
  Namespace& of(const std::regex& pattern);

  Namespace& sockets() { return of("/"); }
  void on_connection(ConnectionHandler handler) { of("/").on_connection(std::move(handler)); }
  void use(Middleware middleware) { of("/").use(std::move(middleware)); }
  BroadcastOperator to(std::string room) { return of("/").to(std::move(room)); }
  void emit(std::string_view event, Args args = {}) { of("/").emit(event, std::move(args)); }

  // Binds (throws std::system_error, std::runtime_error for TLS set-up errors) and starts the
  // worker threads. Returns the port (useful with port 0).
  std::uint16_t listen();
  // Blocks until stop() completes.
  void run();
  // Graceful: refuse new sessions (403 "Server is shutting down"; requests of open sessions are
  // still served, on new connections too), send DISCONNECT to every socket (the client sees "io server
  // disconnect" and does not reconnect; the server-side reason is "server shutting down"), close
  // every connection, let the transports flush for up to drain, then stop the threads.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(1000));
  // Reloads TLS files (SIGHUP); false + error when the new files are refused (old ones kept).
  bool reload_tls(std::string& error);
  std::vector<std::string> tls_warnings() const;
  std::string tls_fingerprint() const;

  std::size_t client_count() const noexcept;
  // The names of the namespaces created so far (static, and dynamic children), any thread.
  std::vector<std::string> namespace_names() const;

  // The counters of this server (GET /metrics); register your own series here too.
  Metrics& metrics() noexcept;
  // /readyz answers 200 only when every check passes (built in: listening and not stopping).
  // check(why) runs on a worker thread per probe: keep it cheap. Call before listen().
  void add_readiness_check(std::string name, std::function<bool(std::string& why)> check);
  // The port of the operations listener (ServerOptions::ops_listen), 0 when there is none.
  std::uint16_t ops_port() const noexcept;

 private:
  friend struct ServerAccess;  // src/sio/server_access.hpp: extra routes for the binaries
  struct Impl;
  void setup_ops();
  std::unique_ptr<Impl> impl_;
};

}  // namespace socketio
