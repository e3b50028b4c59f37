// Redis Cluster's key space, as a client sees it: the CRC16 key slot of a key or sharded channel
// (hash tags included), the slot map read from `CLUSTER SLOTS`, and the `MOVED`/`ASK` redirections
// Redis answers when a command went to the wrong master. Pure functions with explicit limits, no
// I/O; the slot map and redirections come from the network and are treated as hostile. Any thread.
// (hiredis's redisReply is only read here: its reader is what turns the bytes into it.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;

namespace socketio::redis {

inline constexpr std::uint16_t kClusterSlots = 16384;
// Masters a slot map may name (Redis recommends at most 1000 nodes per cluster); a map naming more
// is refused, so a hostile reply cannot make this node open unbounded connections.
inline constexpr std::size_t kMaxClusterMasters = 1000;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum Redis Cluster uses.
std::uint16_t crc16(std::string_view data) noexcept;

// The slot of a key or sharded channel, as `CLUSTER KEYSLOT`: CRC16 mod 16384 of the whole key, or
// of the part between the first '{' and the next '}' when that part is not empty (a hash tag).
std::uint16_t key_slot(std::string_view key) noexcept;

struct ClusterAddress {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
  bool operator==(const ClusterAddress&) const = default;
};

// Which master serves each slot.
struct SlotMap {
  std::vector<ClusterAddress> masters;  // distinct
  std::vector<std::int16_t> owner;      // kClusterSlots entries: index in masters, or -1
  const ClusterAddress* owner_of(std::uint16_t slot) const noexcept {
    if (slot >= owner.size() || owner[slot] < 0) return nullptr;
    return &masters[static_cast<std::size_t>(owner[slot])];
  }
  std::size_t covered() const noexcept;  // slots with an owner
};

// A `CLUSTER SLOTS` reply: [[first, last, [host, port, id, ...], replicas...], ...]. A master whose
// host is empty (Redis does not know how it is reached) is `asked_host`, the node that answered.
// nullopt (and the reason in *error) when the reply is not one, a range is out of 0..16383, or it
// names more than kMaxClusterMasters masters.
std::optional<SlotMap> parse_cluster_slots(const redisReply* reply, std::string_view asked_host,
                                           std::string* error = nullptr);

// `MOVED <slot> <host>:<port>` (the slot lives there now) or `ASK <slot> <host>:<port>` (this
// once, while the slot migrates: send ASKING then the command there). An empty host means the
// node that answered. nullopt for any other error.
struct Redirect {
  bool ask = false;
  std::uint16_t slot = 0;
  ClusterAddress to;
};
std::optional<Redirect> parse_redirect(std::string_view error) noexcept;

}  // namespace socketio::redis
