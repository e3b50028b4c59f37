// Internal to src/net: the two stream types every connection is one of, and the hand-off from
// an HTTP session to a WebSocket session. Heavy (Beast); include only from src/net/*.cpp.
#pragma once

#include "core/trip_log.hpp"
#include "net/http_convert.hpp"
#include "net/http_handler.hpp"
#include "net/server.hpp"
#include "net/tls_stream.hpp"
#include "net/ws_deflate.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace socketio::net::detail {

// A plain connection's socket and stream carry their shard's io_context executor (8 bytes), not
// the type-erased any_io_executor (56): the socket and each of its pending operations keep a
// copy, so an idle WebSocket would pay twice (~100 bytes).
using ShardSocket =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
using PlainStream = boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type,
                                               boost::beast::unlimited_rate_policy>;
using TlsStream = LeanTlsStream;  // see net/tls_stream.hpp: 68 KiB less per connection than ssl_stream

// What every connection of one shard shares: one per shard, owned by the server (net::Server's
// Impl) and living as long as it, so that a connection keeps a pointer instead of a copy (a copy
// cost every connection 72 bytes).
struct ShardContext {
  ShardPool* pool = nullptr;
  const ServerOptions* options = nullptr;
  HttpHandler* handler = nullptr;
  ServerStats* stats = nullptr;
  // The throttles of the shard's log lines (touched by its thread only, hence mutable here).
  mutable core::TripLog header_log;   // 431s
  mutable core::TripLog timeout_log;  // --headers-timeout closes
  // The shard's permessage-deflate streams and cache (null when the option is off); shared so
  // that a task posted to clear its cache can never outlive it.
  std::shared_ptr<ws::DeflateShard> deflate;
};

// One connection's context: its shard's, read through `->`, and its own place in the budget.
struct ConnContext {
  const ShardContext* shard = nullptr;
  // This connection's place in the connection budget: every session that owns the stream holds
  // a copy, so it is given back when the last of them (HTTP, then WebSocket) is gone.
  std::shared_ptr<AddressLimits::Slot> slot;
  const ShardContext* operator->() const noexcept { return shard; }
};

// The WebSocket an upgrade request becomes (websocket.cpp). It is handed to the upgrade handler
// corked: what the handler queues on it meanwhile (accepted at once, the 101 answer and Engine.IO's
// open packet) waits until the HTTP session calls upgrade_handled() right after the handler
// returns, and then leaves in one write without a task of its own.
class UpgradedWebSocket : public WebSocket {
 public:
  virtual void upgrade_handled() = 0;  // on the connection's shard, once
};
using UpgradedWebSocketPtr = std::shared_ptr<UpgradedWebSocket>;

UpgradedWebSocketPtr make_websocket(PlainStream&& stream, BeastRequest&& beast_req, HttpRequest&& req,
                                    const ConnContext& ctx, std::size_t shard);
UpgradedWebSocketPtr make_websocket(TlsStream&& stream, BeastRequest&& beast_req, HttpRequest&& req,
                                    const ConnContext& ctx, std::size_t shard);

// Converts a Beast response from the Beast-free value.
boost::beast::http::response<boost::beast::http::string_body> to_beast_response(HttpResponse&& res,
                                                                                int version);

}  // namespace socketio::net::detail
