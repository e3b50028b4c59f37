// The Redis adapter: a socketio::Adapter wire-compatible with `@socket.io/redis-adapter` 8.3
// (classic) and `@socket.io/redis-emitter` 5.1, so C++ and Node nodes can share one cluster.
// make_redis_adapter_factory() starts one process-wide pair of connections (publisher and
// subscriber) on a dedicated thread with its own io_context, shared by the adapters of every
// namespace; shards only post to it and never wait for Redis. Losing Redis never stops local
// delivery: publishes are counted as failed and the connections come back by themselves.
// Every RedisAdapter method may be called from any thread. Callbacks that wait for other nodes
// (fetch_sockets, server_side_emit with an ack) complete on the Redis thread when other nodes
// answered; otherwise on the calling shard (the local part's thread).
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
};

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379";
  std::string key = "socket.io";  // channel prefix, as the Node adapter's `key` option
  std::chrono::milliseconds requests_timeout{5000};
  std::size_t max_message_size = 1024 * 1024;  // larger messages from Redis are dropped
  // Optional: where the counters go (to expose them); created when null.
  std::shared_ptr<RedisCounters> counters;
};

class RedisHub;
struct AdapterCore;

class RedisAdapter final : public Adapter {
 public:
  RedisAdapter(LocalNamespace& local, std::shared_ptr<RedisHub> hub);
  ~RedisAdapter() override;

  void broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) override;
  void broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                          std::function<void(std::size_t)> client_count,
                          std::function<void(Args)> on_ack) override;
  void fetch_sockets(const BroadcastOptions& opts,
                     std::function<void(std::vector<SocketInfo>)> done) override;
  void add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) override;
  void del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) override;
  void disconnect_sockets(const BroadcastOptions& opts, bool close) override;
  void server_side_emit(const std::string& event, const Args& args,
                        std::optional<std::chrono::milliseconds> timeout,
                        std::function<void(bool timed_out, AckResponses)> done) override;
  // The last PUBSUB NUMSUB answer for this namespace's request channel (1 until known).
  std::size_t server_count() const override;

  const std::string& uid() const noexcept;

 private:
  std::shared_ptr<RedisHub> hub_;
  std::shared_ptr<AdapterCore> core_;
};

// Throws std::invalid_argument on a bad URL. The connections start at once, in the background.
AdapterFactory make_redis_adapter_factory(RedisConfig config);

}  // namespace socketio::redis
