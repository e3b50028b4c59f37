// Two socketio::Server "nodes" in one process, each with its own Redis connection to a real
// redis-server (started here; the test fails when it is not installed): what a user handler sees
// when the cluster calls it. on_server_side handlers must run on a shard of their server, never
// on the Redis thread (where a slow handler would stall every node's traffic).
#include "adapter/redis/redis_adapter.hpp"
#include "net/shards.hpp"
#include "redis_test_server.hpp"
#include "socketio/server.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>

namespace socketio::redis {
namespace {

using namespace std::chrono_literals;

struct Node {
  explicit Node(const RedisConfig& cfg) : redis(cfg) {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.adapter = redis.factory();
    server = std::make_unique<Server>(o);
  }
  ~Node() { server->stop(std::chrono::milliseconds(0)); }
  RedisConnection redis;
  std::unique_ptr<Server> server;
};

TEST(RedisServer, ServerSideHandlersRunOnAShardNotOnTheRedisThread) {
  ASSERT_EQ(std::system("command -v redis-server >/dev/null 2>&1"), 0) << "redis-server is not installed";
  const int port = free_port();
  RedisServer redis(port);
  RedisConfig cfg;
  cfg.url = "redis://127.0.0.1:" + std::to_string(port);

  Node a(cfg), b(cfg);
  std::mutex m;
  std::vector<std::size_t> shards_seen;
  std::vector<std::thread::id> threads_seen;
  b.server->of("/").on_server_side("ping", [&](const Args& args, std::function<void(Args)> ack) {
    {
      std::lock_guard lock(m);
      shards_seen.push_back(net::ShardPool::current());
      threads_seen.push_back(std::this_thread::get_id());
    }
    ack(Args().add(args.size()));
  });
  a.server->listen();
  b.server->listen();
  ASSERT_TRUE(a.redis.wait_until_subscribed(10s));
  ASSERT_TRUE(b.redis.wait_until_subscribed(10s));

  // PUBSUB NUMSUB needs both subscribers in; retried until B answers.
  std::vector<Args> answers;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (answers.empty() && std::chrono::steady_clock::now() < deadline) {
    std::promise<std::vector<Args>> done;
    a.server->of("/").server_side_emit(
        "ping", Args().add(1).add(2), [&](bool, AckResponses r) { done.set_value(std::move(r)); }, 2s);
    answers = done.get_future().get();
  }
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0][0].as_int64(), 2);
  // Fire-and-forget events too, several in a row: all on one shard, in order.
  for (int i = 0; i < 5; ++i) a.server->of("/").server_side_emit("ping", Args().add(i));
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    std::lock_guard lock(m);
    if (shards_seen.size() >= 6) break;
  }
  std::lock_guard lock(m);
  ASSERT_GE(shards_seen.size(), 6u);
  for (std::size_t i = 0; i < shards_seen.size(); ++i) {
    EXPECT_LT(shards_seen[i], 2u) << "handler " << i << " ran outside B's shards";
    EXPECT_EQ(threads_seen[i], threads_seen[0]) << "one namespace's handlers stay on one shard";
  }
}

}  // namespace
}  // namespace socketio::redis
