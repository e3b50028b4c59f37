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
      headers_too_large(m.counter("socketio_limit_refusals_total",
                                  "Requests of a client refused by a limit (docs/reliability.md), by limit",
                                  {{"limit", "http_head"}})) {}

}  // namespace socketio::net
