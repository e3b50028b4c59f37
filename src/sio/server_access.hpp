// Internal access to a socketio::Server for the project's own binaries (not part of the public
// API): its shard pool, and extra HTTP routes served on its port (the conformance server's bare
// Engine.IO endpoint, static files). Call before Server::listen().
#pragma once

#include "eio/forwarder.hpp"
#include "net/router.hpp"
#include "net/shards.hpp"
#include "socketio/server.hpp"

#include <memory>
#include <optional>
#include <string>

namespace socketio {

struct ServerAccess {
  static net::ShardPool& pool(Server& s);
  static void add_route(Server& s, net::Router::Matcher matcher, net::HttpHandler& handler);
  // The Engine.IO CORS policy (ServerOptions::cors) for the binaries' own routes; only once
  // listening. preflight: nullopt when CORS is off.
  static void add_cors_headers(const Server& s, const net::HttpRequest& req, net::HttpResponse& res);
  static std::optional<net::HttpResponse> cors_preflight(const Server& s, const net::HttpRequest& req);
  // Sessions of other nodes (eio/forwarder.hpp), before listen(): this node's session ids carry
  // tag; requests for other tags go to forwarder.
  static void set_forwarding(Server& s, std::string tag, std::shared_ptr<eio::Forwarder> forwarder);
  // A request or upgrade forwarded here by another node, as if it had arrived here (any thread).
  static void handle_forwarded(Server& s, net::HttpRequest&& req, net::ResponderPtr res);
  static void handle_forwarded(Server& s, net::WebSocketPtr ws);
};

}  // namespace socketio
