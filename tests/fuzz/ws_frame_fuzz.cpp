// libFuzzer target for the WebSocket frame header codec (src/net/ws_frame). The input is a byte
// stream from a client: frames are parsed one after the other, as the session does, with a
// message limit taken from the first byte; every parsed header must describe bytes inside the
// input once the payload is there, and re-encoding the length as a server header must give a
// header that parses back (after masking) to the same opcode and length. Built by scripts/fuzz.sh.
#include "fuzz_check.hpp"
#include "net/ws_frame.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

namespace ws = socketio::net::ws;

using socketio::fuzz::check;

// A server header for (opcode, n) turned into a client header (mask bit + zero key) must parse
// back to the same opcode and length.
void round_trip(std::uint8_t opcode, std::uint64_t n) {
  char head[ws::kMaxServerHeader];
  const std::size_t hl = ws::write_server_header(head, opcode, n);
  check(hl == 2 || hl == 4 || hl == 10, "server header length");
  std::string client(head, hl);
  client[1] = static_cast<char>(client[1] | 0x80);
  client.append(4, '\0');
  ws::FrameHeader h;
  check(ws::parse_client_header(client, UINT64_MAX >> 1, h) == ws::HeaderStatus::ok, "round trip parses");
  check(h.opcode == opcode && h.payload_length == n && h.fin, "round trip fields");
  check(h.header_length == client.size(), "round trip header length");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint64_t limit = std::uint64_t{data[0]} << (data[0] % 24);
  std::string buf(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t at = 0;
  while (at < buf.size()) {
    ws::FrameHeader h;
    const auto status = ws::parse_client_header(std::string_view(buf).substr(at), limit, h);
    if (status != ws::HeaderStatus::ok) break;
    check(h.header_length >= 6 && h.header_length <= ws::kMaxClientHeader, "header length");
    check((h.opcode & 0x8) == 0 ? h.payload_length <= limit : h.payload_length <= 125, "payload bound");
    if (buf.size() - at - h.header_length < h.payload_length) break;  // waits for more
    const auto n = static_cast<std::size_t>(h.payload_length);
    ws::unmask(buf.data() + at + h.header_length, n, h.mask);
    if (h.opcode == ws::kClose) {
      const int code = ws::close_code(std::string_view(buf).substr(at + h.header_length, n));
      check(code == -1 || code == 0 || (code >= 1000 && code <= 4999), "close code range");
    }
    round_trip(h.opcode, h.payload_length);
    at += h.header_length + n;
  }
  return 0;
}
