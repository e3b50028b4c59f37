// The Redis adapter: a socketio::Adapter wire-compatible with `@socket.io/redis-adapter` 8.3
// (classic: createAdapter, and sharded: createShardedAdapter with the default "dynamic"
// subscription mode) and `@socket.io/redis-emitter` 5.1, so C++ and Node nodes can share one
// cluster. A RedisConnection starts one process-wide pair of connections (publisher and
// subscriber) on a dedicated thread with its own io_context, shared by the adapters of every
// namespace; shards only post to it and never wait for Redis. Losing Redis never stops local
// delivery: publishes are counted as failed (and the count logged when Redis is back) and the
// connections come back by themselves, re-subscribing every channel. While Redis is slow, the
// bytes waiting for it are bounded (max_publish_queue_bytes): the overflow is dropped and counted.
// The request/response protocol is the cluster core's (adapter/cluster/); this file only adds the
// Redis transports and the connections (redis_hub.hpp). Every RedisAdapter method may be called
// from any thread. Callbacks that wait for other nodes (fetch_sockets, server_side_emit with an
// ack, broadcast_with_ack) complete on the Redis thread when other nodes answered; otherwise on
// the calling shard (the local part's thread). The public BroadcastOperator / Namespace calls
// bring every such callback back to the calling shard.
#pragma once

#include "adapter/cluster/cluster_adapter.hpp"
#include "socketio/adapter.hpp"
#include "socketio/redis.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace socketio::redis {

class RedisHub;
class RedisTransport;

// The cluster core (adapter/cluster/cluster_adapter.hpp) on a Redis transport: classic pub/sub
// or sharded pub/sub, chosen by RedisConfig::mode.
class RedisAdapter final : public cluster::ClusterAdapter {
 public:
  RedisAdapter(LocalNamespace& local, std::shared_ptr<RedisHub> hub);
  ~RedisAdapter() override;

 private:
  std::shared_ptr<RedisHub> hub_;
  std::shared_ptr<RedisTransport> transport_;
};

}  // namespace socketio::redis
