#include "eio/counters.hpp"

#include "eio/server.hpp"

namespace socketio::eio {

namespace {
constexpr std::string_view kErrorCauses[] = {
    "unknown_transport", "unknown_sid", "bad_handshake_method",
    "bad_request",       "forbidden",   "unsupported_protocol_version"};
}

Counters::Counters(Metrics& m) {
  const char* transports[] = {"polling", "websocket"};
  for (std::size_t t = 0; t < 2; ++t) {
    clients_by_transport[t] =
        m.gauge("socketio_connected_clients", "Engine.IO sessions open, by current transport",
                {{"transport", transports[t]}});
    for (std::size_t tls = 0; tls < 2; ++tls)
      handshakes[t * 2 + tls] =
          m.counter("socketio_handshakes_total", "Engine.IO handshakes accepted, by transport and TLS",
                    {{"transport", transports[t]}, {"tls", tls ? "true" : "false"}});
  }
  for (std::size_t i = 0; i < errors.size(); ++i)
    errors[i] = m.counter("socketio_request_errors_total",
                          "Engine.IO requests refused (handshakes included), by cause",
                          {{"cause", std::string(kErrorCauses[i])}});
  for (std::size_t i = 0; i < closes.size(); ++i)
    closes[i] = m.counter("socketio_disconnections_total", "Engine.IO sessions closed, by reason",
                          {{"reason", i < kCloseReasons.size() ? std::string(kCloseReasons[i]) : "other"}});
  upgrades = m.counter("socketio_upgrades_total", "Sessions upgraded from polling to WebSocket");
  bodies_too_large = m.counter("socketio_limit_refusals_total",
                               "Requests of a client refused by a limit (docs/reliability.md), by limit",
                               {{"limit", "http_body"}});
  forwarded = m.counter("socketio_forwarded_requests_total",
                        "Polling requests and upgrades for other nodes' sessions, forwarded to them");
  const char* relayed = "Held long-polls of this node's sessions that another node relayed, answered early";
  relayed_superseded = m.counter("socketio_relayed_polls_answered_total", relayed, {{"cause", "superseded"}});
  relayed_released = m.counter("socketio_relayed_polls_answered_total", relayed, {{"cause", "released"}});
  packets_in = m.counter("socketio_packets_received_total", "Engine.IO packets received");
  packets_out = m.counter("socketio_packets_sent_total", "Engine.IO packets queued to clients");
  bytes_in = m.counter("socketio_received_bytes_total", "Engine.IO packet payload bytes received");
  bytes_out = m.counter("socketio_sent_bytes_total", "Engine.IO packet payload bytes queued to clients");
  polling_compressed = m.counter("socketio_polling_compressed_responses_total",
                                 "Long-polling responses sent gzip/deflate-compressed (--http-compression)");
  polling_compressed_saved =
      m.counter("socketio_polling_compression_saved_bytes_total", "Bytes long-polling compression saved");
  outbox_bytes = m.gauge("socketio_outbox_bytes", "Bytes waiting in session buffers for a transport");
  outbox = OutboxStats(m);
}

const Metrics::Gauge& Counters::clients(TransportKind t) const noexcept {
  return clients_by_transport[t == TransportKind::websocket ? 1 : 0];
}

const Metrics::Counter& Counters::handshake(TransportKind t, bool tls) const noexcept {
  return handshakes[(t == TransportKind::websocket ? 2 : 0) + (tls ? 1 : 0)];
}

const Metrics::Counter& Counters::error(ErrorCode code) const noexcept {
  const auto i = static_cast<std::size_t>(code);
  return errors[i < errors.size() ? i : errors.size() - 1];
}

const Metrics::Counter& Counters::closed(std::string_view reason) const noexcept {
  for (std::size_t i = 0; i < kCloseReasons.size(); ++i)
    if (kCloseReasons[i] == reason) return closes[i];
  return closes.back();
}

}  // namespace socketio::eio
