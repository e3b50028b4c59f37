// Standard base64 (RFC 4648, with padding) as used by Engine.IO polling for binary packets.
// Pure functions, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace socketio::core {

void base64_encode(std::string_view in, std::string& out);  // appends to out
std::string base64_encode(std::string_view in);
// Strict: length must be a multiple of 4 and only the base64 alphabet (plus trailing '=').
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace socketio::core
