#include "net/ws_frame.hpp"

namespace socketio::net::ws {

namespace {

bool known_opcode(std::uint8_t op) {
  switch (op) {
    case kContinuation:
    case kText:
    case kBinary:
    case kClose:
    case kPing:
    case kPong:
      return true;
    default:
      return false;
  }
}

}  // namespace

HeaderStatus parse_client_header(std::string_view data, std::uint64_t max_payload, FrameHeader& header,
                                 bool allow_rsv1) {
  if (data.size() < 2) return HeaderStatus::need_more;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const bool fin = (p[0] & 0x80) != 0;
  const std::uint8_t op = p[0] & 0x0f;
  const bool masked = (p[1] & 0x80) != 0;
  const bool control = (op & 0x8) != 0;
  const bool rsv1 = (p[0] & 0x40) != 0;
  // Checked before the length is complete: a bad first byte is an error however long the wait.
  if ((p[0] & 0x30) != 0 || !masked || !known_opcode(op)) return HeaderStatus::protocol_error;
  if (rsv1 && (!allow_rsv1 || control || op == kContinuation)) return HeaderStatus::protocol_error;
  std::uint64_t len = p[1] & 0x7f;
  std::size_t at = 2;
  if (len == 126) {
    if (data.size() < 4) return HeaderStatus::need_more;
    len = (std::uint64_t{p[2]} << 8) | p[3];
    at = 4;
  } else if (len == 127) {
    if (data.size() < 10) return HeaderStatus::need_more;
    if (p[2] & 0x80) return HeaderStatus::protocol_error;  // §5.2: the most significant bit must be 0
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    at = 10;
  }
  if (control && (!fin || len > 125)) return HeaderStatus::protocol_error;
  if (!control && len > max_payload) return HeaderStatus::too_big;
  if (data.size() < at + 4) return HeaderStatus::need_more;
  header.fin = fin;
  header.rsv1 = rsv1;
  header.opcode = op;
  header.payload_length = len;
  header.header_length = at + 4;
  for (std::size_t i = 0; i < 4; ++i) header.mask[i] = p[at + i];
  return HeaderStatus::ok;
}

void unmask(char* data, std::size_t n, const std::array<unsigned char, 4>& mask) {
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<char>(data[i] ^ mask[i & 3]);
}

std::size_t write_server_header(char* out, std::uint8_t opcode, std::uint64_t n, bool rsv1) {
  out[0] = static_cast<char>(0x80 | (rsv1 ? 0x40 : 0) | opcode);
  if (n < 126) {
    out[1] = static_cast<char>(n);
    return 2;
  }
  if (n < 65536) {
    out[1] = 126;
    out[2] = static_cast<char>(n >> 8);
    out[3] = static_cast<char>(n & 0xff);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<char>((n >> (8 * (7 - i))) & 0xff);
  return 10;
}

int close_code(std::string_view payload) {
  if (payload.empty()) return 0;
  if (payload.size() < 2) return -1;
  const int code = (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
  // 1005, 1006 and 1015 are never sent; 1004 and the rest below 3000 are reserved.
  if (code < 1000 || code == 1004 || code == 1005 || code == 1006 || (code > 1014 && code < 3000) ||
      code > 4999)
    return -1;
  return code;
}

}  // namespace socketio::net::ws
