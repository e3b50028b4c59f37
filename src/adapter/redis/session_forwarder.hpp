// Sessions served whichever node a request reaches (docs/cluster.md, "One name, round-robin"):
// this node's session ids carry its tag (eio/forwarder.hpp), and a polling request or WebSocket
// upgrade for another tag is sent over Redis to `<key>#eio#<tag>#`, the channel of the node that
// owns the session (adapter/cluster/forward_message.hpp). The owner runs it through its own
// Engine.IO server behind a Responder / WebSocket that publish back to the origin; the origin
// answers the client. An upgrade is sent back to the balancer when it says it retries on another
// node (kRetryStatusHeader), so that it reaches the owner; otherwise the WebSocket stays bridged
// through the node it reached (frames both ways), while the session lives on its owner. On a graceful stop,
// the polls this node relays are released (their owners answer them at once) before its own sessions close.
// Bounded: an exchange waits at most `timeout` for the owner (a dead or unknown owner: PUBLISH reaches
// nobody, answered at once; the answer is the engine's "Session ID unknown"), at most `max_pending` exchanges
// are open per node (more are refused with 503), and messages over the hub's max_message_size are dropped by
// the hub. Threads: forward_*() on the shards; everything else on the Redis thread, except the
// Responder/WebSocket methods the owner's Engine.IO calls (any thread, they post).
#pragma once

#include "adapter/cluster/forward_message.hpp"
#include "adapter/redis/redis_hub.hpp"
#include "core/trip_log.hpp"
#include "eio/forwarder.hpp"
#include "socketio/server.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

namespace socketio::redis {

struct ForwardCounters {
  std::atomic<std::uint64_t> forwarded{0};     // exchanges this node started for other nodes' sessions
  std::atomic<std::uint64_t> served{0};        // exchanges other nodes started for this node's sessions
  std::atomic<std::uint64_t> no_owner{0};      // the owner's channel had no subscriber: unknown sid
  std::atomic<std::uint64_t> timeouts{0};      // no answer within the timeout
  std::atomic<std::uint64_t> refused{0};       // over max_pending
  std::atomic<std::uint64_t> slow_clients{0};  // bridged WebSockets cut: the client did not read
  std::atomic<std::uint64_t> dropped{0};       // malformed messages from Redis
  std::atomic<std::uint64_t> origins_lost{0};  // served exchanges ended: the relaying node is gone
  std::atomic<std::uint64_t> passed_on{0};     // upgrades answered with the balancer's retry status
  std::atomic<std::uint64_t> link_lost{0};     // bridged WebSockets cut: a message could not be published
};

class SessionForwarder final : public eio::Forwarder,
                               public ChannelHandler,
                               public std::enable_shared_from_this<SessionForwarder> {
 public:
  // A balancer that passes a request answered with some status to its next node (nginx:
  // `proxy_next_upstream http_404`, HAProxy: `retry-on 404`) names that status in this request
  // header. A WebSocket upgrade for another node's session is then answered with it instead of
  // being bridged, and the balancer tries node after node until the upgrade reaches the session's
  // owner: the WebSocket ends up on one node, the owner, and no other node's stop or death cuts
  // it (docs/cluster.md, "One name, round-robin"). Without the header (a balancer that does not
  // retry), the upgrade is bridged.
  static constexpr std::string_view kRetryStatusHeader = "X-Socketio-Retry-Status";

  struct Options {
    std::chrono::milliseconds timeout{45'000};
    std::size_t max_pending = 10'000;
    // How often the owners of open exchanges are checked for life (a node that died answers
    // nothing: its exchanges end as "Session ID unknown" at the next check, not at the timeout),
    // and the nodes relaying requests to our sessions (what they relayed ends with them).
    std::chrono::milliseconds owner_check{2'000};
  };

  SessionForwarder(Server& server, std::shared_ptr<RedisHub> hub, Options options);
  ~SessionForwarder() override;

  const std::string& tag() const noexcept { return tag_; }
  const ForwardCounters& counters() const noexcept { return counters_; }
  // Subscribes this node's channel (the tag must be set on the server before listen()).
  void start();
  // Before the server goes: answers what is still open, then ignores Redis. Any thread but the
  // Redis one; waits for it.
  void stop();

  // eio::Forwarder (shard threads)
  void forward_request(std::string_view sid, net::HttpRequest&& request,
                       net::ResponderPtr responder) override;
  void forward_upgrade(std::string_view sid, net::WebSocketPtr ws) override;
  // Any thread but the Redis one: asks the owners to answer every poll this node relays now
  // (release), and from now on right after forwarding each; waits until none is open.
  bool drain(std::chrono::milliseconds timeout) override;

  // ChannelHandler (Redis thread)
  bool on_redis_message(std::string_view channel, std::string_view payload) override;
  void on_hub_closing() override;

  // For the owner side's Responder / WebSocket (any thread): publishes m to node `to`.
  void send(const std::string& to, cluster::ForwardMessage m);
  // Redis thread: the owner side's exchange `key` is over.
  void forget_remote(const std::string& from, std::uint64_t id);
  Server& server() noexcept { return server_; }

  class RemoteResponder;
  class RemoteWebSocket;
  class Bridge;

 private:
  struct Pending {
    net::HttpRequest head;        // the request without its body (for the error answers)
    net::ResponderPtr responder;  // a polling request, or
    net::WebSocketPtr ws;         // an upgrade (bridged once accepted)
    std::shared_ptr<Bridge> bridge;
    bool link_lost = false;  // being closed: a message of its client could not be published
    std::string owner;
    std::unique_ptr<boost::asio::steady_timer> timer;  // until the first answer
  };
  using RemoteKey = std::pair<std::string, std::uint64_t>;

  std::string channel(std::string_view tag) const;
  void publish(const std::string& to, const cluster::ForwardMessage& m,
               std::function<void(bool reached)> done = {});
  void link_lost(cluster::ForwardType type, const std::string& to, std::uint64_t id);  // Redis thread
  void open(std::uint64_t id, Pending pending, cluster::ForwardMessage m);             // Redis thread
  void fail(std::uint64_t id, unsigned status);                                        // Redis thread
  void on_origin_message(cluster::ForwardMessage& m);                                  // answers for us
  void on_owner_message(cluster::ForwardMessage& m);                                   // requests for us
  net::HttpResponse error_response(const net::HttpRequest& req, unsigned status) const;
  void check_owners();               // Redis thread, every owner_check
  void check_origins(bool sharded);  // with check_owners: nodes relaying to our sessions
  void release(std::uint64_t id, const std::string& owner);  // Redis thread

  Server& server_;
  std::shared_ptr<RedisHub> hub_;
  Options options_;
  std::string tag_;
  std::string my_channel_;
  ForwardCounters counters_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::size_t> open_{0};  // exchanges in pending_ (read on the shards for max_pending)
  // Redis thread:
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::map<RemoteKey, std::shared_ptr<RemoteResponder>> remote_requests_;
  std::map<RemoteKey, std::shared_ptr<RemoteWebSocket>> remote_sockets_;
  core::TripLog link_lost_log_;  // Redis thread
  bool stopped_ = false;
  // Stopping: new polls are refused (503) before reaching the owner. Atomic: error_response()
  // reads it on the shards too.
  std::atomic<bool> draining_{false};
  std::set<std::string> gone_origins_;  // relaying nodes seen gone once (check_origins)
  std::unique_ptr<boost::asio::steady_timer> check_timer_;
};

}  // namespace socketio::redis
