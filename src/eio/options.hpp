// Engine.IO server options, with the reference server's names and defaults. A value type,
// copied into the server at construction; read-only afterwards (any thread may read).
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eio/forwarder.hpp"
#include "eio/outbox.hpp"
#include "net/address_limits.hpp"
#include "net/forwarded.hpp"
#include "net/http_message.hpp"
#include "socketio/metrics.hpp"

namespace socketio::eio {

// The reference's Server.errors.
enum class ErrorCode : int {
  unknown_transport = 0,
  unknown_sid = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};

struct CorsOptions {
  bool enabled = false;
  // "*" allows any origin (sent as "*", never with credentials); otherwise the request's Origin
  // must be one of these exactly and is reflected (with credentials when asked for).
  std::vector<std::string> origins{"*"};
  bool credentials = false;
  std::string methods = "GET,HEAD,PUT,PATCH,POST,DELETE";  // the cors package's default
  std::string allowed_headers;                             // empty: reflect Access-Control-Request-Headers
  int max_age = -1;                                        // seconds; -1: not sent
};

struct Options {
  std::string path = "/engine.io/";  // Socket.IO uses "/socket.io/"
  std::chrono::milliseconds ping_interval{25'000};
  std::chrono::milliseconds ping_timeout{20'000};
  std::chrono::milliseconds upgrade_timeout{10'000};
  std::size_t max_http_buffer_size = 1'000'000;  // also maxPayload in the handshake
  bool allow_polling = true;
  bool allow_websocket = true;
  bool allow_upgrades = true;
  bool allow_eio3 = false;
  CorsOptions cors;
  // Which X-Forwarded-For hops are proxies (off: the client is the TCP peer). Decides the client
  // address of a session (and so the per-address limits) and its secure flag.
  net::ProxyTrust trust_proxy;
  // Sessions and handshakes per client address (shared with the listener's connection limits).
  // A handshake over a limit gets 403 {"code":4,"message":"Too many ..."}, as an allowRequest
  // refusal does in the reference. Null: no limits.
  std::shared_ptr<net::AddressLimits> limits;
  // Long-polling responses of at least threshold bytes are gzip/deflate-compressed when the GET
  // accepts it and a packet in them asks for it (engine.io's httpCompression, on by default,
  // threshold 1024). Bodies over max_http_buffer_size go uncompressed: the cost on the shard
  // thread stays bounded.
  bool http_compression = true;
  std::size_t http_compression_threshold = 1024;
  // What may be queued for one client, and for how long (eio/outbox.hpp).
  OutboxLimits outbox;
  // nullopt accepts a handshake; a message refuses it (HTTP 403, code 4; "Forbidden" when empty).
  std::function<std::optional<std::string>(const net::HttpRequest&)> allow_request;
  // The Set-Cookie value for a polling handshake's session id (engine.io's `cookie`); unset: none.
  std::function<std::string(std::string_view sid)> cookie;
  // Headers added to a 200 polling response or a WebSocket upgrade; `initial`: the handshake's
  // (engine.io's initial_headers then headers events). Called on the request's shard.
  using ExtraHeaders = std::vector<std::pair<std::string, std::string>>;
  std::function<void(ExtraHeaders&, const net::HttpRequest&, bool initial)> headers;
  // A request refused with an Engine.IO error, with engine.io's context for it (connection_error).
  std::function<void(ErrorCode, const boost::json::object& context, const net::HttpRequest&)>
      connection_error;
  Metrics* metrics = nullptr;  // where the counters go; null: not counted
  // Sessions of other nodes (eio/forwarder.hpp): this node's session ids carry node_tag
  // (kNodeTagLength characters of the id alphabet), and requests for ids that carry another
  // tag go to the forwarder. Both empty: plain random ids, unknown ids refused.
  std::string node_tag;
  std::shared_ptr<Forwarder> forwarder;
};

}  // namespace socketio::eio
