#include "eio/server.hpp"

#include "core/id.hpp"
#include "eio/heartbeat.hpp"
#include "eio/parser/jsonp.hpp"

#include <spdlog/spdlog.h>
#include <boost/url/parse_query.hpp>

#include <cctype>

namespace socketio::eio {

std::string_view error_message(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::unknown_transport:
      return "Transport unknown";
    case ErrorCode::unknown_sid:
      return "Session ID unknown";
    case ErrorCode::bad_handshake_method:
      return "Bad handshake method";
    case ErrorCode::bad_request:
      return "Bad request";
    case ErrorCode::forbidden:
      return "Forbidden";
    case ErrorCode::unsupported_protocol_version:
      return "Unsupported protocol version";
  }
  return "Bad request";
}

struct Server::Query {
  std::optional<std::string> eio, transport, sid, b64, j;
};

namespace {

// Characters Node refuses in a header value (its checkInvalidHeaderChar).
bool invalid_header_value(std::string_view v) {
  for (unsigned char c : v)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  return false;
}

// An RFC 9110 token (what Node's validateHeaderName accepts).
bool valid_header_name(std::string_view n) {
  if (n.empty()) return false;
  for (unsigned char c : n) {
    const bool ok = std::isalnum(c) ||
                    std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Server::Server(net::ShardPool& pool, Options options)
    : pool_(pool),
      options_(std::move(options)),
      sessions_(pool.size()),
      trip_logs_(pool.size()),
      body_logs_(pool.size()) {
  if (options_.path.empty() || options_.path.front() != '/') options_.path.insert(0, "/");
  if (options_.path.back() != '/') options_.path.push_back('/');
  if (options_.metrics) counters_ = Counters(*options_.metrics);
  heartbeats_.reserve(pool.size());
  for (std::size_t shard = 0; shard < pool.size(); ++shard)
    heartbeats_.push_back(std::make_unique<HeartbeatQueue>(pool.context(shard), &Session::on_heartbeat_due));
}

Server::~Server() = default;

bool Server::matches(const net::HttpRequest& req) const noexcept {
  const auto path = req.path();
  // The reference matches the path with or without its trailing slash.
  return path == options_.path || path == std::string_view(options_.path).substr(0, options_.path.size() - 1);
}

bool Server::matches_under(const net::HttpRequest& req) const noexcept {
  return matches(req) || req.path().starts_with(options_.path);
}

void Server::add_cors_headers(std::optional<std::string_view> origin, net::HttpResponse& res) const {
  const auto& c = options_.cors;
  if (!c.enabled) return;
  bool any = false, listed = false;
  for (const auto& o : c.origins) {
    if (o == "*") any = true;
    if (origin && o == *origin) listed = true;
  }
  // Credentials go to a listed origin only: reflecting any origin with credentials would let
  // every site read the answers to its visitors' cookie-carrying requests.
  if (listed) {
    res.set("Access-Control-Allow-Origin", std::string(*origin));
    res.set("Vary", "Origin");
    if (c.credentials) res.set("Access-Control-Allow-Credentials", "true");
  } else if (any) {
    res.set("Access-Control-Allow-Origin", "*");
  }
}

std::optional<net::HttpResponse> Server::preflight_response(const net::HttpRequest& req) const {
  if (!options_.cors.enabled) return std::nullopt;
  net::HttpResponse pre;
  pre.status = 204;
  add_cors_headers(req, pre);
  pre.set("Access-Control-Allow-Methods", options_.cors.methods);
  if (!options_.cors.allowed_headers.empty()) {
    pre.set("Access-Control-Allow-Headers", options_.cors.allowed_headers);
  } else if (auto h = req.header("Access-Control-Request-Headers")) {
    pre.set("Access-Control-Allow-Headers", std::string(*h));
    pre.set("Vary",
            pre.header("Vary") ? "Origin, Access-Control-Request-Headers" : "Access-Control-Request-Headers");
  }
  if (options_.cors.max_age >= 0) pre.set("Access-Control-Max-Age", std::to_string(options_.cors.max_age));
  pre.set("Content-Length", "0");
  return pre;
}

net::HttpResponse Server::error_response(const net::HttpRequest& req, ErrorCode code,
                                         std::string_view message, const boost::json::object& context) const {
  if (options_.connection_error) options_.connection_error(code, context, req);
  net::HttpResponse res;
  const bool forbidden = code == ErrorCode::forbidden;
  res.status = forbidden ? 403 : 400;
  res.set("Content-Type", "application/json");
  add_cors_headers(req, res);
  const auto text = message.empty() ? error_message(code) : message;
  res.body =
      "{\"code\":" + std::to_string(static_cast<int>(code)) + ",\"message\":\"" + json_escape(text) + "\"}";
  return res;
}

Options::ExtraHeaders Server::extra_headers(const net::HttpRequest& req, bool initial,
                                            std::string_view cookie_sid) const {
  Options::ExtraHeaders h;
  if (!cookie_sid.empty() && options_.cookie) h.emplace_back("Set-Cookie", options_.cookie(cookie_sid));
  if (options_.headers) options_.headers(h, req, initial);
  std::erase_if(h, [](const auto& kv) {
    const bool bad = !valid_header_name(kv.first) || invalid_header_value(kv.second);
    if (bad) spdlog::warn("eio: dropping an invalid header added by a hook: {}", kv.first);
    return bad;
  });
  return h;
}

void Server::add_extra_headers(net::HttpResponse& res, const net::HttpRequest& req, bool initial,
                               std::string_view cookie_sid) const {
  if (!options_.headers && (cookie_sid.empty() || !options_.cookie)) return;
  for (auto& [name, value] : extra_headers(req, initial, cookie_sid)) {
    // Set-Cookie may come several times; any other header replaces the one already there.
    if (net::iequals(name, "Set-Cookie"))
      res.headers.push_back({std::move(name), std::move(value)});
    else
      res.set(std::move(name), std::move(value));
  }
}

void Server::fail(const net::HttpRequest& req, const net::ResponderPtr& res, const net::WebSocketPtr& ws,
                  ErrorCode code, boost::json::object context, std::string_view message) {
  counters_.error(code).inc();
  auto r = error_response(req, code, message, context);
  if (res) {
    res->respond(std::move(r));
  } else if (ws) {
    // The reference answers a refused upgrade with a bare 400 and the message, and closes
    // (abortUpgrade: whatever the code, FORBIDDEN included).
    net::HttpResponse plain;
    plain.status = 400;
    plain.set("Content-Type", "text/html");
    plain.body = std::string(message.empty() ? error_message(code) : message);
    plain.close = true;
    ws->reject(std::move(plain));
  }
}

void Server::on_request(net::HttpRequest&& request, net::ResponderPtr responder) {
  handle(std::move(request), std::move(responder), nullptr);
}

void Server::on_upgrade(net::WebSocketPtr ws) {
  auto req = ws->request();
  handle(std::move(req), nullptr, std::move(ws));
}

void Server::handle(net::HttpRequest&& req, net::ResponderPtr res, net::WebSocketPtr ws) {
  if (res && req.method == net::Method::options) {
    if (auto pre = preflight_response(req)) return res->respond(std::move(*pre));
  }

  Query q;
  auto parsed = boost::urls::parse_query(req.query());
  if (!parsed) return fail(req, res, ws, ErrorCode::bad_request, {{"name", "BAD_QUERY"}});
  for (auto p : *parsed) {
    std::optional<std::string>* slot = nullptr;
    const auto key = p.key.decode();
    if (key == "EIO")
      slot = &q.eio;
    else if (key == "transport")
      slot = &q.transport;
    else if (key == "sid")
      slot = &q.sid;
    else if (key == "b64")
      slot = &q.b64;
    else if (key == "j")
      slot = &q.j;
    if (slot && !*slot) *slot = p.has_value ? p.value.decode() : std::string();
  }

  const bool polling = q.transport == "polling" && options_.allow_polling;
  const bool websocket = q.transport == "websocket" && options_.allow_websocket;
  if (!polling && !websocket) {
    boost::json::object context;
    if (q.transport) context["transport"] = *q.transport;
    return fail(req, res, ws, ErrorCode::unknown_transport, std::move(context));
  }
  if (auto origin = req.header("Origin"); origin && invalid_header_value(*origin))
    return fail(req, res, ws, ErrorCode::bad_request, {{"name", "INVALID_ORIGIN"}, {"origin", *origin}});

  if (q.sid) {
    if (options_.forwarder && node_tag_of(*q.sid) != options_.node_tag && core::session_shard(*q.sid)) {
      // Another node's session: forwarded there, answered from there (Session ID unknown if it
      // has no such session or is gone).
      counters_.forwarded.inc();
      if (ws) return options_.forwarder->forward_upgrade(*q.sid, std::move(ws));
      return options_.forwarder->forward_request(*q.sid, std::move(req), std::move(res));
    }
    const auto shard = core::session_shard(*q.sid);
    if (!shard || *shard >= pool_.size())
      return fail(req, res, ws, ErrorCode::unknown_sid, {{"sid", *q.sid}});
    // Hand the request to the shard that owns the session; the answer finds its way back
    // through the Responder / WebSocket, which post to their own shard.
    pool_.dispatch(*shard, [this, shard = *shard, sid = std::move(*q.sid), req = std::move(req), res, ws,
                            websocket]() mutable {
      auto session = find(shard, sid);
      if (!session) return fail(req, res, ws, ErrorCode::unknown_sid, {{"sid", sid}});
      const auto mismatch = [&] {
        return boost::json::object{{"name", "TRANSPORT_MISMATCH"},
                                   {"transport", websocket ? "websocket" : "polling"},
                                   {"previousTransport", session->transport_name()}};
      };
      if (ws) {
        if (!websocket) return fail(req, res, ws, ErrorCode::bad_request, mismatch());
        session->on_upgrade_request(std::move(ws));
        return;
      }
      if (websocket) return fail(req, res, ws, ErrorCode::bad_request, mismatch());
      session->on_polling_request(std::move(req), std::move(res));
    });
    return;
  }
  handshake(std::move(req), q, std::move(res), std::move(ws));
}

void Server::handshake(net::HttpRequest&& req, const Query& q, net::ResponderPtr res, net::WebSocketPtr ws) {
  int protocol = 0;
  if (q.eio == "4")
    protocol = 4;
  else if (q.eio == "3" && options_.allow_eio3)
    protocol = 3;
  if (protocol == 0) {
    // The reference reads any EIO but "4" as revision 3.
    return fail(req, res, ws, ErrorCode::unsupported_protocol_version, {{"protocol", q.eio == "4" ? 4 : 3}});
  }
  if (req.method != net::Method::get)
    return fail(req, res, ws, ErrorCode::bad_handshake_method, {{"method", req.method_name}});
  const bool websocket = q.transport == "websocket";
  if (websocket != static_cast<bool>(ws))
    return fail(req, res, ws, ErrorCode::bad_request, {{"name", "TRANSPORT_HANDSHAKE_ERROR"}});
  if (refusing_handshakes_.load(std::memory_order_relaxed)) {
    constexpr std::string_view kStopping = "Server is shutting down";
    return fail(req, res, ws, ErrorCode::forbidden, {{"message", kStopping}}, kStopping);
  }
  if (options_.allow_request) {
    if (auto refusal = options_.allow_request(req)) {
      // The reference's context is {message} even when the refusal gave none (null).
      boost::json::object context;
      if (refusal->empty())
        context["message"] = nullptr;
      else
        context["message"] = *refusal;
      return fail(req, res, ws, ErrorCode::forbidden, std::move(context), *refusal);
    }
  }
  const std::size_t shard = ws ? ws->shard() : res->shard();
  std::unique_ptr<net::AddressLimits::Slot> slot;
  if (options_.limits && options_.limits->limits_sessions()) {
    const auto client =
        net::client_address(req.remote_address, req.header("X-Forwarded-For"), options_.trust_proxy);
    net::Refusal why = net::Refusal::none;
    slot = options_.limits->open_session(client, why);
    if (why != net::Refusal::none) {
      if (const auto n = trip_logs_[shard][static_cast<std::size_t>(why)].due()) {
        spdlog::warn("limits: {}: refused {} handshake(s), last from {}", net::refusal_message(why), *n,
                     client);
      }
      const std::string_view why_text = net::refusal_message(why);
      return fail(req, res, ws, ErrorCode::forbidden, {{"message", why_text}}, why_text);
    }
  }
  auto session = std::make_shared<Session>(*this, core::make_session_id(shard, options_.node_tag), shard,
                                           protocol, !(q.b64 && !q.b64->empty() && *q.b64 != "0"), req);
  if (q.j && !websocket) session->use_jsonp(jsonp_index(*q.j));
  session->hold(std::move(slot));
  sessions_[shard].emplace(session->id_view(), session);
  session_count_.fetch_add(1, std::memory_order_relaxed);
  if (ws)
    session->start(std::move(ws));
  else
    session->start(std::move(res));
  if (on_connection_ && session->is_open()) on_connection_(session);
}

std::shared_ptr<Session> Server::find(std::size_t shard, std::string_view sid) {
  auto& map = sessions_[shard];
  auto it = map.find(sid);
  return it == map.end() ? nullptr : it->second;
}

void Server::remove(const Session& session) {
  if (sessions_[session.shard()].erase(session.id_view()) > 0)
    session_count_.fetch_sub(1, std::memory_order_relaxed);
}

void Server::close_all(std::string_view reason) {
  for (std::size_t shard = 0; shard < pool_.size(); ++shard) {
    pool_.dispatch(shard, [this, shard, r = std::string(reason)] {
      std::vector<std::shared_ptr<Session>> all;
      for (auto& [id, s] : sessions_[shard]) all.push_back(s);
      for (auto& s : all) s->shutdown(r);
    });
  }
}

}  // namespace socketio::eio
