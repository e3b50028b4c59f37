// The MessagePack codec of the Redis adapter: turns a broadcast (uid, packet, options) into the
// bytes `@socket.io/redis-adapter` 8.x and `@socket.io/redis-emitter` 5.x put on Redis (notepack.io
// conventions: maps with string keys in insertion order, the smallest integer encoding, float64 for
// non-integers, binary as `bin` where the Socket.IO placeholder stood) and back. Pure functions over
// bytes with explicit limits, no I/O: owned by the Redis adapter, callable from any thread.
#pragma once

#include "sio/parser/msgpack_value.hpp"
#include "socketio/adapter.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socketio::redis {

// The value codec lives with the Socket.IO parsers (the msgpack client parser shares it).
using DecodeLimits = sio::MsgpackLimits;
using sio::decode_msgpack;
using sio::encode_msgpack;

// One message on `<key>#<nsp>#[<room>#]`: [uid, {type, data, nsp}, {rooms, except, flags}].
struct BroadcastMessage {
  std::string uid;
  OutgoingPacket packet;
  BroadcastOptions opts;
};

std::string encode_broadcast(std::string_view uid, const OutgoingPacket& packet,
                             const BroadcastOptions& opts);
std::optional<BroadcastMessage> decode_broadcast(std::string_view bytes, const DecodeLimits& limits = {});

// Numbers from Redis are untrusted: v as an integer in [0, max] (an integral double counts, as
// JavaScript has no other number), nullopt otherwise (absent, negative, fractional, NaN, too big).
std::optional<std::uint64_t> checked_uint(const boost::json::value* v, std::uint64_t max);

// Replaces every {"_placeholder":true,"num":n} whose n does not name one of `attachments` by null:
// relayed to a client inside a BINARY_EVENT, such an index makes socket.io-client drop the whole
// connection ("illegal attachments"). Returns how many were replaced.
std::size_t drop_invalid_placeholders(boost::json::value& v, std::size_t attachments);

// The {rooms, except, flags} object as the adapter sends it (flags only when meaningful), and its
// inverse (numbers among rooms, which Node allows, become strings). Shared with the request codec.
boost::json::object options_to_json(const BroadcastOptions& opts, bool with_flags);
BroadcastOptions options_from_json(const boost::json::value& v);

}  // namespace socketio::redis
