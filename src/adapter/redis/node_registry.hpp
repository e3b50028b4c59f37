// The node registry in Redis (docs/cluster.md, "The node registry"): this node announces itself
// (adapter/cluster/node_record.hpp) every refresh and reads back every live node into a
// NodePicker, from which GET /cluster/nodes and /cluster/pick are answered without asking Redis.
//
// Keys (<key> is --redis-key, "socket.io" by default):
//   <key>#node#<id>  the node's record (JSON), SET with PX = ttl / 2: Redis's own expiry
//                    decides that a node which stopped refreshing is gone, whatever the nodes'
//                    clocks say.
//   <key>#nodes      sorted set of node ids scored by their announced expiry (ms, the writer's
//                    clock): the index that lists the nodes without SCAN over the keyspace. An
//                    id whose record has expired is skipped; entries are pruned only once their
//                    score is a whole ttl in the past, so that a clock skew below the ttl never
//                    removes a live node from the index.
// Every command names one key (no MGET, no scripts), so the layout also holds on a Redis Cluster.
// A refresh is one pipelined round on the publisher connection: SET, ZADD, ZREMRANGEBYSCORE,
// ZRANGE, then one GET per listed id. With ttl T and refresh T/4, a SIGKILLed node's record
// expires at most T/2 after its last refresh (one late refresh is tolerated), and the other
// nodes drop it at their next refresh: gone everywhere within 3T/4, inside T with room for late
// timers. While Redis is unreachable the last view is kept for one ttl, then only this node is
// listed (each node then sends first contacts to itself).
// Lives on the Redis thread (the hub's); start(), withdraw() and stop() may be called from any
// thread but that one; the picker is thread-safe.
#pragma once

#include "adapter/cluster/node_picker.hpp"
#include "adapter/cluster/node_record.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace socketio::redis {

class RedisHub;

struct RegistryCounters {
  std::atomic<std::uint64_t> refreshes{0};         // rounds that listed the nodes
  std::atomic<std::uint64_t> refresh_failures{0};  // rounds that failed (Redis down or refusing)
  std::atomic<std::uint64_t> records_dropped{0};   // records read back that were malformed
};

class NodeRegistry : public std::enable_shared_from_this<NodeRegistry> {
 public:
  struct Options {
    std::string public_url;
    std::uint32_t weight = 1;
    std::chrono::milliseconds ttl{10'000};
    std::size_t threads = 1;  // worker threads, for the load figure
  };
  // The most nodes read back per refresh.
  static constexpr std::size_t kMaxNodes = 1024;

  NodeRegistry(std::shared_ptr<RedisHub> hub, Options options, std::function<std::uint64_t()> clients);
  ~NodeRegistry();

  const std::string& id() const noexcept { return self_.id; }
  std::chrono::milliseconds refresh_interval() const noexcept { return refresh_; }
  cluster::NodePicker& picker() noexcept { return picker_; }
  const RegistryCounters& counters() const noexcept { return counters_; }

  // Announces now, then every refresh.
  void start();
  // Stops announcing and deletes this node's record; true when Redis confirmed within timeout.
  bool withdraw(std::chrono::milliseconds timeout);
  // Stops announcing (the record then expires by itself). Waits for the Redis thread.
  void stop();

 private:
  struct Round;
  void tick();
  void announce();
  void read_nodes(const std::shared_ptr<Round>& round, std::vector<std::string> ids);
  void finish(const std::shared_ptr<Round>& round);
  void failed(const char* what);
  std::uint32_t cpu_load();

  std::shared_ptr<RedisHub> hub_;
  Options options_;
  std::function<std::uint64_t()> clients_;
  std::chrono::milliseconds refresh_;
  std::string index_key_;
  std::string record_key_;
  cluster::NodeRecord self_;
  cluster::NodePicker picker_;
  RegistryCounters counters_;
  boost::asio::steady_timer timer_;                      // Redis thread
  bool stopped_ = false;                                 // Redis thread
  bool failing_ = false;                                 // Redis thread: an outage is being logged
  std::chrono::steady_clock::time_point last_listed_{};  // Redis thread
  std::chrono::steady_clock::time_point cpu_at_{};       // Redis thread
  double cpu_seconds_ = 0;                               // Redis thread
};

}  // namespace socketio::redis
