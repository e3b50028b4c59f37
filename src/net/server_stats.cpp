// The listener's counters (net::ServerStats), registered here rather than in server.cpp so that
// their names and help texts sit together and outside the Beast-heavy TU.
#include "net/server.hpp"

namespace socketio::net {

ServerStats::ServerStats(Metrics& m)
    : accepted(m.counter("socketio_tcp_connections_accepted_total", "TCP connections accepted")),
      tls_handshakes(m.counter("socketio_tls_handshakes_total", "TLS handshakes completed")),
      tls_handshake_failures(m.counter("socketio_tls_handshake_failures_total",
                                       "TLS connections that did not complete a handshake, by cause",
                                       {{"cause", "error"}})),
      tls_handshakes_rejected(m.counter("socketio_tls_handshake_failures_total",
                                        "TLS connections that did not complete a handshake, by cause",
                                        {{"cause", "over_limit"}})),
      plain_on_tls_port(m.counter("socketio_tls_handshake_failures_total",
                                  "TLS connections that did not complete a handshake, by cause",
                                  {{"cause", "plain_http"}})),
      ws_pongs_coalesced(m.counter("socketio_ws_pongs_coalesced_total",
                                   "WebSocket pings answered by replacing a pong not yet written")),
      ws_reads_paused(m.counter("socketio_ws_reads_paused_total",
                                "Times a WebSocket peer was not read while its writes were backed up")),
      ws_close_timeouts(m.counter("socketio_ws_close_timeouts_total",
                                  "Closing WebSocket connections destroyed at --close-timeout")),
      ws_aborted(m.counter("socketio_ws_aborted_total",
                           "WebSocket connections destroyed at once (slow-client policy)")),
      ws_protocol_errors(
          m.counter("socketio_ws_protocol_errors_total",
                    "WebSocket connections failed by the peer's protocol errors, by close code",
                    {{"code", "1002_or_1009"}})),
      ws_invalid_utf8(m.counter("socketio_ws_protocol_errors_total",
                                "WebSocket connections failed by the peer's protocol errors, by close code",
                                {{"code", "1007"}})),
      ws_compressed(m.counter("socketio_ws_compressed_messages_total",
                              "WebSocket messages sent permessage-deflate compressed (one per recipient)")),
      ws_compression_saved(
          m.counter("socketio_ws_compression_saved_bytes_total",
                    "Bytes permessage-deflate compression saved on WebSocket messages sent")),
      ws_compressions(m.counter("socketio_ws_compressions_total",
                                "Messages run through zlib deflate for WebSocket connections (a broadcast is "
                                "compressed once per shard and shared by its recipients)")),
      ws_inflated(m.counter("socketio_ws_inflated_messages_total", "Compressed WebSocket messages received")),
      ws_zlib_connections(m.gauge("socketio_ws_zlib_memory_bytes",
                                  "zlib memory of permessage-deflate, by holder: connections' own streams "
                                  "(context takeover) or the shards' shared ones",
                                  {{"held_by", "connections"}})),
      ws_zlib_shards(m.gauge("socketio_ws_zlib_memory_bytes",
                             "zlib memory of permessage-deflate, by holder: connections' own streams "
                             "(context takeover) or the shards' shared ones",
                             {{"held_by", "shards"}})),
      headers_too_large(m.counter("socketio_limit_refusals_total",
                                  "Requests of a client refused by a limit (docs/reliability.md), by limit",
                                  {{"limit", "http_head"}})),
      headers_timeouts(m.counter("socketio_http_idle_closes_total",
                                 "HTTP connections closed waiting for a request, by timeout: no whole first "
                                 "request within --headers-timeout, or idle past --keep-alive-timeout",
                                 {{"timeout", "headers"}})),
      keepalive_timeouts(
          m.counter("socketio_http_idle_closes_total",
                    "HTTP connections closed waiting for a request, by timeout: no whole first "
                    "request within --headers-timeout, or idle past --keep-alive-timeout",
                    {{"timeout", "keep_alive"}})) {}

}  // namespace socketio::net
