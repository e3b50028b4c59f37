// The Socket.IO layer's series in the server's metrics registry (see include/socketio/metrics.hpp
// for how a layer adds one): namespace connections and disconnections by reason, events in and
// out, broadcast deliveries, packets dropped by cause. Registered once by socketio::Server;
// incremented on the socket's shard. Default-constructed: every handle is a no-op.
#pragma once

#include "socketio/metrics.hpp"

#include <array>
#include <string_view>

namespace socketio::sio {

struct Counters {
  Counters() = default;
  explicit Counters(Metrics& m);

  // Socket.IO's disconnect reasons (socket.io's DisconnectReason), then "other".
  static constexpr std::array<std::string_view, 9> kReasons = {"transport close",
                                                               "transport error",
                                                               "ping timeout",
                                                               "parse error",
                                                               "forced close",
                                                               "server namespace disconnect",
                                                               "client namespace disconnect",
                                                               "server shutting down",
                                                               "forced server close"};

  const Metrics::Counter& disconnected(std::string_view reason) const noexcept;

  Metrics::Counter connections;  // sockets that joined a namespace
  std::array<Metrics::Counter, kReasons.size() + 1> disconnections;
  Metrics::Counter events_received, events_sent, broadcast_deliveries;
  Metrics::Counter dropped_volatile;  // slow clients: eio::OutboxStats
  // The limits of docs/reliability.md.
  Metrics::Counter rooms_refused;        // join() over max_rooms_per_socket
  Metrics::Counter client_acks_dropped;  // ack ids forgotten over max_pending_client_acks
  Metrics::Counter namespace_too_long;   // CONNECT over max_namespace_name_length
  Metrics::Counter namespaces_refused;   // CONNECT that would create one dynamic namespace too many
  Metrics::Counter namespaces_removed;   // cleanup_empty_child_namespaces
};

}  // namespace socketio::sio
