// Engine.IO packet and payload codec, protocol v4 (and v3 for allowEIO3). Pure functions over
// bytes with explicit limits: no I/O, no allocation beyond the output, any thread.
//
// v4: a packet is one type digit followed by its data ("4hello"); a binary message travels as
// raw bytes in a WebSocket binary frame, or as 'b' + base64 inside a polling payload. A polling
// payload joins packets with the record separator 0x1E.
// v3: polling payloads are `<length>:<packet>` with the length in UTF-16 code units (what
// JavaScript's String.length counts); binary as `b4<base64>`, or the XHR2 binary framing
// (0x00|0x01, length digits, 0xFF, packet) when the client accepts binary. Binary WebSocket
// frames carry a leading 0x04 type byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace socketio::eio {

enum class PacketType : std::uint8_t {
  open = 0,
  close = 1,
  ping = 2,
  pong = 3,
  message = 4,
  upgrade = 5,
  noop = 6
};

struct Packet {
  PacketType type = PacketType::message;
  bool binary = false;  // a binary message: data holds raw bytes
  std::string data;
};

// A packet to encode, viewing data owned elsewhere (typically a shared broadcast buffer).
struct PacketView {
  PacketType type = PacketType::message;
  bool binary = false;
  std::string_view data;
};

enum class ParseError {
  ok = 0,
  empty_packet = 1,       // zero-length packet
  unknown_type = 2,       // type character not 0..6
  bad_base64 = 3,         // 'b' packet whose base64 does not decode
  payload_too_large = 4,  // payload or packet over Limits::max_payload
  too_many_packets = 5,   // over Limits::max_packets in one payload
  bad_length = 6,         // v3: missing/invalid/overlong length prefix
  bad_binary_frame = 7,   // v3: malformed XHR2 binary framing or binary frame without 0x04
};
const std::error_category& parse_category() noexcept;
std::error_code make_error_code(ParseError e) noexcept;

struct Limits {
  std::size_t max_payload = 1'000'000;  // bytes of a whole polling body or one WebSocket message
  std::size_t max_packets = 10'000;     // packets in one polling body
};

// --- decoding ---------------------------------------------------------------------------

// One text packet: a WebSocket text frame, or one segment of a polling payload ("b..." = base64
// binary message, v4 and v3 alike).
std::error_code decode_packet(std::string_view text, Packet& out);
// v3 form of one text packet: as decode_packet, except that a base64 binary message carries its
// type digit after the 'b' ("b4AQID"). Used for the segments of a v3 polling body.
std::error_code decode_packet_v3(std::string_view text, Packet& out);
// A WebSocket binary frame. v4: the bytes are a binary message. v3: first byte must be 0x04.
std::error_code decode_binary_frame(std::string_view bytes, int protocol, Packet& out);
// A v4 polling body: packets separated by 0x1E. Appends to out; on error out is unspecified.
std::error_code decode_payload(std::string_view body, std::vector<Packet>& out, const Limits& limits);
// A v3 polling body. binary_body: the request's Content-Type was application/octet-stream
// (XHR2 framing); otherwise the `len:packet` string framing.
std::error_code decode_payload_v3(std::string_view body, bool binary_body, std::vector<Packet>& out,
                                  const Limits& limits);

// --- encoding (append to out) -----------------------------------------------------------

// Text form of one packet: type digit + data; a binary message becomes 'b' + base64.
void encode_packet(const PacketView& p, std::string& out);
// v3 text form: as encode_packet, except that a binary message becomes "b4" + base64.
void encode_packet_v3(const PacketView& p, std::string& out);
// v4 polling body: packets joined by 0x1E.
void encode_payload(std::span<const PacketView> packets, std::string& out);
// v3 polling body. If supports_binary and any packet is binary, writes the XHR2 binary framing
// and returns true (respond with application/octet-stream); otherwise the string framing with
// binary as "b4<base64>", and returns false (text/plain).
bool encode_payload_v3(std::span<const PacketView> packets, bool supports_binary, std::string& out);

// --- helpers ----------------------------------------------------------------------------

// What JavaScript's String.length reports for this UTF-8 text (the unit of v3 length prefixes):
// a complete 4-byte sequence counts 2 (a surrogate pair), any other sequence or stray byte 1.
std::size_t utf16_length(std::string_view utf8) noexcept;

}  // namespace socketio::eio

template <>
struct std::is_error_code_enum<socketio::eio::ParseError> : std::true_type {};
