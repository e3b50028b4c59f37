// Internal access to a socketio::Server for the project's own binaries (not part of the public
// API): its shard pool, and extra HTTP routes served on its port (the conformance server's bare
// Engine.IO endpoint, static files). Call before Server::listen().
#pragma once

#include "net/router.hpp"
#include "net/shards.hpp"
#include "socketio/server.hpp"

#include <optional>

namespace socketio {

struct ServerAccess {
  static net::ShardPool& pool(Server& s);
  static void add_route(Server& s, net::Router::Matcher matcher, net::HttpHandler& handler);
  // The Engine.IO CORS policy (ServerOptions::cors) for the binaries' own routes; only once
  // listening. preflight: nullopt when CORS is off.
  static void add_cors_headers(const Server& s, const net::HttpRequest& req, net::HttpResponse& res);
  static std::optional<net::HttpResponse> cors_preflight(const Server& s, const net::HttpRequest& req);
};

}  // namespace socketio
