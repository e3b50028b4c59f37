// The messages nodes of a cluster exchange, independent of how they travel: socket.io-adapter's
// ClusterAdapter vocabulary (broadcasts, socketsJoin/Leave, disconnectSockets, fetchSockets,
// serverSideEmit, broadcast acks, and their answers), plus the ALL_ROOMS request of the classic
// Redis adapter. The cluster core (cluster_adapter.hpp) speaks only this; each transport turns it
// into its own bytes. This file also holds the ClusterAdapter wire format itself ({type, data,
// uid, nsp}, JSON, or MessagePack when it carries binary), used by the sharded and streams
// transports. Pure functions, no I/O; decoding treats its input as hostile (numbers range-checked,
// bad messages refused). Any thread.
#pragma once

#include "socketio/adapter.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socketio::cluster {

// socket.io-adapter 2.5 MessageType, plus two kinds only the classic Redis adapter has.
enum class MessageType : std::int64_t {
  initial_heartbeat = 1,
  heartbeat = 2,
  broadcast = 3,
  sockets_join = 4,
  sockets_leave = 5,
  disconnect_sockets = 6,
  fetch_sockets = 7,
  fetch_sockets_response = 8,
  server_side_emit = 9,
  server_side_emit_response = 10,
  broadcast_client_count = 11,
  broadcast_ack = 12,
  adapter_close = 13,
  // Classic Redis adapter only (never on the ClusterAdapter wire).
  all_rooms = 101,
  all_rooms_response = 102,
};

bool is_response(MessageType t) noexcept;

struct ClusterMessage {
  MessageType type = MessageType::broadcast;
  std::string uid;  // the sender
  std::string nsp;
  std::string request_id;           // empty: none (a broadcast without acks, a fire-and-forget emit)
  BroadcastOptions opts;            // broadcast, sockets_join/leave, disconnect_sockets, fetch_sockets
  OutgoingPacket packet;            // broadcast: data [event, ...args] + attachments
  std::vector<std::string> rooms;   // sockets_join/leave; all_rooms_response
  bool close = false;               // disconnect_sockets
  Args args;                        // server_side_emit: [event, ...args]; *_response / ack: [answer]
  std::vector<SocketInfo> sockets;  // fetch_sockets_response
  bool ids_only = false;            // fetch_sockets(_response) of the classic SOCKETS request
  std::size_t client_count = 0;     // broadcast_client_count
};

// Requests and responses carry ids of up to this length; longer ones are refused.
inline constexpr std::size_t kMaxIdLength = 256;
// The largest client count a node may report for one broadcast with acks.
inline constexpr std::uint64_t kMaxClientCount = std::uint64_t{1} << 32;

// fetchSockets' view of a socket, as a Node socket's {id, handshake, rooms, data}.
boost::json::object socket_to_json(const SocketInfo& s);
std::optional<SocketInfo> socket_from_json(const boost::json::value& v);

boost::json::array to_json(const std::vector<std::string>& v);
// A broadcast's packet as Node's adapters send it: {type: 2, data, nsp}.
boost::json::object packet_to_json(const ClusterMessage& m);
// An answer's one value (null when there is none).
boost::json::value first_or_null(const Args& a);
std::vector<std::string> strings_of(const boost::json::value* v);
std::string string_of(const boost::json::object& o, std::string_view key);

// A payload that starts with '{' is JSON, anything else MessagePack (bin values become
// attachments). nullopt when neither decodes.
std::optional<boost::json::value> decode_json_or_msgpack(std::string_view payload,
                                                         std::vector<Bytes>& attachments);

// ClusterAdapter format: {type, data, uid, nsp}; MessagePack when the message carries binary.
std::string encode_cluster_message(const ClusterMessage& m);
std::optional<ClusterMessage> decode_cluster_message(std::string_view payload);
// The same, over an already decoded value (the streams transport gets fields, not one payload).
std::optional<ClusterMessage> cluster_message_from_json(boost::json::value v, std::vector<Bytes> attachments);
boost::json::object cluster_message_to_json(const ClusterMessage& m);

}  // namespace socketio::cluster
