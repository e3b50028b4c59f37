// Engine.IO-level options and hooks of socketio::Server, as engine.io 6 has them: the `cookie`
// option, `allowRequest`, the `initial_headers` / `headers` events and the `connection_error`
// event. Set them in ServerOptions before listen(). The hooks run on the shard thread of the
// request, several at once on different shards: they must be thread-safe, and quick (they sit on
// the request path).
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace socketio {

namespace net {
struct HttpRequest;
}

// A read-only view of the HTTP request a hook is called for (valid during the call only).
class EngineRequest {
 public:
  explicit EngineRequest(const net::HttpRequest& request) noexcept : r_(request) {}
  std::string_view method() const noexcept;  // "GET", "POST", ...
  std::string_view url() const noexcept;     // path and query, as received
  std::string_view path() const noexcept;
  std::string_view query() const noexcept;  // without the '?'
  // First header with that name (case-insensitive).
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  std::string_view remote_address() const noexcept;
  bool secure() const noexcept;  // arrived over TLS

 private:
  const net::HttpRequest& r_;
};

// Headers a hook adds to a response (name, value). Several Set-Cookie entries are all sent; any
// other name replaces the response's header of that name. Names or values with control
// characters are dropped (and logged).
using ResponseHeaders = std::vector<std::pair<std::string, std::string>>;

// engine.io's `cookie` option (the `cookie` npm package's serialize options). With it, the
// handshake response of a polling session carries "Set-Cookie: io=<sid>; Path=/; HttpOnly;
// SameSite=Lax" (the defaults), what cookie-based sticky load balancers key on.
struct CookieOptions {
  std::string name = "io";
  std::string path = "/";  // empty: no Path attribute
  std::string domain;      // empty: none
  bool http_only = true;
  bool secure = false;
  std::string same_site = "lax";  // "lax", "strict", "none", or empty: no SameSite attribute
  std::optional<std::chrono::seconds> max_age;
  bool partitioned = false;
};
// The Set-Cookie value for a session id, byte for byte as engine.io writes it.
std::string serialize_cookie(const CookieOptions& options, std::string_view sid);

// engine.io's Server.errors.
enum class EngineError : int {
  unknown_transport = 0,
  unknown_sid = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};

// What engine.io's `connection_error` event carries: the code, its standard message (not the
// message an allow_request refusal sent), the context engine.io gives for that case (e.g.
// {"transport":"x"}, {"sid":"..."}, {"method":"POST"}, {"name":"TRANSPORT_HANDSHAKE_ERROR"},
// {"message":"..."} for FORBIDDEN, {"protocol":3}), and the request.
struct ConnectionError {
  EngineError code;
  std::string_view message;
  boost::json::object context;
  const EngineRequest& request;
};

// nullopt accepts the handshake; a string refuses it with HTTP 403 {"code":4,"message":<it>}
// ("Forbidden" when empty), like allowRequest's callback(message, false).
using AllowRequest = std::function<std::optional<std::string>(const EngineRequest&)>;
// initial_headers: the handshake response (polling or WebSocket); headers: that one and every
// later polling response and WebSocket upgrade of a session.
using HeadersHook = std::function<void(ResponseHeaders&, const EngineRequest&)>;
using ConnectionErrorHandler = std::function<void(const ConnectionError&)>;

}  // namespace socketio
