// The Redis adapter's public API: a cluster of socketio::Server nodes (C++ or Node.js) through
// Redis, wire-compatible with `@socket.io/redis-adapter` 8.3 (classic and sharded),
// `@socket.io/redis-emitter` 5.1 and `@socket.io/redis-streams-adapter` 0.3.1 (streams). Create one
// RedisConnection per process (it starts the publisher and subscriber connections on a thread of its own) and
// pass its factory() as ServerOptions::adapter:
//
//   socketio::redis::RedisConnection redis({.url = "redis://127.0.0.1:6379"});
//   socketio::ServerOptions options;
//   options.adapter = redis.factory();
//   socketio::Server io(options);
//
// Losing Redis never stops local delivery; the connections come back by themselves. Every
// member may be called from any thread. Link socketio::socketio (find_package(socketio)).
#pragma once

#include "socketio/adapter.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace socketio::redis {

struct RedisCounters {
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> publish_failed{0};  // Redis down or PUBLISH refused
  std::atomic<std::uint64_t> received{0};        // broadcasts from other nodes delivered locally
  std::atomic<std::uint64_t> dropped{0};         // oversized, undecodable or malformed messages
  // Not published because Redis was slow: the bytes waiting for Redis were over
  // RedisConfig::max_publish_queue_bytes (dropped for the other nodes, still delivered locally).
  std::atomic<std::uint64_t> publish_overflow{0};
  // Streams mode, connection state recovery: sessions written to Redis (on change while
  // connected, at a recoverable disconnect), writes that failed or were dropped (Redis down or
  // slow), sessions restored, and restores that gave a fresh session instead (unknown or expired
  // session, offset no longer in the stream, Redis too slow, too many missed bytes).
  std::atomic<std::uint64_t> sessions_saved{0};
  std::atomic<std::uint64_t> session_writes_failed{0};
  std::atomic<std::uint64_t> sessions_restored{0};
  std::atomic<std::uint64_t> restores_failed{0};
  // Redis Cluster (RedisConfig::cluster): slot maps read (and reads that failed), MOVED/ASK
  // redirections followed (and commands given up after too many), sharded channels subscribed
  // again on another master (their slot moved, or their master came back).
  // Connections to Redis lost (and then made again with the reconnect backoff).
  std::atomic<std::uint64_t> connection_losses{0};
  std::atomic<std::uint64_t> cluster_refreshes{0};
  std::atomic<std::uint64_t> cluster_refresh_failures{0};
  std::atomic<std::uint64_t> cluster_redirects{0};
  std::atomic<std::uint64_t> cluster_redirect_failures{0};
  std::atomic<std::uint64_t> cluster_resubscribes{0};
};

enum class RedisMode {
  classic,  // PUBLISH/PSUBSCRIBE, as createAdapter()
  sharded,  // Redis 7 SPUBLISH/SSUBSCRIBE, as createShardedAdapter() (subscriptionMode "dynamic")
  streams,  // a Redis stream + PUBLISH/SUBSCRIBE, as @socket.io/redis-streams-adapter 0.3.1
};

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379";
  std::string key =
      "socket.io";  // channel prefix: the classic adapter's `key`, the sharded one's `channelPrefix`
  RedisMode mode = RedisMode::classic;
  // A Redis Cluster (sharded and streams modes): `url` is one seed node or several,
  // comma-separated; each channel and key goes to its slot's master (as node-redis's createCluster).
  bool cluster = false;
  std::chrono::milliseconds requests_timeout{5000};
  std::size_t max_message_size = 1024 * 1024;  // larger messages from Redis are dropped
  // Bytes of publishes handed to Redis and not yet answered (written or waiting to be): while
  // Redis is slow, a publish that would go past this is dropped and counted (publish_overflow).
  std::size_t max_publish_queue_bytes = 16 * 1024 * 1024;
  // A lost connection is made again after 100 ms, the wait doubling on each failure up to this.
  std::chrono::milliseconds reconnect_max_delay{5000};
  // Streams mode: the stream is `key` (the reference's streamName and channelPrefix, both
  // "socket.io" by default), trimmed to about stream_max_len entries (XADD MAXLEN ~, its maxLen),
  // read stream_read_count entries at a time (its readCount); sessions under session_key_prefix.
  std::size_t stream_max_len = 10'000;
  std::size_t stream_read_count = 100;
  std::string session_key_prefix = "sio:session:";
  // Optional: where the counters go (to expose them); created when null.
  std::shared_ptr<RedisCounters> counters;
};

class RedisHub;
class ClusterTopology;
class SessionForwarding;

// The process-wide connections. Throws std::invalid_argument on a bad URL; the connections start
// at once, in the background. Any thread.
class RedisConnection {
 public:
  explicit RedisConnection(RedisConfig config);
  // For ServerOptions::adapter; the adapters keep the connections alive.
  AdapterFactory factory() const;
  // Blocks until both connections are up and Redis confirmed every subscription asked for so far
  // (create the namespaces first); false after timeout.
  bool wait_until_subscribed(std::chrono::milliseconds timeout) const;
  const RedisCounters& counters() const;

 private:
  friend class ClusterTopology;    // topology.hpp: the node registry and the session forwarding
  friend class SessionForwarding;  // share the connections
  std::shared_ptr<RedisHub> hub_;
};

// Shorthand for RedisConnection(config).factory().
AdapterFactory make_redis_adapter_factory(RedisConfig config);

}  // namespace socketio::redis
