// The process-wide Redis connections of the Redis adapter: one publisher and one subscriber
// (hiredis, redis_client.hpp) on a thread of their own with its own io_context, shared by the
// transports of every namespace; on a Redis Cluster (RedisConfig::cluster), a pair per master
// instead, commands and sharded channels routed by slot (cluster_router.hpp). Shards only post to
// it and never wait for Redis. Incoming messages are handed to the registered channel handlers on
// that thread. Publishing is bounded while Redis is slow (RedisConfig::max_publish_queue_bytes)
// and counted as failed at once while Redis is down (nothing is queued for later). Every method
// may be called from any thread unless its comment says "Redis thread".
#pragma once

#include "adapter/redis/cluster_router.hpp"
#include "adapter/redis/redis_adapter.hpp"
#include "adapter/redis/redis_client.hpp"
#include "adapter/redis/stream_reader.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace socketio::redis {

// Something subscribed to channels: gets every message; says whether it was one of its own.
class ChannelHandler {
 public:
  virtual ~ChannelHandler() = default;
  // Redis thread.
  virtual bool on_redis_message(std::string_view channel, std::string_view payload) = 0;
  // Redis thread: the hub is closing; requests in flight are dropped without their callbacks.
  virtual void on_hub_closing() = 0;
  // Redis thread, streams mode: an entry of the stream (true when it was for this handler).
  virtual bool on_stream_entry(const StreamId& id, const FieldsView& fields) {
    (void)id;
    (void)fields;
    return false;
  }
};

class RedisHub {
 public:
  // Throws std::invalid_argument on a bad URL; the connections start at once, in the background.
  explicit RedisHub(RedisConfig config);
  ~RedisHub();
  RedisHub(const RedisHub&) = delete;
  RedisHub& operator=(const RedisHub&) = delete;

  const RedisConfig& config() const noexcept { return config_; }
  RedisCounters& counters() noexcept { return *config_.counters; }
  boost::asio::io_context& io() noexcept { return io_; }

  template <class Fn>
  void post(Fn&& fn) {
    boost::asio::post(io_, std::forward<Fn>(fn));
  }

  // Blocks until both connections are up and every subscription asked for so far is confirmed;
  // false after timeout. Any thread but the Redis one.
  bool wait_until_subscribed(std::chrono::milliseconds timeout);

  void add(std::shared_ptr<ChannelHandler> handler);
  void remove(const std::shared_ptr<ChannelHandler>& handler);

  // Redis thread: subscriptions, remembered across reconnects. Not on a Redis Cluster (channels
  // go through subscribe/ssubscribe below).
  RedisClient& subscriber() noexcept { return *sub_; }
  // Redis thread: plain channels, on the subscriber or, on a Redis Cluster, on their slot's master.
  void subscribe(const std::string& channel);
  void unsubscribe(const std::string& channel);
  // Redis thread: how many connections subscribe `channel` (PUBSUB <verb> <channel>), or -1. On a
  // Redis Cluster a plain channel's subscribers are summed over every master.
  void count_subscribers(std::string_view verb, const std::string& channel,
                         std::function<void(std::int64_t)> done);
  // Redis thread: sharded channels, on the subscriber or, on a Redis Cluster, on their master.
  void ssubscribe(const std::string& channel);
  void sunsubscribe(const std::string& channel);
  // Redis thread: a command on the publisher connection (on a Redis Cluster, the one to the master
  // of its key); false when not connected.
  bool command(const std::vector<std::string_view>& argv, RedisClient::ReplyHandler on_reply);

  // PUBLISH (or SPUBLISH, sharded) from any thread, bounded and counted (see above).
  void publish(std::string channel, std::string payload);
  // Any command on the publisher connection from any thread, bounded like publish(): false when
  // the queue is over its limit (counted as publish_overflow; done is not called). Otherwise
  // done(reply) on the Redis thread, done(nullptr) when Redis is down or the connection was lost.
  bool send(std::vector<std::string> argv, RedisClient::ReplyHandler done);

  // Streams mode: the XREAD loop (null otherwise). Redis thread.
  StreamReader* reader() noexcept { return reader_.get(); }

  // Redis thread: true once the hub is being destroyed (replies failing then must not call back).
  bool closing() const noexcept { return closing_; }

 private:
  void start_cluster(std::size_t max_reply);
  std::vector<std::shared_ptr<ChannelHandler>> handlers();
  void dispatch(std::string_view channel, std::string_view payload);
  void dispatch_entry(const StreamId& id, const FieldsView& fields);
  void unqueue(std::size_t bytes);
  void report_unpublished();

  RedisConfig config_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<RedisClient> pub_;
  std::unique_ptr<RedisClient> sub_;
  std::unique_ptr<ClusterRouter> cluster_;  // instead of pub_ and sub_ on a Redis Cluster
  std::unique_ptr<StreamReader> reader_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<ChannelHandler>> handlers_;
  std::uint64_t reported_failed_ = 0;  // Redis thread
  bool closing_ = false;               // Redis thread
  std::atomic<std::size_t> queued_bytes_{0};
  std::atomic<bool> overflowing_{false};
  std::thread thread_;
};

}  // namespace socketio::redis
