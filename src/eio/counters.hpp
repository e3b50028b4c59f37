// The Engine.IO layer's series in the server's metrics registry (see include/socketio/metrics.hpp
// for how a layer adds one): sessions by transport, handshakes, request errors by cause, closes
// by reason, upgrades, packets and bytes in and out, bytes waiting in session buffers.
// Registered once by eio::Server; incremented on the session's shard. Default-constructed (no
// registry): every handle is a no-op.
#pragma once

#include "eio/outbox.hpp"
#include "socketio/metrics.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace socketio::eio {

enum class ErrorCode : int;
enum class TransportKind : std::uint8_t;

struct Counters {
  Counters() = default;
  explicit Counters(Metrics& m);

  // The reasons a session closes with (the reference's), then "other".
  static constexpr std::array<std::string_view, 6> kCloseReasons = {
      "transport close", "transport error", "ping timeout",
      "parse error",     "forced close",    "server shutting down"};

  const Metrics::Gauge& clients(TransportKind t) const noexcept;
  const Metrics::Counter& handshake(TransportKind t, bool tls) const noexcept;
  const Metrics::Counter& error(ErrorCode code) const noexcept;
  const Metrics::Counter& closed(std::string_view reason) const noexcept;

  std::array<Metrics::Gauge, 2> clients_by_transport;  // polling, websocket
  std::array<Metrics::Counter, 4> handshakes;          // transport x tls
  std::array<Metrics::Counter, 6> errors;              // by ErrorCode
  std::array<Metrics::Counter, kCloseReasons.size() + 1> closes;
  Metrics::Counter upgrades;
  Metrics::Counter bodies_too_large;  // polling POSTs over max_http_buffer_size (413)
  Metrics::Counter forwarded;         // requests for other nodes' sessions (eio/forwarder.hpp)
  // Held polls relayed by another node, answered early (Session::on_polling_request, release_poll)
  Metrics::Counter relayed_superseded, relayed_released;
  Metrics::Counter packets_in, packets_out, bytes_in, bytes_out;
  Metrics::Gauge outbox_bytes;
  Metrics::Counter polling_compressed, polling_compressed_saved;  // --http-compression
  OutboxStats outbox;                                             // the slow-client policy's (eio/outbox.hpp)
};

}  // namespace socketio::eio
