// The WebSocket opening handshake's answer, written by the session itself (websocket.cpp) so
// that it can leave in the same send as the first frames. Heavy (Beast): src/net and its tests.
#pragma once

#include "net/http_convert.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace socketio::net::ws {

// The bytes of the 101 answer Beast's websocket::stream accept() writes for `req` with
// `headers` added by its decorator (boost/beast/websocket/impl/accept.hpp, build_response: the
// same checks, fields in the same order, the same serializer), or nullopt when Beast would
// answer otherwise (400/426 for a request it refuses, or a 100 Continue first): those keep
// Beast's own handshake. tests/unit/net/ws_handshake_test.cpp holds the two side by side.
std::optional<std::string> switching_protocols(
    const detail::BeastRequest& req, const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace socketio::net::ws
