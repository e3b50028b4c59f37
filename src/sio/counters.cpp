#include "sio/counters.hpp"

#include <string>

namespace socketio::sio {

Counters::Counters(Metrics& m) {
  connections = m.counter("socketio_socket_connections_total", "Sockets that joined a namespace");
  for (std::size_t i = 0; i < disconnections.size(); ++i)
    disconnections[i] =
        m.counter("socketio_socket_disconnections_total", "Sockets that left a namespace, by reason",
                  {{"reason", i < kReasons.size() ? std::string(kReasons[i]) : "other"}});
  events_received = m.counter("socketio_events_received_total", "Events received from clients");
  events_sent =
      m.counter("socketio_events_sent_total", "Events emitted to one socket (broadcasts not included)");
  broadcast_deliveries = m.counter("socketio_broadcast_deliveries_total",
                                   "Broadcast packets queued to a socket (one per recipient)");
  constexpr std::string_view help = "Packets not sent to a client, by cause";
  dropped_volatile = m.counter("socketio_packets_dropped_total", help, {{"reason", "volatile"}});
  constexpr std::string_view refused =
      "Requests of a client refused by a limit (docs/reliability.md), by limit";
  rooms_refused = m.counter("socketio_limit_refusals_total", refused, {{"limit", "rooms_per_socket"}});
  namespace_too_long =
      m.counter("socketio_limit_refusals_total", refused, {{"limit", "namespace_name_length"}});
  namespaces_refused = m.counter("socketio_limit_refusals_total", refused, {{"limit", "dynamic_namespaces"}});
  client_acks_dropped = m.counter("socketio_client_acks_dropped_total",
                                  "Client ack ids forgotten, oldest first, over --max-pending-client-acks");
  namespaces_removed = m.counter("socketio_namespaces_removed_total",
                                 "Empty dynamic namespaces removed (--cleanup-empty-child-namespaces)");
}

const Metrics::Counter& Counters::disconnected(std::string_view reason) const noexcept {
  for (std::size_t i = 0; i < kReasons.size(); ++i)
    if (kReasons[i] == reason) return disconnections[i];
  return disconnections.back();
}

}  // namespace socketio::sio
