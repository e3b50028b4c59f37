// WebSocket frame headers (RFC 6455 §5.2), server side: parses the masked frames a client sends
// and writes the unmasked headers a server sends. Pure (no I/O, no allocation), fuzzed by
// tests/fuzz/ws_frame_fuzz.cpp. Beast does the opening handshake; after it the WebSocket session
// (websocket.cpp) frames the stream with these, so that it can gather many frames into one write
// and share one broadcast's bytes between recipients.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace socketio::net::ws {

enum Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// The longest header a client frame can have: 2 + 8 (64-bit length) + 4 (mask key).
inline constexpr std::size_t kMaxClientHeader = 14;
// The longest header this server writes: 2 + 8 (64-bit length), never masked.
inline constexpr std::size_t kMaxServerHeader = 10;

struct FrameHeader {
  bool fin = false;
  bool rsv1 = false;  // permessage-deflate: the message is compressed (first frame only)
  std::uint8_t opcode = 0;
  std::uint64_t payload_length = 0;
  std::size_t header_length = 0;  // bytes before the payload, mask key included
  std::array<unsigned char, 4> mask{};
};

enum class HeaderStatus {
  ok,              // `header` is filled in; the payload follows header_length bytes
  need_more,       // not a whole header yet: read more and call again
  protocol_error,  // close with 1002: reserved bits, unmasked, unknown opcode, bad control frame,
                   // 64-bit length with its top bit set, RSV1 where it may not be
  too_big,         // the payload alone exceeds max_payload: close with 1009
};

// Parses the header of the client frame at the start of `data`. `max_payload` bounds the length
// of this frame's payload (data frames only; control frames are bounded at 125 by the RFC).
// allow_rsv1: permessage-deflate was negotiated, so RSV1 may be set on a text or binary frame
// (never on a control or continuation frame: RFC 7692 §6.1).
HeaderStatus parse_client_header(std::string_view data, std::uint64_t max_payload, FrameHeader& header,
                                 bool allow_rsv1 = false);

// XORs `n` bytes at `data` with the mask key, in place (the payload of one frame).
void unmask(char* data, std::size_t n, const std::array<unsigned char, 4>& mask);

// Writes a final, unmasked server frame header for a payload of n bytes into out (at least
// kMaxServerHeader bytes); returns its length. rsv1: a compressed message (permessage-deflate).
std::size_t write_server_header(char* out, std::uint8_t opcode, std::uint64_t n, bool rsv1 = false);

// The status code of a close frame's payload: 0 when it has none (an empty payload), -1 when the
// payload is malformed (one byte) or carries a code a peer may not send (RFC 6455 §7.4).
int close_code(std::string_view payload);

}  // namespace socketio::net::ws
