// The listening side of the server: one acceptor per shard on the same port (SO_REUSEPORT, so
// the kernel spreads connections over the shards), all run by one accept thread that hands each
// admitted connection to its shard (why: server.cpp, Listener), plain HTTP or TLS (detected per connection
// when a TLS context is configured), HTTP/1.1 keep-alive sessions and WebSocket upgrades handed
// to an HttpHandler. Owned by the application; listen() and stop_accepting() from any thread
// before/after the pool runs. Beast-free header.
#pragma once

#include "net/address_limits.hpp"
#include "net/http_handler.hpp"
#include "net/shards.hpp"
#include "net/ws_extensions.hpp"
#include "socketio/metrics.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

namespace socketio::net {

class TlsContext;

struct ServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 3000;  // 0: pick a free port (listen() returns it)
  // A request head over header_limit bytes or with more than max_header_count fields is answered
  // 431 and the connection closed (Node answers 431 for its maxHeaderSize; over its
  // maxHeadersCount it drops the extra fields instead, which here would hide a forged one).
  std::size_t header_limit = 16 * 1024;
  std::size_t max_header_count = 100;
  std::size_t body_limit = 1'000'000;  // bodies above this are not read: request.body_too_large
  std::size_t ws_message_limit = 1'000'000;
  // From accept (TLS: the finished handshake) to the first whole request, head and body; then
  // from each answer to the next whole request (not while a long poll is held). The timer is the
  // connection's own, not the stream's (server.cpp, HttpSession::watch_idle).
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds keepalive_timeout{60'000};
  std::chrono::milliseconds write_timeout{30'000};
  // After answering with "Connection: close" (413, 400, ...), the rest of what the peer is still
  // sending is read and dropped for at most this long / this many bytes before the socket closes,
  // so the peer reads the answer instead of a reset (a lingering close, as nginx does).
  std::chrono::milliseconds linger_timeout{2'000};
  std::size_t linger_max_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  std::size_t max_tls_handshakes = 1024;  // concurrent, per shard, shared fairly (handshake_slots.hpp)
  std::shared_ptr<TlsContext> tls;        // null: plain HTTP only
  bool tls_redirect = false;              // plain HTTP on a TLS port: 308 to https (else 400 + close)
  Metrics* metrics = nullptr;             // where the counters go; null: not counted
  // WebSocket backpressure: while a write is in flight and more than this is queued behind it
  // (or a pong waits behind it), the peer is not read, so that what it sends cannot outrun
  // what it reads. The outbox high-water mark (docs/reliability.md).
  std::size_t backpressure_bytes = 1024 * 1024;
  // A WebSocket that must close (closing handshake, protocol error, server close) is destroyed
  // at most this long after the close began, whether or not the peer reads (ws's closeTimeout).
  std::chrono::milliseconds close_timeout{30'000};
  // permessage-deflate (RFC 7692), negotiated per connection when enabled (net/ws_extensions.hpp).
  ws::DeflateConfig per_message_deflate;
  // Connections in total and per peer address; a connection over a limit is closed at accept,
  // before a byte is read (as Node's server.maxConnections). Null: no limits.
  std::shared_ptr<AddressLimits> limits;
};

// The listener's counters (no-ops when ServerOptions::metrics is null); see docs/operations.md.
struct ServerStats {
  ServerStats() = default;
  explicit ServerStats(Metrics& m);
  Metrics::Counter accepted;
  Metrics::Counter tls_handshakes;  // completed
  Metrics::Counter tls_handshake_failures;
  Metrics::Counter tls_handshakes_rejected;  // over max_tls_handshakes
  Metrics::Counter plain_on_tls_port;
  // What the WebSocket sessions did to bound a peer (docs/reliability.md).
  Metrics::Counter ws_pongs_coalesced;  // pings answered by replacing a pong not written yet
  Metrics::Counter ws_reads_paused;     // times a peer's reading was paused for backpressure
  Metrics::Counter ws_close_timeouts;   // closing connections destroyed at the close timeout
  Metrics::Counter ws_aborted;          // connections destroyed at once (slow client)
  Metrics::Counter ws_protocol_errors;  // closed with 1002 (framing) or 1009 (too big)
  Metrics::Counter ws_invalid_utf8;     // closed with 1007 (invalid UTF-8 or compressed data)
  // permessage-deflate (docs/operations.md): messages sent compressed (per recipient), the bytes
  // that saved, zlib deflate runs (fewer than the messages when recipients share a compression),
  // compressed messages received; zlib memory held by connections' own streams and by shards.
  Metrics::Counter ws_compressed;
  Metrics::Counter ws_compression_saved;
  Metrics::Counter ws_compressions;
  Metrics::Counter ws_inflated;
  Metrics::Gauge ws_zlib_connections;
  Metrics::Gauge ws_zlib_shards;
  Metrics::Counter headers_too_large;  // 431: header_limit or max_header_count
  // HTTP connections closed waiting for a request: no whole first one within header_timeout, or
  // idle past keepalive_timeout.
  Metrics::Counter headers_timeouts;
  Metrics::Counter keepalive_timeouts;
};

class Server {
 public:
  Server(ShardPool& pool, ServerOptions options, HttpHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting on every shard. Returns the bound port; throws std::system_error.
  std::uint16_t listen();
  void stop_accepting();
  const ServerStats& stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace socketio::net
