// WireFormat: how one client's Socket.IO packets are put on the wire (parser and protocol
// revision). Each Client has one for its whole life; everything above the parsers (sockets,
// namespaces, adapters) works on the format-neutral packet (JSON values with placeholders plus
// attachments, see sio/parser/packet.hpp) and only encode.cpp turns it into bytes.
//
// Broadcasts are encoded once per format *in use*, never once per socket: ServerCore counts the
// clients of each format (on client creation/destruction, not per message), a broadcast encodes a
// MultiEncoded (encode.hpp) for every format with clients at that moment, and each shard hands
// each recipient the slot of its client's format (a plain array index: no allocation, no atomic
// per recipient). A client whose format had no clients when the broadcast was encoded connected
// after it was emitted; it is skipped, exactly like a client that joined the room too late.
//
// Adding a format (e.g. Socket.IO v4 over Engine.IO v3 for socket.io 2.x clients):
//  1. add an enumerator before `count` below and give it a name in wire_format_name();
//  2. encode.cpp: a case in encode_packet() (and, if the text/binary framing differs, in how
//     EncodedPacket is filled: head + head_binary + attachments);
//  3. client.cpp: a case in Client::decode() for incoming messages;
//  4. server.cpp: ServerCore::format_for() picks it for a new session (from the server options
//     and the session, e.g. its Engine.IO protocol).
// Nothing else changes: broadcasts, acks and the adapters are format-blind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace socketio::sio {

enum class WireFormat : std::uint8_t {
  json_v5 = 0,     // socket.io-parser (default): text packets, binary as attachment messages
  msgpack_v5 = 1,  // socket.io-msgpack-parser 3.x: one binary MessagePack message per packet
  // Socket.IO protocol v4 over Engine.IO v3 (socket.io-client 2.x, --allow-eio3): the JSON
  // packets and binary placeholders of json_v5 (socket.io-parser 3.x writes the same bytes),
  // but CONNECT carries no payload ("40", "40/nsp,"), a refusal by middleware carries a plain
  // value ('44"message"'), and a namespace may come with a query ("/nsp?token=1": the auth).
  json_v4 = 2,
  count
};
inline constexpr std::size_t kWireFormats = static_cast<std::size_t>(WireFormat::count);

constexpr std::size_t index_of(WireFormat f) noexcept {
  return static_cast<std::size_t>(f);
}

constexpr std::string_view wire_format_name(WireFormat f) noexcept {
  switch (f) {
    case WireFormat::json_v5:
      return "json";
    case WireFormat::msgpack_v5:
      return "msgpack";
    case WireFormat::json_v4:
      return "json-v4";
    case WireFormat::count:
      break;
  }
  return "?";
}

// A set of formats (bit i: format i), e.g. the formats with connected clients.
using WireFormatSet = std::uint32_t;
static_assert(kWireFormats <= 32);
constexpr WireFormatSet format_bit(WireFormat f) noexcept {
  return WireFormatSet{1} << index_of(f);
}

}  // namespace socketio::sio
