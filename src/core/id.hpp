// Random identifiers: Engine.IO session ids (which carry the owning shard in their first
// character) and Socket.IO socket ids. Drawn from OpenSSL's CSPRNG, so any thread may call.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace socketio::core {

constexpr std::size_t kMaxShards = 64;

// 20 characters of base64url, like the reference's base64id. The first character encodes
// the shard (0..63), the remaining 19 are random (114 bits).
// With a node tag (characters of the same alphabet), the tag follows the shard character (the
// rest stays random: at least 15 characters, 90 bits).
std::string make_session_id(std::size_t shard, std::string_view node_tag = {});
// The shard a session id belongs to, or nullopt if the id is malformed.
std::optional<std::size_t> session_shard(std::string_view sid);
// 20 random base64url characters (socket ids, the adapter's node uid).
std::string make_random_id();

}  // namespace socketio::core
