// The XREAD loop of the streams transport (@socket.io/redis-streams-adapter's startPolling): a
// hiredis connection of its own, since a blocking XREAD holds it for up to block_ms, driven by the
// hub's io_context like the other connections (no thread waits for Redis). When it starts, it asks
// where the stream ends; from then on it reads every entry after the last one it handed out,
// read_count at a time, in stream order, and after a reconnect it goes on from the same place, so
// nothing is missed while Redis is briefly away as long as the stream still holds the entries
// (maxLen). Bounded: a reply is held up to the connection's limit; an entry too large to read
// alone is skipped (its id found by a two-line Lua script, so its bytes never cross; where scripts
// are refused, the node waits for one to be allowed), counted and logged. On a Redis Cluster
// (Options::cluster), the connection goes to the master that serves the stream's slot: a MOVED
// moves it there (and tells the router), an ASK reads on the importing master with ASKING until
// the slot has settled, a new map naming another owner (a reshard, a failover) moves it too; the
// position is kept across every move, so no entry is skipped or read twice. At most
// ClusterRouter::kMaxRedirects redirections in a row, then a pause of a second (counted). Owned
// by the RedisHub; Redis thread only.
#pragma once

#include "adapter/redis/cluster_router.hpp"
#include "adapter/redis/redis_client.hpp"
#include "adapter/redis/streams_codec.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace socketio::redis {

class StreamReader {
 public:
  using EntryHandler = std::function<void(const StreamId& id, const FieldsView& fields)>;
  struct Options {
    std::string stream;
    std::size_t read_count = 100;            // XREAD COUNT (the reference's readCount)
    std::chrono::milliseconds block{5000};   // XREAD BLOCK (the reference's blockTimeInMs)
    std::size_t max_reply_bytes = 64 << 20;  // the connection's reply limit
    std::chrono::milliseconds reconnect_max_delay{5000};
    std::atomic<std::uint64_t>* losses = nullptr;  // counted per lost connection, if set
    // A Redis Cluster: where the stream lives (the endpoint given is then unused); its redirect
    // counters count this reader's redirections too.
    ClusterRouter* cluster = nullptr;
    RedisCounters* counters = nullptr;
  };

  // on_entry: every entry, in order; on_skipped: an entry was skipped (too large to read).
  StreamReader(boost::asio::io_context& io, RedisEndpoint endpoint, Options options, EntryHandler on_entry,
               std::function<void()> on_skipped);
  ~StreamReader();
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  void start();
  void stop();
  // The last entry handed out (every entry up to it was); nullopt until the reader knows where
  // the stream ended when it started.
  const std::optional<StreamId>& position() const noexcept { return position_; }
  // fn(true) once position() >= id, fn(false) at the deadline (or when the reader stops).
  void when_reached(StreamId id, std::chrono::steady_clock::time_point deadline,
                    std::function<void(bool)> fn);
  // Cluster: a new slot map was applied (the stream's master may have changed).
  void on_map();

 private:
  struct Waiter;
  void on_connected();
  void find_end();
  void find_end_without_script();
  void start_at(std::optional<StreamId> id, const redisReply* r);
  void read();
  void skip();
  void on_read(const redisReply* r);
  // A command failed for a reason other than the connection (an error reply): tried again later.
  void retry_later(const char* what, const redisReply* r);
  void advance(const StreamId& id);
  // A command of the loop: after ASKING when reading on an importing master; a reply of an older
  // connection is ignored, a redirection is followed (cluster) instead of reaching on_reply.
  bool send(const std::vector<std::string_view>& argv, std::function<void(const redisReply*)> on_reply);
  bool redirected(const redisReply* r);
  std::unique_ptr<RedisClient> make_client(const RedisEndpoint& endpoint);
  // Cluster: reads from `to` from now on (a new connection; the position is kept).
  void move_to(const ClusterAddress& to, bool asking);
  void locate();

  boost::asio::io_context& io_;
  Options options_;
  std::unique_ptr<RedisClient> client_;  // null on a cluster until the stream's master is known
  ClusterAddress at_;                    // cluster: the master client_ talks to
  bool asking_ = false;                  // cluster: at_ imports the slot (ASK)
  int redirects_ = 0;                    // in a row
  std::uint64_t generation_ = 0;         // of client_
  EntryHandler on_entry_;
  std::function<void()> on_skipped_;
  boost::asio::steady_timer retry_timer_;
  std::optional<StreamId> position_;
  std::uint64_t oversized_seen_ = 0;
  bool busy_ = false;           // a command of the loop is in flight
  bool one_at_a_time_ = false;  // the last reply was over the limit: COUNT 1
  bool skip_next_ = false;      // even one entry was: skip it
  bool stopping_ = false;
  bool failing_ = false;  // an error reply was logged (once per episode)
  std::vector<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace socketio::redis
