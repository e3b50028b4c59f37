// The XREAD loop of the streams transport (src/adapter/redis/stream_reader.hpp) against a real
// redis-server (started here on a free port; the tests fail when redis-server is not installed):
// it reads from where the stream ended when it started, in order, goes on from the same place
// after Redis comes back, reads one entry at a time when a batch is over the reply limit, and
// skips (and counts) an entry that is over it alone, without ever receiving its bytes.
#include "adapter/redis/stream_reader.hpp"
#include "redis_test_server.hpp"

#include <hiredis/hiredis.h>

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>

namespace socketio::redis {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

class StreamReaderLive : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("command -v redis-server >/dev/null 2>&1"), 0) << "redis-server is not installed";
    port_ = free_port();
    server_ = std::make_unique<RedisServer>(port_);
    endpoint_.port = static_cast<std::uint16_t>(port_);
    writer_ = std::make_unique<RedisClient>(io_, endpoint_, "writer");
    thread_ = std::thread([this] { io_.run(); });
    on_io([this] { writer_->start(); });
    ASSERT_TRUE(eventually([&] { return writer_->connected(); }));
  }
  void TearDown() override {
    on_io([this] {
      if (reader_) reader_->stop();
      writer_->stop();
    });
    work_.reset();
    io_.stop();
    thread_.join();
    reader_.reset();
  }

  // Runs fn on the io thread and waits for it.
  template <class Fn>
  void on_io(Fn fn) {
    std::promise<void> done;
    asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds t = 8s) {
    const auto end = std::chrono::steady_clock::now() + t;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return pred();
  }

  // XADD s * v <value>, waited for; the entry's id.
  std::string add(const std::string& value) {
    std::promise<std::string> id;
    on_io([&] {
      const bool sent = writer_->command({"XADD", "s", "*", "v", value}, [&](const redisReply* r) {
        id.set_value(r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string());
      });
      if (!sent) id.set_value({});
    });
    return id.get_future().get();
  }

  void start_reader(std::size_t max_reply, std::size_t count = 100) {
    StreamReader::Options o{"s", count, 200ms, max_reply};
    reader_ = std::make_unique<StreamReader>(
        io_, endpoint_, o,
        [this](const StreamId& id, const FieldsView& f) {
          std::lock_guard lock(m_);
          seen_.push_back({id.str(), std::string(field_of(f, "v").substr(0, 16))});
        },
        [this] { ++skipped_; });
    on_io([this] { reader_->start(); });
    ASSERT_TRUE(eventually([&] {
      bool ready = false;
      on_io([&] { ready = reader_->position().has_value(); });
      return ready;
    }));
  }
  std::vector<std::pair<std::string, std::string>> seen() {
    std::lock_guard lock(m_);
    return seen_;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  int port_ = 0;
  RedisEndpoint endpoint_;
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisClient> writer_;
  std::unique_ptr<StreamReader> reader_;
  std::thread thread_;
  std::mutex m_;
  std::vector<std::pair<std::string, std::string>> seen_;
  std::atomic<int> skipped_{0};
};

TEST_F(StreamReaderLive, ReadsFromTheEndInOrderAndOnAfterRedisCameBack) {
  add("before");  // there when the reader starts: not for it
  start_reader(1 << 20);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(add("m" + std::to_string(i)));
  ASSERT_TRUE(eventually([&] { return seen().size() == 5; }));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(seen()[i], (std::pair<std::string, std::string>{ids[i], "m" + std::to_string(i)}));

  // when_reached: at once for an id already read, at the deadline for one never written.
  std::promise<bool> reached, never;
  on_io([&] {
    reader_->when_reached(*parse_stream_id(ids[4]), std::chrono::steady_clock::now() + 5s,
                          [&](bool ok) { reached.set_value(ok); });
    reader_->when_reached(StreamId{UINT64_MAX, 0}, std::chrono::steady_clock::now() + 100ms,
                          [&](bool ok) { never.set_value(ok); });
  });
  EXPECT_TRUE(reached.get_future().get());
  EXPECT_FALSE(never.get_future().get());

  // Redis restarted (the stream is gone): entries written after it comes back are read.
  server_->stop();
  server_->start();
  std::string after;  // the writer notices the restart by failing once
  ASSERT_TRUE(eventually([&] { return !(after = add("after")).empty(); }, 10s));
  ASSERT_TRUE(eventually([&] { return seen().size() == 6; }, 10s));
  EXPECT_EQ(seen()[5], (std::pair<std::string, std::string>{after, "after"}));
}

TEST_F(StreamReaderLive, WhereScriptsAreRefusedItFindsTheEndWithoutOne) {
  add("before");
  std::promise<bool> acl;
  on_io([&] {
    writer_->command({"ACL", "SETUSER", "default", "-eval"},
                     [&](const redisReply* r) { acl.set_value(r && r->type == REDIS_REPLY_STATUS); });
  });
  ASSERT_TRUE(acl.get_future().get());
  start_reader(1 << 20);
  const auto id = add("after");
  ASSERT_TRUE(eventually([&] { return seen().size() == 1; }));
  EXPECT_EQ(seen()[0], (std::pair<std::string, std::string>{id, "after"}));
}

TEST_F(StreamReaderLive, ABatchOverTheReplyLimitIsReadOneAtATime) {
  start_reader(64 * 1024, 100);
  // Ten entries of 20 KiB: one XREAD reply would hold 200 KiB.
  for (int i = 0; i < 10; ++i) add(std::to_string(i) + std::string(20 * 1024, 'x'));
  ASSERT_TRUE(eventually([&] { return seen().size() == 10; }, 10s));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(seen()[i].second.substr(0, 1), std::to_string(i));
  EXPECT_EQ(skipped_.load(), 0);
}

TEST_F(StreamReaderLive, AnEntryOverTheReplyLimitAloneIsSkippedAndCounted) {
  start_reader(64 * 1024, 100);
  add("first");
  add(std::string(256 * 1024, 'h'));  // never read: its id comes from a script
  add("last");
  ASSERT_TRUE(eventually([&] { return seen().size() == 2; }, 10s));
  EXPECT_EQ(seen()[0].second, "first");
  EXPECT_EQ(seen()[1].second, "last");
  EXPECT_EQ(skipped_.load(), 1);
  // And it goes on reading normally.
  add("again");
  ASSERT_TRUE(eventually([&] { return seen().size() == 3; }));
}

}  // namespace
}  // namespace socketio::redis
