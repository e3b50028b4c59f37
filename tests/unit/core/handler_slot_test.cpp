#include "core/handler_slot.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

using socketio::core::HandlerSlot;
using socketio::core::SlotAllocator;

TEST(HandlerSlot, OneAllocationAtATimeInTheSlot) {
  HandlerSlot slot;
  SlotAllocator<char> a(slot);
  char* p = a.allocate(100);
  EXPECT_TRUE(slot.in_use());
  char* q = a.allocate(100);  // the slot is taken: ordinary memory
  EXPECT_NE(p, q);
  a.deallocate(q, 100);
  EXPECT_TRUE(slot.in_use());
  a.deallocate(p, 100);
  EXPECT_FALSE(slot.in_use());
  EXPECT_EQ(a.allocate(100), p);  // the same place again
  a.deallocate(p, 100);
}

TEST(HandlerSlot, TooBigGoesElsewhere) {
  HandlerSlot slot;
  SlotAllocator<char> a(slot);
  char* p = a.allocate(HandlerSlot::kSize + 1);
  EXPECT_FALSE(slot.in_use());
  a.deallocate(p, HandlerSlot::kSize + 1);
}

// What the WebSocket session relies on: an Asio wait bound to the slot is allocated in it, and
// re-armed from its own completion it lands in the same place again.
TEST(HandlerSlot, AsioWaitReArmedFromItsCompletionStaysInTheSlot) {
  boost::asio::io_context io;
  boost::asio::steady_timer timer(io);
  auto slot = std::make_shared<HandlerSlot>();
  int rounds = 0;
  bool always_in_slot = true;
  std::function<void()> arm = [&] {
    timer.expires_after(std::chrono::milliseconds(1));
    timer.async_wait(
        boost::asio::bind_allocator(SlotAllocator<void>(*slot), [&, slot](boost::system::error_code ec) {
          ASSERT_FALSE(ec);
          if (++rounds < 5) {
            arm();
            always_in_slot = always_in_slot && slot->in_use();
          }
        }));
    always_in_slot = always_in_slot && slot->in_use();
  };
  arm();
  io.run();
  EXPECT_EQ(rounds, 5);
  EXPECT_TRUE(always_in_slot);
  EXPECT_FALSE(slot->in_use());
}
