// One Redis connection: a hiredis async context driven by an Asio io_context (the socket is watched
// with a stream_descriptor; hiredis's addRead/delRead/addWrite/delWrite/cleanup hooks arm and disarm
// the waits). It connects, sends AUTH/SELECT from the URL, re-subscribes every channel and pattern
// it was asked for, and reconnects with a backoff (100 ms doubling to 5 s) whenever the connection
// is lost (the first failure of an outage is logged as a warning, the retries at debug level).
// Sharded channels (Redis 7 SSUBSCRIBE) are supported with hiredis 0.14, which does not know the
// command: each sharded channel is also SUBSCRIBEd, so that hiredis is in subscribed mode and finds
// the channel's callback for `ssubscribe`/`smessage` replies; plain `message`s on such a channel are
// ignored. Owned by the RedisHub of the Redis adapter. Not thread-safe: every member, and every
// handler it calls, runs on the thread of its io_context; only connected() may be read elsewhere.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

struct redisAsyncContext;
struct redisReply;

namespace socketio::redis {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;  // empty: AUTH <password> (Redis < 6 form)
  std::string password;
  int db = 0;
};

// redis://[user:pass@]host[:port][/db]; nullopt (and a reason in *error) when not one.
std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::string* error = nullptr);

class RedisClient {
 public:
  // The reply, or nullptr when the command failed (not connected, connection lost).
  using ReplyHandler = std::function<void(const redisReply*)>;
  // channel, payload (for a pattern subscription, channel is the matching channel).
  using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;

  // max_reply_bytes: unparsed reply bytes hiredis may hold (one reply being assembled); beyond,
  // the connection is dropped and made again.
  RedisClient(boost::asio::io_context& io, RedisEndpoint endpoint, std::string name,
              std::size_t max_reply_bytes = 64 * 1024 * 1024);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void start();
  void stop();
  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
  // Connected, and Redis confirmed every (P|S)SUBSCRIBE sent on this connection.
  bool subscribed() const noexcept { return connected() && unconfirmed_ == 0; }

  // Reconnect backoff: 100 ms doubling up to this (RedisConfig::reconnect_max_delay).
  void set_max_backoff(std::chrono::milliseconds max) {
    max_backoff_ = std::max(max, std::chrono::milliseconds(100));
  }
  // Counted once per lost connection (shared by the connections of a hub); may be null.
  void set_loss_counter(std::atomic<std::uint64_t>* counter) { losses_ = counter; }

  // How many times the connection was dropped for a reply over max_reply_bytes.
  std::uint64_t oversized_drops() const noexcept { return oversized_drops_; }

  // False (and the handler is not called) when not connected: the caller counts it as failed.
  bool command(const std::vector<std::string_view>& argv, ReplyHandler on_reply = {});

  // Subscriptions are remembered and sent again after every reconnect.
  void set_message_handler(MessageHandler handler) { on_message_ = std::move(handler); }
  void set_connect_handler(std::function<void()> handler) { on_connect_ = std::move(handler); }
  void subscribe(const std::string& channel);
  void psubscribe(const std::string& pattern);
  void unsubscribe(const std::string& channel);
  void punsubscribe(const std::string& pattern);
  void ssubscribe(const std::string& channel);
  void sunsubscribe(const std::string& channel);
  bool has_sharded(const std::string& channel) const { return sharded_.contains(channel); }
  bool has_channel(const std::string& channel) const { return channels_.contains(channel); }
  // Redis no longer has this sharded subscription (it refused it): forget it without SUNSUBSCRIBE.
  void forget_sharded(const std::string& channel) { sharded_.erase(channel); }

  // Redis Cluster (cluster_router.hpp): a sharded channel Redis ended on its own (its slot moved
  // away: forgotten here, channel set), or an error answering a sharded (un)subscribe (a MOVED,
  // error set). Called on the io_context's thread, never from inside hiredis.
  using ShardHandler = std::function<void(std::string channel, std::string error)>;
  void set_shard_handler(ShardHandler handler) { on_shard_ = std::move(handler); }
  // The connection was lost (called once per loss, outside hiredis).
  void set_lost_handler(std::function<void()> handler) { on_lost_ = std::move(handler); }

 private:
  struct Watcher;
  static void on_connect_cb(const redisAsyncContext* ac, int status);
  static void on_disconnect_cb(const redisAsyncContext* ac, int status);
  static void on_reply_cb(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_sub_cb(redisAsyncContext* ac, void* reply, void* privdata);

  void connect();
  void drop_connection(const char* why);
  void schedule_reconnect();
  void on_context_gone();
  void send_subscribe(const char* verb, const std::string& what);
  void send_ssubscribe(const std::string& channel);

  boost::asio::io_context& io_;
  RedisEndpoint endpoint_;
  std::string name_;
  std::size_t max_reply_bytes_;
  boost::asio::steady_timer retry_timer_;
  std::chrono::milliseconds backoff_{100};
  std::chrono::milliseconds max_backoff_{5000};
  std::atomic<std::uint64_t>* losses_ = nullptr;
  redisAsyncContext* ac_ = nullptr;  // owned by hiredis once connecting; freed by it on error
  std::shared_ptr<Watcher> watcher_;
  std::atomic<bool> connected_{false};
  bool stopping_ = false;
  bool failing_ = false;         // an outage is under way (already logged)
  std::size_t unconfirmed_ = 0;  // subscriptions sent, not yet confirmed
  std::uint64_t oversized_drops_ = 0;
  std::set<std::string> channels_;
  std::set<std::string> patterns_;
  std::set<std::string> sharded_;
  std::map<std::string, int> asked_sunsubscribes_;  // SUNSUBSCRIBEs sent, not yet answered
  MessageHandler on_message_;
  std::function<void()> on_connect_;
  ShardHandler on_shard_;
  std::function<void()> on_lost_;
  // Expires with this client: the handlers posted above check it (a router may drop a client).
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace socketio::redis
