// permessage-deflate negotiation (RFC 7692 §5 and §7.1), server side: reads the client's
// Sec-WebSocket-Extensions offers and picks the first one this server accepts, or none. Pure
// (no I/O, no zlib), any thread; fuzzed by tests/fuzz/ws_extensions_fuzz.cpp.
//
// What is accepted and answered (docs/api.md has the user's view):
//  - An offer with a parameter this server does not know, a parameter given twice, or a value
//    that is not allowed is declined, and so is one asking for server_max_window_bits=8 (zlib
//    cannot make a raw deflate stream with a 256-byte window); the next offer is tried. A header
//    that cannot be parsed declines everything. Declining never fails the handshake: the
//    connection simply goes uncompressed, as RFC 7692 §5 and browsers expect.
//  - Server to client: without context takeover unless the configuration allows it and the
//    offer does not forbid it (server_no_context_takeover). Without it, one message compresses
//    to the same bytes for every recipient with the same window, so a broadcast is compressed
//    once per shard and shared (DESIGN.md: encode once), and no connection holds a deflate stream.
//  - Client to server: client_no_context_takeover is asked for unless the configuration allows
//    takeover; then the connection needs its own inflate stream (2^window bytes + ~7 KiB), and
//    its window is limited with client_max_window_bits when the client offered that parameter.
//    If the client did not offer it and the configured limit is under 15, takeover is refused
//    (client_no_context_takeover) rather than letting a client pick a 32 KiB window.
//  - server_max_window_bits is answered only when offered (with the smaller of the offer and
//    the configuration); client_max_window_bits only when offered and a limit applies.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace socketio::net::ws {

// The server's configuration (ServerOptions::per_message_deflate), engine.io/ws option names in
// comments. Ranges are checked by the public Server (socketio::Server throws on a bad value).
struct DeflateConfig {
  bool enabled = false;          // perMessageDeflate
  std::size_t threshold = 1024;  // threshold: smaller messages go uncompressed
  // serverNoContextTakeover / clientNoContextTakeover; ws defaults both to false (see above why
  // these default to true here).
  bool server_no_context_takeover = true;
  bool client_no_context_takeover = true;
  int server_max_window_bits = 15;  // serverMaxWindowBits, 9..15
  int client_max_window_bits = 15;  // clientMaxWindowBits, 8..15
  int mem_level = 8;                // zlibDeflateOptions.memLevel, 1..9
  int level = 6;                    // zlibDeflateOptions.level, 0..9 (6: zlib's default)
};

// What one connection agreed to.
struct DeflateAgreement {
  bool server_no_context_takeover = true;  // true: every message compressed on its own (shared)
  bool client_no_context_takeover = true;  // true: every client message inflates on its own
  int server_window_bits = 15;             // our deflate window
  int client_window_bits = 15;             // the client's window: our inflate window
  std::string response;                    // the Sec-WebSocket-Extensions value to answer with
};

// Negotiates from the request's Sec-WebSocket-Extensions value (every header line of that name
// joined with ", "). nullopt: no offer accepted (or the configuration is off): no compression.
std::optional<DeflateAgreement> negotiate_deflate(std::string_view extensions, const DeflateConfig& config);

}  // namespace socketio::net::ws
