// GET /chat-config.json: what the built-in chat page needs to know about the server that served
// it, without a request that fails when a feature is off (a 404 would be logged in every
// visitor's console): {"pick": "/cluster/pick"} when the node answers first contacts
// (--public-url, docs/cluster.md), {"pick": null} otherwise. Served on the main port by every
// socketio-server, before the static files. Call before Server::listen(); the handler lives as
// long as the server's routes.
#pragma once

#include "socketio/server.hpp"

#include <string>

namespace socketio::app {

constexpr const char* kPageConfigPath = "/chat-config.json";

// pick_path: the first-contact route, empty when the node has none.
void serve_page_config(Server& server, const std::string& pick_path);

}  // namespace socketio::app
