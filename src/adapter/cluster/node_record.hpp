// What a node announces about itself in the node registry (docs/cluster.md, "Direct to a node"):
// its id, the URL clients use to reach it, its connected clients, a load figure, its weight and
// when it started. Records travel through Redis as small JSON objects; everything read back is
// untrusted input: decode() checks sizes, types and the URL before anything is kept. Pure (no
// I/O), any thread.
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace socketio::cluster {

struct NodeRecord {
  std::string id;             // random, made at start-up (core::make_random_id)
  std::string url;            // public origin: scheme://host[:port], what io(url) is given
  std::uint64_t clients = 0;  // Engine.IO sessions open on the node
  std::uint32_t load = 0;     // % of its worker threads' time the process used over the last refresh
  std::uint32_t weight = 1;   // --node-weight: relative share of new clients; 0: never picked
  std::int64_t started = 0;   // ms since the epoch
  std::int64_t updated = 0;   // ms since the epoch, when this record was written
};

// Bounds on what a record read back from Redis may hold.
constexpr std::size_t kMaxRecordBytes = 4096;
constexpr std::size_t kMaxIdBytes = 64;
constexpr std::size_t kMaxUrlBytes = 2048;
constexpr std::uint32_t kMaxNodeWeight = 1000;

// A public URL is an origin: http or https, a host, an optional port, nothing after it (a path
// would be taken for a namespace by io(url)). True when `url` is one; otherwise why says why.
bool check_public_url(std::string_view url, std::string* why = nullptr);

boost::json::object to_json(const NodeRecord& record);
std::string encode(const NodeRecord& record);  // to_json, serialized
// nullopt (and the reason in *why) when `json` is not a valid record within the bounds above.
std::optional<NodeRecord> decode_node_record(std::string_view json, std::string* why = nullptr);

}  // namespace socketio::cluster
