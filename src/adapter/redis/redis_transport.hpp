// The base of the Redis transports (one per namespace, under the cluster core): a
// cluster::Transport that is also a ChannelHandler of the hub, so that it moves ClusterMessages
// between this node and Redis. Subclasses: ClassicTransport, ShardedTransport (redis_adapter.cpp),
// StreamsTransport (streams_transport.hpp). Created and started by RedisAdapter; publish() and the
// room hooks run on any thread, everything else on the hub's (Redis) thread.
#pragma once

#include "adapter/cluster/cluster_adapter.hpp"
#include "adapter/redis/redis_hub.hpp"

#include <hiredis/hiredis.h>

#include <spdlog/spdlog.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace socketio::redis {

// Like uid2(6) in the classic Node adapter: a short random id, unique enough among a cluster's
// nodes (uids, request ids).
std::string random_id(std::size_t n = 6);
// Like randomBytes(8).toString("hex") in socket.io-adapter's ClusterAdapter (uids, request ids).
std::string hex_id();

// One namespace's channels on the hub: turns ClusterMessages into Redis messages and back.
class RedisTransport : public cluster::Transport,
                       public ChannelHandler,
                       public std::enable_shared_from_this<RedisTransport> {
 public:
  RedisTransport(std::shared_ptr<RedisHub> hub, const std::shared_ptr<cluster::ClusterCore>& core)
      : hub_(*hub), alive_(hub), core_(core), channel_(hub_.config().key + "#" + core->nsp() + "#") {}

  // Subscribes (posted to the Redis thread), and registers for the messages.
  void start() {
    hub_.add(shared_from_this());
    hub_.post([self = shared_from_this()] { self->subscribe(); });
  }
  void stop() {
    hub_.remove(shared_from_this());
    hub_.post([self = shared_from_this()] { self->unsubscribe(); });
  }

  void on_hub_closing() override {
    if (auto core = core_.lock()) core->clear_requests();
  }

 protected:
  virtual void subscribe() = 0;
  virtual void unsubscribe() = 0;

  // Redis thread: PUBSUB <verb> <channel> answers how many nodes listen.
  void count(std::string_view verb, const std::string& channel, std::function<void(std::int64_t)> done) {
    // The hub owns the connections: a reply (or its failure) never outlives it.
    hub_.count_subscribers(verb, channel, [hub = &hub_, done](std::int64_t n) {
      if (!hub->closing()) done(n);
    });
  }

  // Redis thread: a decoded message for the core, or a malformed one counted and logged.
  // offset: where the transport stored it (a stream entry id), if anywhere.
  void deliver(std::optional<cluster::ClusterMessage> m, std::string_view what,
               const std::string& offset = {}) {
    auto& c = hub_.counters();
    if (!m) {
      c.dropped.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("redis: dropped a malformed {} for {}", what, channel_);
      return;
    }
    auto core = core_.lock();
    if (!core || m->uid == core->uid()) return;
    if (m->type == cluster::MessageType::broadcast && m->request_id.empty())
      c.received.fetch_add(1, std::memory_order_relaxed);
    core->on_message(std::move(*m), offset);
  }

  // Not an owner: the tasks that run on the hub's thread hold this transport, and the hub's
  // destructor joins that thread, so the hub is owned by the adapters and the RedisConnection
  // only (released on their threads). On the hub's thread it is alive by definition; a publish
  // from a shard checks alive_ first (a shard task may outlive the adapter at shutdown).
  RedisHub& hub_;
  std::weak_ptr<RedisHub> alive_;
  std::weak_ptr<cluster::ClusterCore> core_;
  std::string channel_;  // <key>#<nsp>#
};

}  // namespace socketio::redis
