// What nodes exchange to serve each other's Engine.IO sessions (docs/cluster.md, "One name,
// round-robin"): a request or WebSocket upgrade that reached a node which does not own its sid
// travels to the owner, which runs it through its own Engine.IO server as if it had arrived
// there; the answer, and for a WebSocket every frame both ways, travels back. Forwarding happens
// at the HTTP boundary (net/http_handler.hpp) rather than on Engine.IO packets as
// @socket.io/cluster-engine does (ACQUIRE_LOCK, DRAIN, PACKET, UPGRADE, CLOSE on
// "engine.io#<nodeId>#"): the owner's Engine.IO logic stays the only one, unchanged.
// One binary layout for every type ("SIOF", version, type, then every field, length-prefixed);
// bytes from Redis are untrusted: decode() checks every length and count against the input.
// Pure, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace socketio::cluster {

enum class ForwardType : std::uint8_t {
  request = 1,  // origin -> owner: a polling request (method, target, headers, body)
  response,     // owner -> origin: its answer (status, headers, body, close)
  abort,        // origin -> owner: the client went away before the answer
  ws_open,      // origin -> owner: a WebSocket upgrade request (as request)
  ws_accept,    // owner -> origin: accept it, with these response headers
  ws_reject,    // owner -> origin: answer it with this response instead
  ws_frames,    // owner -> origin: frames to send to the client
  ws_message,   // origin -> owner: a message from the client (frames[0])
  ws_close,     // owner -> origin: close (status: the close code; close: abort without handshake)
  ws_closed,    // origin -> owner: the connection is gone (body: the reason)
  release,      // origin -> owner: answer this request now (the origin is stopping)
};
constexpr std::uint8_t kMaxForwardType = 11;

struct ForwardMessage {
  ForwardType type = ForwardType::request;
  std::string from;      // the sender's node tag: where answers go
  std::uint64_t id = 0;  // the exchange, numbered by the origin node
  std::string method;    // request, ws_open
  std::string target;
  std::string remote_address;
  bool secure = false;
  unsigned status = 0;  // response, ws_reject; ws_close: the close code
  bool close = false;   // response, ws_reject: close the connection; ws_close: abort
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::pair<bool, std::string>> frames;  // (binary, bytes): ws_frames, ws_message
};

// Bounds of decode() beyond the input's own size.
constexpr std::size_t kMaxForwardHeaders = 256;
constexpr std::size_t kMaxForwardFrames = 65536;

std::string encode(const ForwardMessage& m);
std::optional<ForwardMessage> decode_forward_message(std::string_view bytes);

}  // namespace socketio::cluster
