// The Socket.IO Admin UI (`@socket.io/admin-ui` 0.5.1) for a socketio::Server: the /admin
// namespace its hosted UI (https://admin.socket.io) and its own build connect to, with the same
// contract as the package's instrument(): basic auth (a bcrypt hash) and sessions, `config`,
// `server_stats` every 2 s (aggregated events included), in development mode `all_sockets` and
// the socket events, the `emit` / `join` / `leave` / `_disconnect` commands unless readonly.
// Through a cluster adapter (Redis) every node's stats and sockets reach every UI. Optionally
// serves the UI itself (its ui/dist, built into the library) at ui_path.
//
//   socketio::AdminUiOptions admin;
//   admin.username = "admin";
//   admin.password_hash = "$2b$10$...";  // bcrypt, e.g. htpasswd -nbBC 10 "" pass
//   socketio::instrument(io, admin);     // before io.listen()
//
// Call once per server, from the thread that configures it, after the application's static
// namespaces exist (their sockets are watched; dynamic ones are counted in the stats only).
#pragma once

#include "socketio/server.hpp"

#include <string>

namespace socketio {

struct AdminUiOptions {
  std::string namespace_name = "/admin";
  bool auth = true;  // false: anybody may connect (the package's auth: false)
  std::string username;
  std::string password_hash;  // bcrypt ($2a$/$2b$/$2y$), checked with crypt(3)
  bool readonly = false;
  std::string server_id;    // empty: the host name
  bool development = true;  // the package's mode "development": sockets and events are sent
  bool serve_ui = false;    // serve the UI's files at ui_path
  std::string ui_path = "/admin-ui/";
};

// Throws std::invalid_argument for a bad option (auth without a valid bcrypt hash).
void instrument(Server& server, AdminUiOptions options);

}  // namespace socketio
