// The shard's heartbeat deadlines (eio/heartbeat): order within and across lists, re-arming,
// cancelling, an entry destroyed while armed, many due in one tick, callbacks that arm or cancel
// entries (their own and others) while the queue walks its lists, and the one timer.
#include "eio/heartbeat.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace {

using socketio::eio::HeartbeatQueue;
using Clock = HeartbeatQueue::Clock;
using std::chrono::milliseconds;

// A session stand-in: the queue calls Item::due, which records the item and runs its action.
struct Item : HeartbeatQueue::Entry {
  explicit Item(int id, std::vector<int>* log = nullptr) : id(id), log(log) {}
  int id;
  std::vector<int>* log;
  std::function<void(Item&)> action;  // run when due, after the item is logged

  static void due(HeartbeatQueue::Entry& e) {
    auto& item = static_cast<Item&>(e);
    EXPECT_FALSE(item.armed());  // unlinked before its callback
    if (item.log) item.log->push_back(item.id);
    if (item.action) item.action(item);
  }
};

struct HeartbeatQueueTest : ::testing::Test {
  boost::asio::io_context io;
  HeartbeatQueue q{io, &Item::due};
  std::vector<int> log;
  const Clock::time_point t0 = Clock::now();
  Clock::time_point at(int ms) const { return t0 + milliseconds(ms); }
};

TEST(HeartbeatEntry, IsSmall) {
  // What an idle session pays for its heartbeat (it was a 120-byte timer + a ~210-byte wait).
  EXPECT_LE(sizeof(HeartbeatQueue::Entry), 32u);
}

TEST_F(HeartbeatQueueTest, ExpiresInDeadlineOrderWithinAList) {
  Item a(1, &log), b(2, &log), c(3, &log);
  q.arm(a, 0, at(10));
  q.arm(b, 0, at(20));
  q.arm(c, 0, at(30));
  EXPECT_EQ(q.next_deadline(), at(10));
  EXPECT_EQ(q.expire(at(9)), 0u);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(q.expire(at(20)), 2u);  // a deadline equal to now has passed
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
  EXPECT_TRUE(c.armed());
  EXPECT_EQ(q.expire(at(100)), 1u);
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.next_deadline(), Clock::time_point::max());
}

TEST_F(HeartbeatQueueTest, ExpiresInDeadlineOrderAcrossLists) {
  Item a(1, &log), b(2, &log), c(3, &log), d(4, &log);
  q.arm(a, 0, at(40));
  q.arm(b, 1, at(10));
  q.arm(c, 2, at(30));
  q.arm(d, 3, at(20));
  EXPECT_EQ(q.next_deadline(), at(10));
  EXPECT_EQ(q.expire(at(50)), 4u);
  EXPECT_EQ(log, (std::vector<int>{2, 4, 3, 1}));
  EXPECT_EQ(a.list(), 0u);
  EXPECT_EQ(d.list(), 3u);
}

TEST_F(HeartbeatQueueTest, EqualDeadlinesKeepTheirArmingOrder) {
  Item a(1, &log), b(2, &log), c(3, &log);
  q.arm(b, 0, at(10));
  q.arm(a, 0, at(10));
  q.arm(c, 0, at(10));
  q.expire(at(10));
  EXPECT_EQ(log, (std::vector<int>{2, 1, 3}));
}

TEST_F(HeartbeatQueueTest, AnEarlierDeadlineThanTheTailIsStillPlacedInOrder) {
  Item a(1, &log), b(2, &log), c(3, &log), d(4, &log);
  q.arm(a, 1, at(10));
  q.arm(b, 1, at(30));
  q.arm(c, 1, at(20));  // not by construction: walks back past b
  q.arm(d, 1, at(5));   // to the front
  q.expire(at(25));
  EXPECT_EQ(log, (std::vector<int>{4, 1, 3}));
  EXPECT_TRUE(b.armed());
}

TEST_F(HeartbeatQueueTest, ReArmingReplacesTheDeadline) {
  Item a(1, &log), b(2, &log);
  q.arm(a, 0, at(10));
  q.arm(b, 0, at(20));
  q.arm(a, 0, at(30));  // moved behind b
  EXPECT_EQ(q.expire(at(25)), 1u);
  EXPECT_EQ(log, (std::vector<int>{2}));
  q.arm(a, 2, at(40));  // into another list: gone from the first
  EXPECT_EQ(q.expire(at(35)), 0u);
  EXPECT_EQ(q.expire(at(40)), 1u);
  EXPECT_EQ(log, (std::vector<int>{2, 1}));
  EXPECT_EQ(a.list(), 2u);
  EXPECT_TRUE(q.empty());
}

TEST_F(HeartbeatQueueTest, CancelledEntriesDoNotExpire) {
  Item a(1, &log), b(2, &log), c(3, &log);
  q.arm(a, 0, at(10));
  q.arm(b, 0, at(20));
  q.arm(c, 0, at(30));
  HeartbeatQueue::cancel(b);  // the middle
  HeartbeatQueue::cancel(a);  // the head
  HeartbeatQueue::cancel(a);  // twice is nothing
  EXPECT_FALSE(a.armed());
  EXPECT_FALSE(b.armed());
  EXPECT_EQ(q.next_deadline(), at(30));
  HeartbeatQueue::cancel(c);  // the last
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.expire(at(100)), 0u);
  EXPECT_TRUE(log.empty());
}

TEST_F(HeartbeatQueueTest, AnEntryDestroyedWhileArmedUnlinksItself) {
  Item a(1, &log), c(3, &log);
  q.arm(a, 0, at(10));
  {
    Item b(2, &log);
    q.arm(b, 0, at(20));
    q.arm(c, 0, at(30));
  }
  {
    Item d(4, &log);  // the tail, then the only one of its list
    q.arm(d, 1, at(5));
  }
  EXPECT_EQ(q.next_deadline(), at(10));
  EXPECT_EQ(q.expire(at(100)), 2u);
  EXPECT_EQ(log, (std::vector<int>{1, 3}));
}

TEST_F(HeartbeatQueueTest, ManyDueInOneTickAllRun) {
  constexpr int kN = 10'000;
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < kN; ++i) {
    items.push_back(std::make_unique<Item>(i, &log));
    q.arm(*items.back(), static_cast<std::size_t>(i % 2), at(i / 10));
  }
  EXPECT_EQ(q.expire(at(kN)), static_cast<std::size_t>(kN));
  ASSERT_EQ(log.size(), static_cast<std::size_t>(kN));
  for (int i = 1; i < kN; ++i) EXPECT_LE(log[i - 1] / 10, log[i] / 10);  // in deadline order
  EXPECT_TRUE(q.empty());
}

TEST_F(HeartbeatQueueTest, ACallbackMayReArmItself) {
  Item a(1, &log), b(2, &log);
  int pings = 0;
  a.action = [&](Item& self) {
    if (++pings < 3) q.arm(self, 0, at(10 * (pings + 1)));  // the next ping
  };
  q.arm(a, 0, at(10));
  q.arm(b, 0, at(15));
  EXPECT_EQ(q.expire(at(12)), 1u);  // re-armed for 20: not due now
  EXPECT_TRUE(a.armed());
  EXPECT_EQ(q.expire(at(40)), 3u);  // b at 15, a at 20, a at 30
  EXPECT_EQ(log, (std::vector<int>{1, 2, 1, 1}));
  EXPECT_FALSE(a.armed());
}

TEST_F(HeartbeatQueueTest, ACallbackMayArmAnEntryThatIsDueInTheSameTick) {
  Item a(1, &log), b(2, &log);
  a.action = [&](Item&) { q.arm(b, 1, at(11)); };  // a ping, and its pong deadline already passed
  q.arm(a, 0, at(10));
  EXPECT_EQ(q.expire(at(20)), 2u);
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
}

TEST_F(HeartbeatQueueTest, ACallbackMayCancelOrDestroyOthers) {
  auto b = std::make_unique<Item>(2, &log);
  Item a(1, &log), c(3, &log), d(4, &log);
  a.action = [&](Item&) {
    HeartbeatQueue::cancel(c);  // due in this tick too, never runs
    b.reset();                  // the next head, destroyed
    q.arm(d, 0, at(12));        // moved behind what is left
  };
  q.arm(a, 0, at(10));
  q.arm(*b, 0, at(10));
  q.arm(d, 0, at(11));
  q.arm(c, 1, at(11));
  EXPECT_EQ(q.expire(at(20)), 2u);
  EXPECT_EQ(log, (std::vector<int>{1, 4}));
  EXPECT_TRUE(q.empty());
}

TEST_F(HeartbeatQueueTest, ACallbackMayDestroyItsOwnEntry) {
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 3; ++i) {
    items.push_back(std::make_unique<Item>(i, &log));
    items.back()->action = [&items, i](Item&) { items[static_cast<std::size_t>(i)].reset(); };
    q.arm(*items.back(), 0, at(i));
  }
  EXPECT_EQ(q.expire(at(10)), 3u);
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2}));
  for (const auto& p : items) EXPECT_EQ(p, nullptr);
}

TEST_F(HeartbeatQueueTest, EntriesMayOutliveTheQueue) {
  Item a(1, &log);
  {
    HeartbeatQueue other(io, &Item::due);
    other.arm(a, 0, at(10));
  }
  EXPECT_FALSE(a.armed());  // and its destructor touches nothing
}

TEST_F(HeartbeatQueueTest, TheTimerIsSetForTheEarliestDeadline) {
  Item a(1, &log), b(2, &log), c(3, &log);
  q.arm(a, 0, at(50));
  EXPECT_EQ(q.timer_at(), at(50));
  q.arm(b, 0, at(60));
  EXPECT_EQ(q.timer_at(), at(50));  // later: the timer stays
  q.arm(c, 1, at(20));
  EXPECT_EQ(q.timer_at(), at(20));  // earlier: the timer follows
  HeartbeatQueue::cancel(c);
  EXPECT_EQ(q.timer_at(), at(20));  // lazily: it finds nothing due then, and sets itself for 50
}

// The real timer: deadlines a few milliseconds away, run on the io_context, one wait for all.
TEST_F(HeartbeatQueueTest, TheTimerRunsEveryDeadlineOnTime) {
  const auto start = Clock::now();
  std::vector<std::unique_ptr<Item>> items;
  std::vector<Clock::time_point> ran(6);
  for (int i = 0; i < 6; ++i) {
    items.push_back(std::make_unique<Item>(i, &log));
    items.back()->action = [&ran, i](Item&) { ran[static_cast<std::size_t>(i)] = Clock::now(); };
  }
  q.arm(*items[0], 0, start + milliseconds(30));
  q.arm(*items[1], 0, start + milliseconds(30));  // the same tick
  q.arm(*items[2], 1, start + milliseconds(10));
  q.arm(*items[3], 2, start + milliseconds(20));
  q.arm(*items[4], 0, start + milliseconds(40));
  q.arm(*items[5], 3, start + milliseconds(5));
  HeartbeatQueue::cancel(*items[5]);  // the timer's first wait finds nothing; it goes on
  // Item 2 pings at 10 and arms item 5 for the pong at 25, earlier than some already armed.
  items[2]->action = [&](Item&) {
    ran[2] = Clock::now();
    q.arm(*items[5], 1, start + milliseconds(25));
  };
  io.run_for(milliseconds(500));
  EXPECT_EQ(log, (std::vector<int>{2, 3, 5, 0, 1, 4}));
  const int due[] = {30, 30, 10, 20, 40, 25};
  for (std::size_t i = 0; i < ran.size(); ++i) EXPECT_GE(ran[i], start + milliseconds(due[i])) << i;
  EXPECT_TRUE(q.empty());
}

}  // namespace
