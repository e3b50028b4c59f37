#include "adapter/redis/redis_adapter.hpp"

#include "adapter/redis/classic_codec.hpp"
#include "adapter/redis/redis_hub.hpp"
#include "adapter/redis/redis_transport.hpp"
#include "adapter/redis/streams_transport.hpp"

#include <hiredis/hiredis.h>

#include <spdlog/spdlog.h>

#include <random>
#include <set>

namespace socketio::redis {

using cluster::ClusterMessage;
using cluster::MessageType;

std::string random_id(std::size_t n) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
  std::string s(n, ' ');
  for (auto& c : s) c = alphabet[pick(rng)];
  return s;
}

std::string hex_id() {
  static const char digits[] = "0123456789abcdef";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t r = rng();
  std::string s(16, '0');
  for (std::size_t i = 0; i < 16; ++i) s[i] = digits[(r >> (4 * i)) & 0xF];
  return s;
}

namespace {

// @socket.io/redis-adapter's createAdapter(): PUBLISH/PSUBSCRIBE; broadcasts on their own
// channels, requests and responses on two more (classic_codec.hpp).
class ClassicTransport final : public RedisTransport {
 public:
  ClassicTransport(std::shared_ptr<RedisHub> hub, const std::shared_ptr<cluster::ClusterCore>& core)
      : RedisTransport(std::move(hub), core),
        request_channel_(hub_.config().key + "-request#" + core->nsp() + "#"),
        response_channel_(hub_.config().key + "-response#" + core->nsp() + "#"),
        specific_response_channel_(response_channel_ + core->uid() + "#"),
        nsp_(core->nsp()) {}

  void publish(const ClusterMessage& m) override {
    const auto keep = alive_.lock();
    if (!keep) return;
    if (m.type == MessageType::broadcast && m.request_id.empty())
      return hub_.publish(broadcast_channel(m.opts), encode_classic_broadcast(m));
    hub_.publish(request_channel_, encode_classic_request(m));
  }
  // Answers go to the shared response channel, as the Node adapter sends them.
  void publish_response(const std::string&, const ClusterMessage& m) override {
    if (const auto keep = alive_.lock()) hub_.publish(response_channel_, encode_classic_response(m));
  }
  void count_servers(std::function<void(std::int64_t)> done) override {
    count("NUMSUB", request_channel_, std::move(done));
  }
  std::string new_request_id() override { return random_id(); }

  bool on_redis_message(std::string_view channel, std::string_view payload) override {
    // Most specific first: the response channel is a prefix of the per-uid one.
    if (channel.starts_with(response_channel_))
      deliver(decode_classic_response(payload, nsp_), "response");
    else if (channel == request_channel_)
      deliver(decode_classic_request(payload, nsp_), "request");
    else if (channel.starts_with(channel_))
      deliver(decode_classic_broadcast(payload), "broadcast");
    else
      return false;
    return true;
  }

 private:
  void subscribe() override {
    auto& sub = hub_.subscriber();
    sub.psubscribe(channel_ + "*");
    sub.subscribe(request_channel_);
    sub.subscribe(response_channel_);
    sub.subscribe(specific_response_channel_);
  }
  void unsubscribe() override {
    auto& sub = hub_.subscriber();
    sub.punsubscribe(channel_ + "*");
    sub.unsubscribe(request_channel_);
    sub.unsubscribe(response_channel_);
    sub.unsubscribe(specific_response_channel_);
  }
  // The room's channel when there is exactly one room.
  std::string broadcast_channel(const BroadcastOptions& opts) const {
    return opts.rooms.size() == 1 ? channel_ + opts.rooms.front() + "#" : channel_;
  }

  std::string request_channel_, response_channel_, specific_response_channel_;
  std::string nsp_;
};

// createShardedAdapter() with subscriptionMode "dynamic": Redis 7 SPUBLISH/SSUBSCRIBE,
// ClusterAdapter messages; a channel per room this node has members in, one per node for answers.
class ShardedTransport final : public RedisTransport {
 public:
  ShardedTransport(std::shared_ptr<RedisHub> hub, const std::shared_ptr<cluster::ClusterCore>& core)
      : RedisTransport(std::move(hub), core), response_channel_(channel_ + core->uid() + "#") {}

  void publish(const ClusterMessage& m) override {
    // A broadcast with acks goes to every node (the count of nodes that must answer is all of
    // them, not only those with members in the room), as in the Node adapter.
    const auto keep = alive_.lock();
    if (!keep) return;
    const bool dynamic = m.type == MessageType::broadcast && m.request_id.empty();
    hub_.publish(dynamic ? broadcast_channel(m.opts) : channel_, cluster::encode_cluster_message(m));
  }
  void publish_response(const std::string& requester, const ClusterMessage& m) override {
    if (const auto keep = alive_.lock())
      hub_.publish(channel_ + requester + "#", cluster::encode_cluster_message(m));
  }
  void count_servers(std::function<void(std::int64_t)> done) override {
    count("SHARDNUMSUB", channel_, std::move(done));
  }
  std::string new_request_id() override { return hex_id(); }
  void on_room_created(const std::string& room) override { room_changed(room, true); }
  void on_room_deleted(const std::string& room) override { room_changed(room, false); }

  bool on_redis_message(std::string_view channel, std::string_view payload) override {
    // The response channel, the namespace's channel and its rooms' channels all start with
    // <key>#<nsp>#; the message says what it is.
    if (!channel.starts_with(channel_)) return false;
    deliver(cluster::decode_cluster_message(payload), "message");
    return true;
  }

 private:
  void subscribe() override {
    hub_.ssubscribe(channel_);
    hub_.ssubscribe(response_channel_);
  }
  void unsubscribe() override {
    hub_.sunsubscribe(channel_);
    hub_.sunsubscribe(response_channel_);
    for (const auto& c : room_channels_) hub_.sunsubscribe(c);
    room_channels_.clear();
  }
  void room_changed(const std::string& room, bool created) {
    hub_.post([self = std::static_pointer_cast<ShardedTransport>(shared_from_this()),
               channel = channel_ + room + "#", created] {
      if (created) {
        if (self->room_channels_.insert(channel).second) self->hub_.ssubscribe(channel);
      } else if (self->room_channels_.erase(channel)) {
        self->hub_.sunsubscribe(channel);
      }
    });
  }
  // A broadcast to exactly one room goes to that room's channel, unless the room looks like a
  // socket id (20 characters), whose channel nobody subscribes to.
  std::string broadcast_channel(const BroadcastOptions& opts) const {
    if (opts.rooms.size() != 1 || opts.rooms.front().size() == 20) return channel_;
    return channel_ + opts.rooms.front() + "#";
  }

  std::string response_channel_;
  std::set<std::string> room_channels_;  // SSUBSCRIBEd rooms, Redis thread only
};

}  // namespace

RedisAdapter::RedisAdapter(LocalNamespace& local, std::shared_ptr<RedisHub> hub)
    : ClusterAdapter(local, hub->io(), hub->config().mode == RedisMode::classic ? random_id() : hex_id(),
                     hub->config().requests_timeout),
      hub_(std::move(hub)) {
  switch (hub_->config().mode) {
    case RedisMode::classic:
      transport_ = std::make_shared<ClassicTransport>(hub_, core());
      break;
    case RedisMode::sharded:
      transport_ = std::make_shared<ShardedTransport>(hub_, core());
      break;
    case RedisMode::streams:
      transport_ = make_streams_transport(hub_, core(), local.recovery());
      break;
  }
  set_transport(transport_);
  transport_->start();
}

RedisAdapter::~RedisAdapter() {
  transport_->stop();
}

RedisConnection::RedisConnection(RedisConfig config) : hub_(std::make_shared<RedisHub>(std::move(config))) {}

AdapterFactory RedisConnection::factory() const {
  return [hub = hub_](LocalNamespace& local) -> std::unique_ptr<Adapter> {
    return std::make_unique<RedisAdapter>(local, hub);
  };
}

bool RedisConnection::wait_until_subscribed(std::chrono::milliseconds timeout) const {
  return hub_->wait_until_subscribed(timeout);
}

const RedisCounters& RedisConnection::counters() const {
  return hub_->counters();
}

AdapterFactory make_redis_adapter_factory(RedisConfig config) {
  return RedisConnection(std::move(config)).factory();
}

}  // namespace socketio::redis
