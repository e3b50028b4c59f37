#include "sio/pending_acks.hpp"

#include <gtest/gtest.h>

using socketio::sio::PendingAcks;

TEST(PendingAcks, TakesEachIdOnce) {
  PendingAcks p;
  EXPECT_FALSE(p.add(1, 4));
  EXPECT_FALSE(p.add(2, 4));
  EXPECT_TRUE(p.take(1));
  EXPECT_FALSE(p.take(1));
  EXPECT_FALSE(p.take(7));
  EXPECT_EQ(p.size(), 1u);
  EXPECT_TRUE(p.take(2));
  EXPECT_EQ(p.size(), 0u);
}

TEST(PendingAcks, DropsTheOldestOverTheLimit) {
  PendingAcks p;
  for (std::uint64_t id = 0; id < 3; ++id) EXPECT_FALSE(p.add(id, 3));
  EXPECT_TRUE(p.add(3, 3));  // 0 forgotten
  EXPECT_EQ(p.size(), 3u);
  EXPECT_FALSE(p.take(0));
  for (std::uint64_t id = 1; id <= 3; ++id) EXPECT_TRUE(p.take(id));
  EXPECT_EQ(p.size(), 0u);
}

TEST(PendingAcks, FloodStaysBoundedAndKeepsTheNewest) {
  PendingAcks p;
  std::size_t dropped = 0;
  for (std::uint64_t id = 0; id < 100'000; ++id) dropped += p.add(id, 256) ? 1 : 0;
  EXPECT_EQ(dropped, 100'000u - 256u);
  EXPECT_EQ(p.size(), 256u);
  EXPECT_FALSE(p.take(100'000 - 257));
  for (std::uint64_t id = 100'000 - 256; id < 100'000; ++id) EXPECT_TRUE(p.take(id)) << id;
  EXPECT_EQ(p.size(), 0u);
}

TEST(PendingAcks, ZeroLimitHoldsNothing) {
  PendingAcks p;
  EXPECT_TRUE(p.add(5, 0));
  EXPECT_EQ(p.size(), 0u);
  EXPECT_FALSE(p.take(5));
}
