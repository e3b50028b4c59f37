#include "net/handshake_slots.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace socketio::net {
namespace {

using Outcome = HandshakeSlots::Outcome;

// A handshake in progress: holds its ticket the way a TLS session does.
struct Handshake final : HandshakeSlots::Holder {
  HandshakeSlots::Ticket ticket;
  bool taken = false;
  void slot_taken() override { taken = true; }
};

HandshakeSlots::Key key(const char* address) {
  return AddressLimits::key_of(address);
}

std::unique_ptr<Handshake> start(HandshakeSlots& slots, const char* address, Outcome& outcome) {
  auto h = std::make_unique<Handshake>();
  h->ticket = slots.admit(key(address), *h, outcome);
  return h;
}

TEST(HandshakeSlots, AdmitsUpToCapacityAndGivesSlotsBack) {
  HandshakeSlots slots(3);
  Outcome o{};
  std::vector<std::unique_ptr<Handshake>> hs;
  for (int i = 0; i < 3; ++i) {
    hs.push_back(start(slots, "10.0.0.1", o));
    EXPECT_EQ(o, Outcome::admitted);
    EXPECT_TRUE(hs.back()->ticket);
  }
  EXPECT_EQ(slots.in_progress(), 3u);
  // Full, and the newcomer is the only holder: refused, nobody's slot taken.
  auto refused = start(slots, "10.0.0.1", o);
  EXPECT_EQ(o, Outcome::refused);
  EXPECT_FALSE(refused->ticket);
  for (auto& h : hs) EXPECT_FALSE(h->taken);
  hs[1]->ticket.release();  // a handshake ends
  EXPECT_EQ(slots.in_progress(), 2u);
  hs[1]->ticket.release();  // twice is harmless
  EXPECT_EQ(slots.in_progress(), 2u);
  hs.push_back(start(slots, "10.0.0.1", o));
  EXPECT_EQ(o, Outcome::admitted);
  hs.clear();  // destroying the tickets gives every slot back
  EXPECT_EQ(slots.in_progress(), 0u);
  EXPECT_EQ(slots.addresses(), 0u);
}

TEST(HandshakeSlots, AFloodingAddressCannotShutOthersOut) {
  HandshakeSlots slots(100);
  Outcome o{};
  std::vector<std::unique_ptr<Handshake>> flood;
  for (int i = 0; i < 100; ++i) flood.push_back(start(slots, "192.0.2.66", o));
  EXPECT_EQ(slots.held_by(key("192.0.2.66")), 100u);
  // The flooder's next handshake is refused...
  auto more = start(slots, "192.0.2.66", o);
  EXPECT_EQ(o, Outcome::refused);
  // ...while another client's takes the flooder's oldest slot.
  auto good = start(slots, "198.51.100.7", o);
  EXPECT_EQ(o, Outcome::admitted_by_taking);
  EXPECT_TRUE(good->ticket);
  EXPECT_TRUE(flood.front()->taken);
  EXPECT_FALSE(flood.front()->ticket);  // its ticket no longer counts
  EXPECT_FALSE(flood[1]->taken);
  EXPECT_EQ(slots.in_progress(), 100u);
  EXPECT_EQ(slots.held_by(key("192.0.2.66")), 99u);
  flood.front().reset();  // the taken handshake's session goes away: nothing released twice
  EXPECT_EQ(slots.in_progress(), 100u);
  // Many good clients: each takes from the flooder until the two hold equal shares.
  std::vector<std::unique_ptr<Handshake>> goods;
  for (int i = 0; i < 200; ++i) {
    goods.push_back(start(slots, "198.51.100.7", o));
    if (o == Outcome::refused) break;
  }
  EXPECT_EQ(o, Outcome::refused);
  EXPECT_EQ(slots.held_by(key("198.51.100.7")), 50u);
  EXPECT_EQ(slots.held_by(key("192.0.2.66")), 50u);
  // A third address still gets in: it holds the fewest.
  auto third = start(slots, "203.0.113.1", o);
  EXPECT_EQ(o, Outcome::admitted_by_taking);
  EXPECT_EQ(slots.in_progress(), 100u);
}

TEST(HandshakeSlots, IPv6CountsPerSlash64) {
  HandshakeSlots slots(2);
  Outcome o{};
  auto a = start(slots, "2001:db8:1:2::1", o);
  auto b = start(slots, "2001:db8:1:2::ffff", o);  // same /64: the same holder
  EXPECT_EQ(slots.held_by(key("2001:db8:1:2::")), 2u);
  auto c = start(slots, "2001:db8:1:2:aaaa::1", o);
  EXPECT_EQ(o, Outcome::refused);
  auto d = start(slots, "2001:db8:1:3::1", o);  // another /64 takes a slot
  EXPECT_EQ(o, Outcome::admitted_by_taking);
  EXPECT_TRUE(a->taken);
}

TEST(HandshakeSlots, TicketsMoveAndOutliveTheTable) {
  Outcome o{};
  Handshake h, h2, other;
  HandshakeSlots::Ticket moved, kept;
  {
    HandshakeSlots slots(2);
    HandshakeSlots::Ticket t = slots.admit(key("10.0.0.2"), h, o);
    kept = slots.admit(key("10.0.0.2"), h2, o);
    moved = std::move(t);
    EXPECT_FALSE(t);
    EXPECT_TRUE(moved);
    // The table follows the move: a newcomer takes the moved ticket's slot (the oldest).
    auto t2 = slots.admit(key("10.0.0.3"), other, o);
    EXPECT_EQ(o, Outcome::admitted_by_taking);
    EXPECT_TRUE(h.taken);
    EXPECT_FALSE(h2.taken);
    EXPECT_FALSE(moved);
    EXPECT_TRUE(kept);
    moved = std::move(t2);
    EXPECT_EQ(slots.in_progress(), 2u);
  }
  // The table is gone; the tickets still held are inert.
  EXPECT_FALSE(moved);
  EXPECT_FALSE(kept);
  moved.release();
}

TEST(HandshakeSlots, ZeroCapacityRefusesEverything) {
  HandshakeSlots slots(0);
  Outcome o{};
  auto h = start(slots, "10.0.0.1", o);
  EXPECT_EQ(o, Outcome::refused);
  EXPECT_EQ(slots.in_progress(), 0u);
}

}  // namespace
}  // namespace socketio::net
