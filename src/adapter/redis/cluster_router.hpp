// Redis Cluster for the Redis adapter's sharded and streams modes (RedisConfig::cluster): one
// publisher and one subscriber connection (RedisClient) per master, the slot map read with
// `CLUSTER SLOTS` from any reachable node (the seeds first), every command sent to the master that
// owns its key's slot (cluster_slots.hpp), each sharded channel SSUBSCRIBEd on its slot's master,
// and each plain channel (streams mode) SUBSCRIBEd there too: Redis propagates a plain PUBLISH to
// every node, so any node would do, but there `PUBSUB NUMSUB` and PUBLISH's answer (the publish
// goes to the same master) count this cluster's nodes. Like node-redis's cluster client under
// @socket.io/redis-adapter's createShardedAdapter:
//  - a `MOVED` answer updates the slot's owner, asks for a new map and sends the command there;
//    an `ASK` sends `ASKING` + the command to the importing master, once; at most kMaxRedirects
//    redirections per command (then it fails, counted);
//  - when Redis ends a sharded subscription by itself (`sunsubscribe` pushed: the slot moved),
//    refuses one, or a master's connection drops (restart, failover), the map is read again and
//    every channel whose owner changed is subscribed where it lives now (a plain channel is
//    unsubscribed from its old master first: a message is never delivered twice);
//  - a command whose master is unknown or unreachable fails at once (the hub counts it as a
//    failed publish): nothing waits for a master that may never come back; the connections come
//    back by themselves (RedisClient's backoff, 100 ms doubling to RedisConfig::reconnect_max_delay).
// Map reads are coalesced: at most one every kMinRefreshInterval. Every member runs on the thread
// of the hub's io_context (the Redis thread).
#pragma once

#include "adapter/redis/cluster_slots.hpp"
#include "adapter/redis/redis_client.hpp"
#include "socketio/redis.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace socketio::redis {

class ClusterRouter {
 public:
  static constexpr int kMaxRedirects = 5;
  static constexpr std::chrono::milliseconds kMinRefreshInterval{200};

  struct Options {
    std::vector<RedisEndpoint> seeds;  // credentials are the first seed's (a cluster has database 0 only)
    std::size_t max_reply_bytes = 64 * 1024 * 1024;
    std::chrono::milliseconds max_backoff{5000};  // RedisConfig::reconnect_max_delay
  };

  ClusterRouter(boost::asio::io_context& io, Options options, RedisCounters& counters,
                RedisClient::MessageHandler on_message, std::function<void()> on_master_connected);
  ~ClusterRouter();
  ClusterRouter(const ClusterRouter&) = delete;
  ClusterRouter& operator=(const ClusterRouter&) = delete;

  void start();
  void stop();

  // The command to the master of its key (argv[1]; argv[2] for PUBSUB <sub> <channel>). False
  // (the handler is not called) when that master is unknown or not connected; otherwise the
  // handler gets the reply, after any redirection, or nullptr when the connection was lost.
  bool command(std::vector<std::string> argv, RedisClient::ReplyHandler on_reply);

  // Sharded channels, remembered and kept subscribed on their slot's master.
  void ssubscribe(const std::string& channel);
  void sunsubscribe(const std::string& channel);
  // Plain channels (SUBSCRIBE), likewise kept on their slot's master.
  void subscribe(const std::string& channel);
  void unsubscribe(const std::string& channel);

  // argv (a PUBSUB NUMSUB) to every master of the map; done(sum of the second elements of the
  // answers), or done(-1) when no master answered. As the Node adapters do on a cluster: a plain
  // subscriber is on one node, any node. A master that is down has no subscribers left (their
  // connections went with it), so the others' sum is the count.
  void sum_over_masters(std::vector<std::string> argv, std::function<void(std::int64_t)> done);

  // Where a key lives now (with the seeds' credentials), nullopt until a map names its owner.
  std::optional<RedisEndpoint> endpoint_of_key(std::string_view key) const;
  RedisEndpoint endpoint(const ClusterAddress& addr) const;
  // A MOVED another connection got (the stream reader's): the slot's owner is remembered and the
  // map read again, as for this router's own commands.
  void learn_moved(const Redirect& redirect);
  // Called on the Redis thread after each new map is applied.
  void set_map_handler(std::function<void()> handler) { on_map_ = std::move(handler); }

  // A slot map is known, each of its masters' connections is up, and every sharded channel is
  // subscribed on its owner and confirmed.
  bool ready() const;

 private:
  struct Node;
  struct Command;

  Node& node(const ClusterAddress& addr);
  Node* owner(std::string_view key);
  void send(std::shared_ptr<Command> cmd, Node& to, bool asking);
  void on_reply(const std::shared_ptr<Command>& cmd, const std::string& from, const redisReply* r);
  void request_refresh(const char* why);
  void refresh();
  void apply(SlotMap map);
  void place_channels();
  // Subscribes a channel on its slot's master (if the map names one), and nowhere else.
  void place(const std::string& channel, bool sharded);
  void on_shard_trouble(const std::string& from, const std::string& channel, const std::string& error);

  boost::asio::io_context& io_;
  Options options_;
  RedisCounters& counters_;
  RedisClient::MessageHandler on_message_;
  std::function<void()> on_master_connected_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;  // by host:port
  SlotMap map_;
  bool have_map_ = false;
  bool first_placement_ = true;     // channels placed by the first map are not re-subscriptions
  std::set<std::string> channels_;  // every sharded channel asked for
  std::set<std::string> plain_;     // every plain channel asked for
  std::function<void()> on_map_;
  boost::asio::steady_timer refresh_timer_;
  bool refresh_scheduled_ = false;
  bool refreshing_ = false;
  std::chrono::steady_clock::time_point last_refresh_{};
  bool stopping_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for the replies posted back here
};

}  // namespace socketio::redis
