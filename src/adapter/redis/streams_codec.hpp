// The bytes of `@socket.io/redis-streams-adapter` 0.3.1 (Redis streams transport): stream entry
// ids, the fields of a stream entry, the MessagePack messages it sends over pub/sub, and the
// sessions it keeps for connection state recovery. Pure functions over bytes with explicit limits,
// no I/O; decoding treats its input as hostile. Any thread.
//
//  - Broadcasts (without acks), SOCKETS_JOIN, SOCKETS_LEAVE and DISCONNECT_SOCKETS are entries of
//    the stream, `XADD <stream> MAXLEN ~ <maxLen> * uid <uid> nsp <nsp> type <type> [data <data>]`:
//    type in decimal, data the message's data as JSON text, or as base64 of its MessagePack when it
//    carries binary. An entry's id is the offset its recoverable packets carry to the clients.
//  - Broadcasts with acks, FETCH_SOCKETS and SERVER_SIDE_EMIT ("ephemeral") go over pub/sub on
//    `<prefix>#<nsp>#`, answers on `<prefix>#<nsp>#<uid>#`: the whole {type, data, uid, nsp}
//    message in MessagePack.
//  - A session is `SET sio:session:<pid> <base64 of MessagePack {sid, pid, rooms, data}> PX <ms>`.
#pragma once

#include "adapter/cluster/cluster_message.hpp"
#include "socketio/adapter.hpp"

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace socketio::redis {

// A stream entry id, <milliseconds>-<sequence>; ordered as Redis orders them.
struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  auto operator<=>(const StreamId&) const = default;
  std::string str() const;
  // The smallest id after this one (an exclusive range start that Redis < 6.2 understands).
  StreamId next() const noexcept;
};

// Strictly /^[0-9]+-[0-9]+$/ with both parts fitting 64 bits (the adapter's offset check).
std::optional<StreamId> parse_stream_id(std::string_view s) noexcept;

// Sent over pub/sub rather than stored (the reference's isEphemeral): broadcasts with acks,
// fetchSockets and serverSideEmit requests. Answers always go over pub/sub.
bool is_ephemeral(const cluster::ClusterMessage& m) noexcept;

// An entry's fields, in the order the reference writes them.
struct StreamEntry {
  std::vector<std::pair<std::string, std::string>> fields;
};
StreamEntry encode_stream_entry(const cluster::ClusterMessage& m);

// Fields as read from Redis (name, value). nullopt when the entry is not a message of the
// adapter (no nsp, no type, undecodable data): the caller counts it.
using FieldsView = std::vector<std::pair<std::string_view, std::string_view>>;
std::optional<cluster::ClusterMessage> decode_stream_entry(const FieldsView& fields);
// One field's value ("" when absent): a cheap look at an entry before it is decoded.
std::string_view field_of(const FieldsView& fields, std::string_view name) noexcept;

// A pub/sub message of the streams adapter: MessagePack, binary or not.
std::string encode_streams_pubsub(const cluster::ClusterMessage& m);

// Sessions: base64 text of MessagePack {sid, pid, rooms, data}. A null data is written as {}
// (socket.data's default in Node, so that a Node node restoring it gets an object).
std::string encode_session(const PersistedSession& s);
// nullopt unless a map with string sid and pid (rooms: its strings; data: any value, binary
// parts dropped).
std::optional<PersistedSession> decode_session(std::string_view base64);

}  // namespace socketio::redis
