// The Admin UI's own files (ui/dist of @socket.io/admin-ui, pinned by web/package-lock.json and
// built in by cmake/EmbedFiles.cmake), served under a path of the server's port so the UI works
// without internet access. Registered before listen(); served from any shard, read-only.
#pragma once

#include "socketio/server.hpp"

#include <string>

namespace socketio::admin {

// GET/HEAD <prefix> (index.html) and <prefix><file>; <prefix without its slash> redirects, so
// that the page's relative links resolve. Throws std::runtime_error when the build had no UI.
void serve_ui_files(Server& server, const std::string& prefix);

}  // namespace socketio::admin
