// The Redis adapter against a real redis-server (started here on a free port; the tests fail
// when redis-server is not installed): two "nodes" (two factories, as two processes would have)
// see each other's broadcasts and server-side emits, drop their own, and survive a Redis restart.
#include "adapter/redis/redis_adapter.hpp"
#include "redis_test_server.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>

#include <condition_variable>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

namespace socketio::redis {
namespace {

using namespace std::chrono_literals;

// What the adapter calls back into: records what reached "this node".
class FakeLocal final : public LocalNamespace {
 public:
  explicit FakeLocal(std::string name, std::string label = "")
      : name_(std::move(name)), label_(label.empty() ? name_ : std::move(label)) {}
  const std::string& name() const noexcept override { return name_; }
  void broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) override {
    std::lock_guard lock(m_);
    seen_.push_back(boost::json::serialize(packet.data) + (opts.flags.local ? " local" : "") +
                    (packet.attachments.empty() ? "" : " bin=" + *packet.attachments[0]));
    cv_.notify_all();
  }
  // One client here, which answers with this node's name.
  void broadcast_with_ack(const OutgoingPacket&, const BroadcastOptions&,
                          std::function<void(std::size_t)> count, std::function<void(Args)> ack) override {
    count(1);
    ack(Args().add(boost::json::string(label_)));
  }
  void fetch_sockets(const BroadcastOptions&, std::function<void(std::vector<SocketInfo>)> done) override {
    SocketInfo s;
    s.id = "sock-" + name_;
    s.rooms = {"r"};
    done({s});
  }
  void add_sockets(const BroadcastOptions&, const std::vector<std::string>&) override {}
  void del_sockets(const BroadcastOptions&, const std::vector<std::string>&) override {}
  void disconnect_sockets(const BroadcastOptions&, bool) override {}
  void on_server_side_emit(const std::string& event, Args args, std::function<void(Args)> ack) override {
    {
      std::lock_guard lock(m_);
      seen_.push_back("sse " + event + " " + boost::json::serialize(args.values()));
      cv_.notify_all();
    }
    if (ack) ack(Args().add("pong"));
  }
  void all_rooms(std::function<void(std::vector<std::string>)> done) override { done({"r"}); }
  std::optional<RecoverySettings> recovery() const override { return recovery_settings; }
  std::optional<RecoverySettings> recovery_settings;  // set before the adapter is made

  std::vector<std::string> wait_for(std::size_t n, std::chrono::milliseconds t = 5s) {
    std::unique_lock lock(m_);
    cv_.wait_for(lock, t, [&] { return seen_.size() >= n; });
    return seen_;
  }

 private:
  std::string name_;
  std::string label_;  // what its one client answers
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::string> seen_;
};

class RedisLive : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("command -v redis-server >/dev/null 2>&1"), 0) << "redis-server is not installed";
    port_ = free_port();
    server_ = std::make_unique<RedisServer>(port_);
    cfg_.url = "redis://127.0.0.1:" + std::to_string(port_);
  }
  // Polls until pred or the deadline: the connections come up in the background.
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds t = 8s) {
    const auto end = std::chrono::steady_clock::now() + t;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return pred();
  }
  int port_ = 0;
  std::unique_ptr<RedisServer> server_;
  RedisConfig cfg_;
};

OutgoingPacket event(std::string text) {
  OutgoingPacket p;
  p.data = {"chat message", boost::json::string(text)};
  return p;
}

TEST_F(RedisLive, BroadcastReachesTheOtherNodeOnce) {
  auto counters_a = std::make_shared<RedisCounters>();
  auto cfg_a = cfg_;
  cfg_a.counters = counters_a;
  auto node_a = make_redis_adapter_factory(cfg_a);
  auto node_b = make_redis_adapter_factory(cfg_);
  FakeLocal la("/"), lb("/");
  auto a = node_a(la);
  auto b = node_b(lb);
  // Wait until both subscribers are in: PUBSUB NUMSUB on the request channel says 2.
  ASSERT_TRUE(eventually([&] { return b->server_count() == 2; }));

  BroadcastOptions opts;
  opts.rooms = {"r"};
  OutgoingPacket p = event("hi");
  p.data.push_back(boost::json::parse(R"({"_placeholder":true,"num":0})"));
  p.attachments = {std::make_shared<const std::string>("\x01\x02")};
  a->broadcast(p, opts);
  auto seen_b = lb.wait_for(1);
  ASSERT_EQ(seen_b.size(), 1u);
  EXPECT_EQ(seen_b[0],
            std::string(R"(["chat message","hi",{"_placeholder":true,"num":0}] local bin=)") + "\x01\x02");
  std::this_thread::sleep_for(300ms);
  // A's own message came back from Redis and was dropped: only the direct local delivery.
  EXPECT_EQ(la.wait_for(1).size(), 1u);
  EXPECT_EQ(lb.wait_for(1).size(), 1u);
  EXPECT_TRUE(eventually([&] { return counters_a->published.load() == 1; }));

  // Local-only stays local.
  opts.flags.local = true;
  a->broadcast(event("local"), opts);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(lb.wait_for(1).size(), 1u);
}

TEST_F(RedisLive, ServerSideEmitAndFetchSockets) {
  auto node_a = make_redis_adapter_factory(cfg_);
  auto node_b = make_redis_adapter_factory(cfg_);
  FakeLocal la("/chat"), lb("/chat");
  auto a = node_a(la);
  auto b = node_b(lb);
  ASSERT_TRUE(eventually([&] { return a->server_count() == 2; }));

  std::promise<std::pair<bool, AckResponses>> answered;
  a->server_side_emit("ping", Args().add(1), 2s, [&](bool timed_out, AckResponses r) {
    answered.set_value({timed_out, std::move(r)});
  });
  auto f = answered.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  auto [timed_out, responses] = f.get();
  EXPECT_FALSE(timed_out);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(boost::json::serialize(responses[0].values()), R"(["pong"])");
  EXPECT_EQ(lb.wait_for(1)[0], "sse ping [1]");

  std::promise<std::vector<SocketInfo>> fetched;
  a->fetch_sockets({}, [&](std::vector<SocketInfo> s) { fetched.set_value(std::move(s)); });
  auto g = fetched.get_future();
  ASSERT_EQ(g.wait_for(6s), std::future_status::ready);
  auto sockets = g.get();
  ASSERT_EQ(sockets.size(), 2u);
  // One from this node, one decoded from node B's REMOTE_FETCH response.
  EXPECT_EQ(sockets[0].id, "sock-/chat");
  EXPECT_EQ(sockets[1].id, "sock-/chat");
  EXPECT_EQ(sockets[1].rooms, std::vector<std::string>{"r"});
}

TEST_F(RedisLive, LocalDeliveryContinuesAndResubscribesAfterRedisRestarts) {
  auto counters = std::make_shared<RedisCounters>();
  auto cfg_a = cfg_;
  cfg_a.counters = counters;
  auto node_a = make_redis_adapter_factory(cfg_a);
  auto node_b = make_redis_adapter_factory(cfg_);
  FakeLocal la("/"), lb("/");
  auto a = node_a(la);
  auto b = node_b(lb);
  ASSERT_TRUE(eventually([&] { return a->server_count() == 2; }));

  server_->stop();
  std::this_thread::sleep_for(300ms);
  a->broadcast(event("while down"), {});
  EXPECT_EQ(la.wait_for(1).size(), 1u) << "local delivery must not wait for Redis";
  EXPECT_TRUE(eventually([&] { return counters->publish_failed.load() >= 1; }, 2s));

  server_->start();
  // Reconnect (backoff up to 5 s) and re-subscribe: then a broadcast crosses again. Published
  // until one arrives, since nothing says when B's subscriber is back.
  ASSERT_TRUE(eventually(
      [&] {
        a->broadcast(event("after"), {});
        return !lb.wait_for(1, 200ms).empty();
      },
      15s));
  EXPECT_EQ(lb.wait_for(1)[0], R"(["chat message","after"] local)");
}

TEST_F(RedisLive, PublishQueueIsBoundedWhileRedisIsSlow) {
  auto counters = std::make_shared<RedisCounters>();
  auto cfg_a = cfg_;
  cfg_a.counters = counters;
  cfg_a.max_publish_queue_bytes = 64 * 1024;
  auto node_a = make_redis_adapter_factory(cfg_a);
  auto node_b = make_redis_adapter_factory(cfg_);
  FakeLocal la("/"), lb("/");
  auto a = node_a(la);
  auto b = node_b(lb);
  ASSERT_TRUE(eventually([&] { return a->server_count() == 2; }));

  server_->pause();
  // 400 x 4 KiB = 1.6 MiB offered to a Redis that reads nothing: at most ~64 KiB may wait.
  const std::string big(4096, 'x');
  for (int i = 0; i < 400; ++i) a->broadcast(event(big), {});
  EXPECT_EQ(la.wait_for(400).size(), 400u) << "local delivery must not wait for Redis";
  ASSERT_TRUE(eventually([&] { return counters->publish_overflow.load() > 0; }, 3s));
  const auto overflow = counters->publish_overflow.load();
  EXPECT_GE(overflow, 400u - (64 * 1024) / 4096 - 1);
  EXPECT_EQ(counters->published.load(), 0u);

  server_->resume();
  // What was queued goes out; then the queue accepts publishes again.
  ASSERT_TRUE(eventually([&] { return counters->published.load() >= 400u - overflow; }, 10s));
  EXPECT_EQ(counters->published.load() + counters->publish_overflow.load(), 400u);
  const auto before = lb.wait_for(400u - overflow).size();
  EXPECT_EQ(before, 400u - overflow);
  a->broadcast(event("after"), {});
  auto seen = lb.wait_for(before + 1);
  ASSERT_EQ(seen.size(), before + 1);
  EXPECT_EQ(seen.back(), R"(["chat message","after"] local)");
  EXPECT_EQ(counters->publish_overflow.load(), overflow);
}

// Streams mode with recovery: a broadcast reaches this node's clients once Redis stored it, its
// entry id as the offset (the other node's too); while Redis is slow, what the publish queue
// cannot take is delivered here at once without an offset, and so is everything while Redis is down.
TEST_F(RedisLive, StreamsLocalDeliveryNeverWaitsForASlowOrDeadRedis) {
  auto counters = std::make_shared<RedisCounters>();
  auto cfg_a = cfg_;
  cfg_a.mode = RedisMode::streams;
  cfg_a.counters = counters;
  cfg_a.max_publish_queue_bytes = 64 * 1024;
  auto cfg_b = cfg_;
  cfg_b.mode = RedisMode::streams;
  RedisConnection conn_a(cfg_a), conn_b(cfg_b);
  FakeLocal la("/"), lb("/");
  la.recovery_settings = lb.recovery_settings = RecoverySettings{};
  auto a = conn_a.factory()(la);
  auto b = conn_b.factory()(lb);
  ASSERT_TRUE(conn_a.wait_until_subscribed(8s) && conn_b.wait_until_subscribed(8s));
  ASSERT_TRUE(eventually([&] { return a->server_count() == 2; }));
  EXPECT_TRUE(a->keeps_sessions());

  const std::regex with_offset(R"re(\["chat message","one","(\d+-\d+)"\]( local)?)re");
  a->broadcast(event("one"), {});
  std::smatch here, there;
  const auto seen_a = la.wait_for(1), seen_b = lb.wait_for(1);
  ASSERT_EQ(seen_a.size(), 1u);
  ASSERT_EQ(seen_b.size(), 1u);
  ASSERT_TRUE(std::regex_match(seen_a[0], here, with_offset)) << seen_a[0];
  ASSERT_TRUE(std::regex_match(seen_b[0], there, with_offset)) << seen_b[0];
  EXPECT_EQ(here[1], there[1]) << "one offset, the entry's id, on every node";

  server_->pause();
  const std::string big(4096, 'x');
  for (int i = 0; i < 400; ++i) a->broadcast(event(big), {});
  ASSERT_TRUE(eventually([&] { return counters->publish_overflow.load() > 0; }, 3s));
  const auto overflow = counters->publish_overflow.load();
  // The overflow is delivered here at once (without an offset); the rest once Redis answers.
  const auto now = la.wait_for(1 + overflow, 3s);
  ASSERT_EQ(now.size(), 1 + overflow);
  EXPECT_EQ(now.back(), R"(["chat message",")" + big + R"("])");
  server_->resume();
  const auto all = la.wait_for(401, 10s);
  ASSERT_EQ(all.size(), 401u);
  EXPECT_TRUE(std::regex_search(all.back(), std::regex(R"re("\d+-\d+"\]$)re")))
      << "stored ones carry their offset";

  server_->stop();
  a->broadcast(event("down"), {});
  const auto last = la.wait_for(402, 8s);
  ASSERT_EQ(last.size(), 402u);
  EXPECT_EQ(last.back(), R"(["chat message","down"])");
}

// Broadcast with acks across nodes: client_count gets the sum of both nodes' counts (once), and
// every node's acks arrive. Classic, then sharded (Redis 7) mode.
void broadcast_with_ack_across_nodes(RedisConfig cfg,
                                     const std::function<bool(std::function<bool()>)>& eventually) {
  auto node_a = make_redis_adapter_factory(cfg);
  auto node_b = make_redis_adapter_factory(cfg);
  FakeLocal la("/acks", "a"), lb("/acks", "b");
  auto a = node_a(la);
  auto b = node_b(lb);
  ASSERT_TRUE(eventually([&] { return a->server_count() == 2 && b->server_count() == 2; }));
  std::mutex m;
  std::vector<std::size_t> counts;
  std::vector<std::string> acks;
  BroadcastOptions opts;
  opts.flags.timeout = 3s;
  a->broadcast_with_ack(
      event("q"), opts,
      [&](std::size_t n) {
        std::lock_guard lock(m);
        counts.push_back(n);
      },
      [&](Args r) {
        std::lock_guard lock(m);
        acks.push_back(std::string(r[0].as_string()));
      });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(m);
    return counts.size() == 1 && acks.size() == 2;
  }));
  std::this_thread::sleep_for(200ms);
  std::lock_guard lock(m);
  EXPECT_EQ(counts, std::vector<std::size_t>{2});
  std::sort(acks.begin(), acks.end());
  EXPECT_EQ(acks, (std::vector<std::string>{"a", "b"}));
}

TEST_F(RedisLive, BroadcastWithAckSumsEveryNodesClients) {
  broadcast_with_ack_across_nodes(cfg_, [&](std::function<bool()> p) { return eventually(p); });
}

TEST_F(RedisLive, ShardedBroadcastWithAckAndRoomChannels) {
  ASSERT_EQ(std::system("redis-server --version | grep -q 'v=[7-9]'"), 0)
      << "sharded pub/sub needs redis-server >= 7";
  auto cfg = cfg_;
  cfg.mode = RedisMode::sharded;
  broadcast_with_ack_across_nodes(cfg, [&](std::function<bool()> p) { return eventually(p); });

  // A room of node B gets its own channel: a broadcast to it from A arrives once.
  auto node_a = make_redis_adapter_factory(cfg);
  auto node_b = make_redis_adapter_factory(cfg);
  FakeLocal la("/"), lb("/");
  auto a = node_a(la);
  auto b = node_b(lb);
  ASSERT_TRUE(eventually([&] { return a->server_count() == 2; }));
  // Left and joined again at once: the subscription must survive the crossing confirmations.
  b->on_room_created("lobby");
  b->on_room_deleted("lobby");
  b->on_room_created("lobby");
  BroadcastOptions to_lobby;
  to_lobby.rooms = {"lobby"};
  ASSERT_TRUE(eventually(
      [&] {
        a->broadcast(event("hi"), to_lobby);
        return !lb.wait_for(1, 200ms).empty();
      },
      8s));
  EXPECT_EQ(lb.wait_for(1)[0], R"(["chat message","hi"] local)");
}

}  // namespace
}  // namespace socketio::redis
