// Sessions of other nodes (docs/cluster.md, "One name, round-robin"): when a node's session ids
// carry its tag (Options::node_tag), a polling request or a WebSocket upgrade whose sid carries
// another tag cannot be for a local session; instead of "Session ID unknown" the Engine.IO server
// hands it to the Forwarder, which carries it to the node that owns it and the answer back (the
// adapters' layer does that over Redis: adapter/redis/session_forwarder.hpp). Engine.IO knows
// nothing of how. Called on the request's shard thread; the Forwarder answers through the
// Responder / WebSocket as any handler does, from any thread.
#pragma once

#include "net/http_handler.hpp"

#include <chrono>
#include <string_view>

namespace socketio::eio {

// Session-id tags: 4 characters of the session id's alphabet, right after its shard character.
constexpr std::size_t kNodeTagLength = 4;

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  virtual void forward_request(std::string_view sid, net::HttpRequest&& request,
                               net::ResponderPtr responder) = 0;
  virtual void forward_upgrade(std::string_view sid, net::WebSocketPtr ws) = 0;
  // Graceful stop, before this node's own sessions close: the exchanges it relays for other nodes'
  // sessions are brought to an end (a held poll answered by its owner), and those that arrive
  // from now on are answered as soon as the owner has them, so that clients go on through other
  // nodes without an error. Waits at most `timeout`; true when none is left open.
  virtual bool drain(std::chrono::milliseconds timeout) = 0;
};

// The tag a session id carries ("" when it is too short to carry one).
inline std::string_view node_tag_of(std::string_view sid) noexcept {
  return sid.size() > kNodeTagLength ? sid.substr(1, kNodeTagLength) : std::string_view();
}

}  // namespace socketio::eio
