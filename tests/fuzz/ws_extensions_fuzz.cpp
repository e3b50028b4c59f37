// libFuzzer target for the permessage-deflate negotiation (src/net/ws_extensions): the input is a
// Sec-WebSocket-Extensions value from a client; the first byte picks the server's configuration
// (context takeover each way, window limits). Whatever the header, negotiation must end (it is
// linear), and an accepted offer must give windows zlib can use and an answer that is itself a
// well-formed offer this server accepts with the same windows. Built by scripts/fuzz.sh.
#include "fuzz_check.hpp"
#include "net/ws_extensions.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

namespace ws = socketio::net::ws;

using socketio::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ws::DeflateConfig c;
  c.enabled = true;
  c.server_no_context_takeover = (data[0] & 1) != 0;
  c.client_no_context_takeover = (data[0] & 2) != 0;
  c.server_max_window_bits = 9 + (data[0] >> 2) % 7;
  c.client_max_window_bits = 8 + (data[0] >> 5) % 8;
  const std::string_view header(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto a = ws::negotiate_deflate(header, c);
  if (!a) return 0;
  check(a->server_window_bits >= 9 && a->server_window_bits <= c.server_max_window_bits, "server window");
  check(a->client_window_bits >= 8 && a->client_window_bits <= 15, "client window");
  check(a->client_no_context_takeover || a->client_window_bits <= c.client_max_window_bits, "client bound");
  check(a->server_no_context_takeover || !c.server_no_context_takeover, "server takeover only when allowed");
  check(a->client_no_context_takeover || !c.client_no_context_takeover, "client takeover only when allowed");
  check(a->response.rfind("permessage-deflate", 0) == 0, "answer names the extension");
  const auto again = ws::negotiate_deflate(a->response, c);
  check(again.has_value(), "the answer parses as an offer");
  check(again->server_window_bits == a->server_window_bits, "same server window");
  check(again->server_no_context_takeover == a->server_no_context_takeover, "same server takeover");
  return 0;
}
