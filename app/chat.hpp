// The chat relay contract of socketio-server, installed on one namespace (the binary uses "/").
// It is what the integration tests and the benchmarks talk to, and what tests/reference/
// chat-server.mjs implements in Node; keep the two in step. Events from the client:
//
//   join (room, ack)          joins room; ack {ok:true}, or {ok:false, error} when the socket is
//                             in --max-rooms-per-socket rooms already
//   leave (room, ack)         leaves room; ack {ok:true}
//   chat message (room, text[, ack])
//                             emits "chat message" {room, text} to every socket in room, the
//                             sender included when it is in the room; text is any JSON value or
//                             binary, relayed as it came; ack {ok:true} when asked for
//   echo (...args, ack)       ack(...args): exactly the arguments received, binary included
//   nick (name, ack)          a display name of 1..32 characters, kept in socket.data.name
//   members (room, ack)       ack {ok:true, room, members:[{id, name}]}, across the cluster;
//                             only for a member of the room (else {ok:false, error}); only
//                             ids and socket.data travel between nodes, never handshakes
//   whoami (ack)              ack {ok:true, id, address, secure}: the client's address and
//                             whether it came over TLS, as the server sees them (with
//                             --trust-proxy, from X-Forwarded-For / X-Forwarded-Proto); lets a
//                             user check a proxy set-up, and tells a client only about itself
//
// Invalid arguments (room not a string, text missing, bad name) answer {ok:false, error} when
// the client asked for an ack and are ignored otherwise; join, leave, nick and members without
// an ack are ignored. After a join, leave, nick or disconnect that changes a room, the server
// emits "presence" {room, members:[{id, name}]} to that room, unless the room has more local
// members than presence_limit (a presence event lists every member, so it is for chat-sized
// rooms, not for benchmark-sized ones).
//
// install_chat() must be called before Server::listen(). The handlers run on each socket's
// shard; the only state shared between shards (the room sizes used to gate presence) is behind
// a mutex taken once per join, leave or disconnect, never per message.
#pragma once

#include "socketio/namespace.hpp"

#include <cstddef>

namespace socketio::app {

struct ChatOptions {
  std::size_t presence_limit = 100;  // 0: no presence events
};

void install_chat(Namespace& nsp, ChatOptions options = {});

}  // namespace socketio::app
