// Which node a new client should use (GET /cluster/pick): weighted least-connections over the
// live nodes of the registry. A node's load is its connected clients plus the clients this node
// sent it since it last announced itself, divided by its weight; the pick is the node whose load
// would be lowest with one more client (ties broken at random). Counting its own picks is what
// keeps a burst of first contacts from all going to the one least-loaded node between two
// refreshes of the registry (the announced counts only move every refresh): 300 picks asked of
// one node within a second come out 100/100/100 over three equal nodes, and nodes answering
// picks at the same time each spread their own share. Thread-safe (one mutex); pure, no I/O.
#pragma once

#include "adapter/cluster/node_record.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace socketio::cluster {

class NodePicker {
 public:
  explicit NodePicker(std::uint64_t seed = std::random_device{}());

  // Replaces the view of the live nodes. A node whose record changed (it announced itself
  // again, with a fresh client count) forgets the picks counted for it.
  void update(std::vector<NodeRecord> nodes);
  std::vector<NodeRecord> nodes() const;

  // The URL of the node a new client should use; nodes whose URL is in `exclude` (ones the
  // client just lost) are left out unless that leaves none. nullopt when no node takes new
  // clients (none live, or all of weight 0).
  std::optional<std::string> pick(const std::vector<std::string_view>& exclude = {});

 private:
  struct Entry {
    NodeRecord record;
    std::uint64_t picked = 0;  // picks for it since its record last changed
  };
  std::optional<std::string> pick_locked(const std::vector<std::string_view>& exclude, bool honour_exclude);

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::mt19937_64 rng_;
};

}  // namespace socketio::cluster
