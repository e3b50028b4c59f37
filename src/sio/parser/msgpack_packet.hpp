// The socket.io-msgpack-parser 3.x packet codec (the parser of the served socket.io.msgpack.min.js
// bundle): one Socket.IO packet is one binary Engine.IO message holding a MessagePack map
// {type, nsp, data?, id?}, with binary values inline as `bin` (no attachments, no BINARY_* types).
// Pure: no I/O, explicit limits, any thread.
//
// Decoded packets take the JSON parser's in-memory form (packet.hpp): every binary value becomes a
// placeholder object and its bytes an attachment, so everything above the parser is format-blind.
// Validation is the JSON parser's (type, namespace, ack id, payload shape per type), with
// socket.io-msgpack-parser's own rules on top: EVENT and ACK need an array, CONNECT an object or
// nothing, DISCONNECT nothing.
#pragma once

#include "sio/parser/packet.hpp"
#include "socketio/args.hpp"

#include <boost/json/array.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace socketio::sio {

// Decodes one binary message. Limits: max_packet_size (bytes), max_depth (nesting of data),
// max_attachments (binary values in data). On error, out and attachments are unspecified.
std::error_code decode_msgpack_packet(std::string_view bytes, Packet& out, std::vector<Bytes>& attachments,
                                      const Limits& limits);

// Appends the packet as socket.io-msgpack-parser writes it, keys in the order the reference server
// builds its packet objects (an ACK starts with its id; CONNECT data gets notepack's `pid: undefined`
// when it has no pid, as socket.io 4 sends it). data: null pointer when absent; placeholders with a
// valid num are written as `bin`. BINARY_EVENT/BINARY_ACK are written as EVENT/ACK.
void encode_msgpack_packet(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id,
                           const boost::json::value* data, const std::vector<Bytes>& attachments,
                           std::string& out);
// The same for EVENT/ACK data given as an array (no json::value built around it).
void encode_msgpack_packet(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id,
                           const boost::json::array& data, const std::vector<Bytes>& attachments,
                           std::string& out);

}  // namespace socketio::sio
