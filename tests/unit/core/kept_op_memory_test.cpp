#include "core/kept_op_memory.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

using socketio::core::KeptOpAllocator;
using socketio::core::KeptOpMemory;
namespace asio = boost::asio;

TEST(KeptOpMemory, TheSameBlockEveryTime) {
  KeptOpMemory m;
  KeptOpAllocator<char> a(m);
  char* p = a.allocate(100);
  EXPECT_TRUE(m.in_use());
  EXPECT_EQ(m.size(), 100u);
  a.deallocate(p, 100);
  EXPECT_FALSE(m.in_use());
  EXPECT_EQ(a.allocate(100), p);  // the same place again
  a.deallocate(p, 100);
  EXPECT_EQ(a.allocate(60), p);  // a smaller one too
  a.deallocate(p, 60);
}

TEST(KeptOpMemory, OneAtATimeTheOthersOrdinaryMemory) {
  KeptOpMemory m;
  KeptOpAllocator<char> a(m);
  char* p = a.allocate(100);
  char* q = a.allocate(100);  // taken: ordinary memory
  EXPECT_NE(p, q);
  char* big = a.allocate(1000);  // taken, and bigger: ordinary memory, the kept block unchanged
  a.deallocate(q, 100);
  a.deallocate(big, 1000);
  EXPECT_TRUE(m.in_use());
  EXPECT_EQ(m.size(), 100u);
  a.deallocate(p, 100);
  EXPECT_FALSE(m.in_use());
}

TEST(KeptOpMemory, ABiggerOneWhileFreeReplacesTheBlock) {
  KeptOpMemory m;
  KeptOpAllocator<char> a(m);
  a.deallocate(a.allocate(50), 50);
  char* p = a.allocate(500);
  EXPECT_TRUE(m.in_use());
  EXPECT_EQ(m.size(), 500u);
  std::fill(p, p + 500, 'x');  // all of it is usable (ASan checks)
  a.deallocate(p, 500);
  EXPECT_EQ(a.allocate(500), p);
  a.deallocate(p, 500);
}

TEST(KeptOpMemory, AllocatorsOfOneMemoryCompareEqual) {
  KeptOpMemory m1, m2;
  KeptOpAllocator<int> a(m1);
  KeptOpAllocator<char> b(a);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == KeptOpAllocator<int>(m2));
}

// What the HTTP session relies on: a socket read bound to the memory is made in it, and made
// again from its own completion (the next request on a keep-alive connection) it lands in the
// same block every time.
TEST(KeptOpMemory, AsioReadReArmedFromItsCompletionReusesTheBlock) {
  asio::io_context io;
  asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(io), server(io);
  client.connect(acc.local_endpoint());
  acc.accept(server);
  auto memory = std::make_shared<KeptOpMemory>();
  int rounds = 0;
  bool always_kept = true;
  char byte = 0;
  std::function<void()> arm = [&] {
    server.async_read_some(
        asio::buffer(&byte, 1),
        asio::bind_allocator(KeptOpAllocator<void>(*memory),
                             [&, memory](boost::system::error_code ec, std::size_t n) {
                               ASSERT_FALSE(ec);
                               EXPECT_EQ(n, 1u);
                               EXPECT_FALSE(memory->in_use());  // freed before the handler runs
                               if (++rounds < 5) {
                                 arm();
                                 asio::write(client, asio::buffer("y", 1));
                               }
                             }));
    always_kept = always_kept && memory->in_use() && memory->size() > 0;
  };
  arm();
  const std::size_t size = memory->size();
  asio::write(client, asio::buffer("x", 1));
  io.run();
  EXPECT_EQ(rounds, 5);
  EXPECT_TRUE(always_kept);
  EXPECT_EQ(memory->size(), size);  // one block, never replaced
  EXPECT_FALSE(memory->in_use());
}

// An operation destroyed unrun (its io_context goes first) gives the block back too.
TEST(KeptOpMemory, AnOperationDestroyedUnrunGivesTheBlockBack) {
  auto memory = std::make_shared<KeptOpMemory>();
  {
    asio::io_context io;
    asio::steady_timer timer(io, std::chrono::hours(1));
    timer.async_wait(
        asio::bind_allocator(KeptOpAllocator<void>(*memory), [memory](boost::system::error_code) {}));
    EXPECT_TRUE(memory->in_use());
  }
  EXPECT_FALSE(memory->in_use());
}

// KeptSharedMemory: the same reuse, for objects released from other threads and possibly after
// their owner is gone (ASan checks that every block is freed once, and only once).
using socketio::core::KeptSharedAllocator;
using socketio::core::KeptSharedMemory;

namespace {
struct Payload {
  explicit Payload(int v) : value(v) {}
  int value;
  char bytes[100] = {};
};
}  // namespace

TEST(KeptSharedMemory, AnObjectMadeAgainLandsInTheSameBlock) {
  KeptSharedMemory m;
  auto a = std::allocate_shared<Payload>(KeptSharedAllocator<Payload>(m), 1);
  EXPECT_TRUE(m.in_use());
  const void* place = a.get();
  a.reset();
  EXPECT_FALSE(m.in_use());
  auto b = std::allocate_shared<Payload>(KeptSharedAllocator<Payload>(m), 2);
  EXPECT_EQ(static_cast<const void*>(b.get()), place);
  EXPECT_EQ(b->value, 2);
}

TEST(KeptSharedMemory, WhileTakenOthersGetOrdinaryBlocks) {
  KeptSharedMemory m;
  auto a = std::allocate_shared<Payload>(KeptSharedAllocator<Payload>(m), 1);
  auto b = std::allocate_shared<Payload>(KeptSharedAllocator<Payload>(m), 2);
  EXPECT_NE(a.get(), b.get());
  const std::size_t size = m.size();
  b.reset();  // an ordinary block: freed, the kept one still taken
  EXPECT_TRUE(m.in_use());
  EXPECT_EQ(m.size(), size);
  a.reset();
  EXPECT_FALSE(m.in_use());
}

TEST(KeptSharedMemory, ABiggerObjectWhileFreeReplacesTheBlock) {
  KeptSharedMemory m;
  std::allocate_shared<int>(KeptSharedAllocator<int>(m), 1).reset();
  const std::size_t small = m.size();
  auto big = std::allocate_shared<Payload>(KeptSharedAllocator<Payload>(m), 3);
  EXPECT_GT(m.size(), small);
  std::fill(std::begin(big->bytes), std::end(big->bytes), 'x');  // all of it usable (ASan)
  EXPECT_TRUE(m.in_use());
}

TEST(KeptSharedMemory, TheObjectOutlivesItsOwner) {
  std::shared_ptr<Payload> kept, ordinary;
  {
    KeptSharedMemory m;
    kept = std::allocate_shared<Payload>(KeptSharedAllocator<Payload>(m), 1);
    ordinary = std::allocate_shared<Payload>(KeptSharedAllocator<Payload>(m), 2);
  }
  kept->bytes[99] = 'x';  // still there (ASan: not freed with the owner)
  EXPECT_EQ(kept->value, 1);
  EXPECT_EQ(ordinary->value, 2);
  kept.reset();  // freed here (ASan's leak check: once)
  ordinary.reset();
}

// The owner makes objects on its thread while another thread releases them, and goes while one is
// still held there (run under TSan by scripts/test.sh).
TEST(KeptSharedMemory, ReleasedOnAnotherThread) {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Payload>> handed;
  bool done = false;
  std::thread releaser([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return done || !handed.empty(); });
      if (handed.empty()) return;
      auto p = std::move(handed.front());
      handed.pop_front();
      lock.unlock();
      p->bytes[0] = static_cast<char>(p->value);
      p.reset();
      lock.lock();
    }
  });
  {
    KeptSharedMemory m;
    for (int i = 0; i < 20000; ++i) {
      auto p = std::allocate_shared<Payload>(KeptSharedAllocator<Payload>(m), i);
      std::lock_guard lock(mu);
      handed.push_back(std::move(p));
      cv.notify_one();
    }
  }  // the owner goes: what the releaser still holds stays valid
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_one();
  releaser.join();
}
