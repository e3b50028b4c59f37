// The boundary between src/net (sockets, TLS, HTTP parsing, WebSocket framing: all Beast) and
// the layers above, which see only these Beast-free interfaces:
//  - HttpHandler: what the server calls for every request and every WebSocket upgrade;
//  - Responder: answers one request, from any thread, once; tells when the peer went away;
//  - WebSocket: one accepted or to-be-accepted WebSocket connection; thread-safe send/close,
//    callbacks on the connection's own shard.
#pragma once

#include "core/bytes.hpp"
#include "core/inline_callback.hpp"
#include "net/http_message.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace socketio::net {

// What runs when the peer of a held request goes away: kept in the Responder itself, not on the
// heap (core/inline_callback.hpp says why), so it captures at most 48 bytes.
using AbortCallback = core::InlineCallback<48>;

// Answers one HTTP request. respond() may be called from any thread, at most once (later calls
// are ignored). If the peer closes the connection before the answer, the abort callback runs
// (on the connection's shard thread) instead, exactly once.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void respond(HttpResponse response) = 0;
  virtual void on_abort(AbortCallback callback) = 0;
  // The shard whose thread owns the connection.
  virtual std::size_t shard() const noexcept = 0;
  // Cluster forwarding (eio/forwarder.hpp): the tag of the node that relayed this request to the
  // session's owner; empty for a request that reached this node directly.
  virtual std::string_view relayed_by() const noexcept { return {}; }
  // Relayed requests only: `callback` runs once (any thread) if the relaying node asks for the
  // answer now (it is stopping and hands the client back). Direct requests never call it.
  virtual void on_release(std::function<void()> callback) { (void)callback; }
};
using ResponderPtr = std::shared_ptr<Responder>;

// One outgoing WebSocket message: head (a type byte or two, kept inline) followed by body.
struct WsFrame {
  bool binary = false;
  char head[2] = {0, 0};
  std::uint8_t head_len = 0;
  // permessage-deflate, when negotiated: compress may be cleared by the sender (the packet's
  // compress flag); deflated is set by the connection once body holds the compressed message.
  bool compress = true;
  bool deflated = false;
  core::SharedBytes body;  // may be null

  std::size_t size() const noexcept { return head_len + (body ? body->size() : 0); }
};

class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // Called on the connection's shard thread.
  virtual void on_ws_message(std::string_view data, bool binary) = 0;
  // The connection is gone (peer close, error, timeout, or close() done). Called once.
  virtual void on_ws_closed(std::string_view reason) = 0;
  // What is queued fell back to the backpressure mark (ServerOptions::backpressure_bytes) or
  // under, after being over it. Called on the connection's shard thread.
  virtual void on_ws_drained() {}
};

class WebSocket {
 public:
  virtual ~WebSocket() = default;
  virtual const HttpRequest& request() const noexcept = 0;
  virtual std::size_t shard() const noexcept = 0;

  // Completes the handshake (its 101 response carrying response_headers too), then delivers
  // messages to handler (held weakly: the handler's owner keeps it alive). on_done(false) if the
  // handshake failed (the handler gets no callbacks). Call once, from any thread.
  virtual void accept(std::weak_ptr<WebSocketHandler> handler, std::function<void(bool)> on_done,
                      std::vector<std::pair<std::string, std::string>> response_headers = {}) = 0;
  // Instead of accepting: write this HTTP response and close.
  virtual void reject(HttpResponse response) = 0;

  // Thread-safe. Frames are written in order.
  virtual void send(WsFrame frame) = 0;
  virtual void send(std::vector<WsFrame> frames) = 0;
  // Thread-safe. Sends a close frame after what is queued, then closes; the connection is
  // destroyed at the latest ServerOptions::close_timeout later, whether or not the peer reads.
  // code 0: no status code.
  virtual void close(std::uint16_t code = 1000) = 0;
  // Thread-safe. Drops what is queued and destroys the connection now, without a closing
  // handshake: for a peer that does not read (the slow-client policy). The handler hears
  // "transport error".
  virtual void abort() = 0;
  // Bytes queued and not yet written (approximate when read from another thread).
  virtual std::size_t buffered_bytes() const noexcept = 0;
  // Thread-safe (applied on the connection's shard thread, in call order). While held, the peer
  // is not read beyond the read being handled (publisher backpressure: eio/flow.hpp); released,
  // reading resumes.
  virtual void hold_reading(bool held) { (void)held; }
};
using WebSocketPtr = std::shared_ptr<WebSocket>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Called on the connection's shard thread.
  virtual void on_request(HttpRequest&& request, ResponderPtr responder) = 0;
  // A WebSocket upgrade request; the handler must accept() or reject() it.
  virtual void on_upgrade(WebSocketPtr ws) = 0;
};

}  // namespace socketio::net
