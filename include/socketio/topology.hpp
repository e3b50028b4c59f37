// The cluster's topology for clients (docs/cluster.md, "Direct to a node"): this node announces
// itself in a registry in Redis (id, public URL, connected clients, load, weight, start time)
// with a ttl it keeps refreshing, and answers two HTTP routes from what the registry lists:
//   GET <nodes_path>  {"self": id, "nodes": [{id, url, clients, load, weight, started, updated}]}
//   GET <pick_path>   {"url": "<the node a new client should use>"}  (503 when none can take one)
// so that a balancer is needed for the first contact only; the client then connects with
// io(url) to that node. ?exclude=URL (repeatable) leaves out nodes the client just lost. Both
// routes carry the Engine.IO CORS headers (ServerOptions::cors) and answer its preflight.
//
//   socketio::redis::RedisConnection redis({.url = "redis://10.0.0.5:6379"});
//   options.adapter = redis.factory();
//   socketio::Server io(options);
//   socketio::redis::ClusterTopology topology(io, redis, {.public_url = "https://node1.chat.example.com"});
//   io.listen();
//   topology.start();
//   ... on SIGTERM: topology.withdraw(500ms); io.stop();
//
// Create it before Server::listen() (it adds the routes) and keep it until the server stopped;
// the RedisConnection must outlive it. start(), withdraw() and the destructor may be called from
// any thread but the Redis one; the routes are served on the shards.
#pragma once

#include "socketio/redis.hpp"
#include "socketio/server.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace socketio::redis {

struct TopologyOptions {
  // The origin clients use to reach this node (https://node1.chat.example.com[:port]); required.
  std::string public_url;
  // Relative share of new clients (a node of weight 2 is sent twice as many); 0: listed, never
  // picked. At most 1000.
  std::uint32_t weight = 1;
  // A node that stops refreshing (killed, cut off) leaves every node's list within this long.
  // It refreshes every ttl / 4. At least 1 s.
  std::chrono::milliseconds ttl{10'000};
  std::string nodes_path = "/cluster/nodes";
  std::string pick_path = "/cluster/pick";
};

class ClusterTopology {
 public:
  // Throws std::invalid_argument for a bad option (the message names it).
  ClusterTopology(Server& server, const RedisConnection& redis, TopologyOptions options);
  ~ClusterTopology();  // stops announcing; the record then expires by itself
  ClusterTopology(const ClusterTopology&) = delete;
  ClusterTopology& operator=(const ClusterTopology&) = delete;

  // After Server::listen(): announces now, then every ttl / 4.
  void start();
  // Graceful stop: leaves the registry at once (before the server drains); true when Redis
  // confirmed within timeout.
  bool withdraw(std::chrono::milliseconds timeout);
  // This node's id in the registry.
  const std::string& id() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// No sticky sessions (docs/cluster.md, "One name, round-robin"): this node's Engine.IO session
// ids carry a tag naming it, and a polling request or WebSocket upgrade that reaches it for
// another node's session is forwarded over Redis to that node and answered from there (a
// WebSocket stays bridged through the node it reached). Create before Server::listen(); keep
// until the server stopped; the RedisConnection must outlive it.
struct ForwardingOptions {
  // How long a forwarded exchange waits for the owner's answer (a long-poll is held up to
  // pingInterval by the owner: keep this above it). Then "Session ID unknown".
  std::chrono::milliseconds timeout{45'000};
  // Exchanges open at once on this node for other nodes' sessions; more get 503.
  std::size_t max_pending = 10'000;
};

class SessionForwarding {
 public:
  SessionForwarding(Server& server, const RedisConnection& redis, ForwardingOptions options = {});
  ~SessionForwarding();
  SessionForwarding(const SessionForwarding&) = delete;
  SessionForwarding& operator=(const SessionForwarding&) = delete;
  // The tag this node's session ids carry.
  const std::string& tag() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace socketio::redis
