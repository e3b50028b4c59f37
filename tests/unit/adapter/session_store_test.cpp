// The connection state recovery store (src/adapter/session_store.hpp): offsets appended once per
// packet, the reference's inclusion rule (rooms / except), the window (a fake clock), the memory
// and session bounds (oldest dropped first, counted), and offsets outside the window.
#include "adapter/session_store.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>
#include <malloc.h>

namespace socketio::sio {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1000h;
  SessionStore::Clock fn() {
    return [this] { return now; };
  }
};

BroadcastOptions to(std::vector<std::string> rooms, std::vector<std::string> except = {}) {
  BroadcastOptions o;
  o.rooms = std::move(rooms);
  o.except = std::move(except);
  return o;
}

std::string put(SessionStore& s, const std::string& text, const BroadcastOptions& opts) {
  boost::json::array data{"ev", boost::json::string(text)};
  int delivered = 0;
  auto offset = s.store(data, {}, opts, [&] { ++delivered; });
  EXPECT_EQ(delivered, 1);
  EXPECT_EQ(data.back().as_string(), offset) << "the offset is the packet's last argument";
  return offset;
}

std::vector<std::string> texts(const RestoredSession& r) {
  std::vector<std::string> out;
  for (const auto& p : r.missed) out.emplace_back(p->data[1].as_string());
  return out;
}

TEST(SessionStore, ReplaysThePacketsAfterTheOffsetThatWereForTheSession) {
  FakeClock clock;
  RecoveryOptions o;
  o.enabled = true;
  SessionStore s(o, clock.fn());
  const auto first = put(s, "before", to({}));
  s.persist({"sid1", "pid1", {"sid1", "r1"}, boost::json::object{{"x", 1}}});
  put(s, "to r1", to({"r1"}));
  put(s, "to r2", to({"r2"}));
  put(s, "to all but r1", to({}, {"r1"}));
  put(s, "to r1 and r2", to({"r1", "r2"}));
  put(s, "to the socket", to({"sid1"}));
  put(s, "to all", to({}));
  auto r = s.restore("pid1", first);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->session.sid, "sid1");
  EXPECT_EQ(r->session.rooms, (std::vector<std::string>{"sid1", "r1"}));
  EXPECT_EQ(boost::json::serialize(r->session.data), R"({"x":1})");
  EXPECT_EQ(texts(*r), (std::vector<std::string>{"to r1", "to r1 and r2", "to the socket", "to all"}));
  // Each packet is kept once, whatever it targets.
  EXPECT_EQ(s.retained_packets(), 7u);
  EXPECT_EQ(s.counters().sessions_restored.load(), 1u);
}

TEST(SessionStore, UnknownPidOrOffsetOutsideTheWindowMeansAFreshSession) {
  FakeClock clock;
  RecoveryOptions o;
  o.enabled = true;
  SessionStore s(o, clock.fn());
  const auto a = put(s, "a", to({}));
  s.persist({"sid", "pid", {"sid"}, nullptr});
  EXPECT_FALSE(s.restore("other", a));
  EXPECT_FALSE(s.restore("pid", "not a number"));
  EXPECT_FALSE(s.restore("pid", "12"));                                // older than anything kept
  EXPECT_FALSE(s.restore("pid", std::to_string(std::stoull(a) + 1)));  // never sent
  EXPECT_TRUE(s.restore("pid", a));
  EXPECT_EQ(s.counters().restores_failed.load(), 4u);
}

TEST(SessionStore, SessionsAndPacketsExpireAfterTheWindow) {
  FakeClock clock;
  RecoveryOptions o;
  o.enabled = true;
  o.max_disconnection_duration = 2000ms;
  SessionStore s(o, clock.fn());
  const auto a = put(s, "a", to({}));
  s.persist({"sid", "pid", {"sid"}, nullptr});
  clock.now += 1500ms;
  EXPECT_TRUE(s.restore("pid", a)) << "within the window";
  clock.now += 1000ms;
  EXPECT_FALSE(s.restore("pid", a)) << "2.5 s after the disconnection";
  EXPECT_EQ(s.kept_sessions(), 0u);
  EXPECT_EQ(s.retained_packets(), 0u);
}

TEST(SessionStore, MemoryAndSessionBoundsDropTheOldestFirstAndCountThem) {
  FakeClock clock;
  RecoveryOptions o;
  o.enabled = true;
  o.max_bytes = 4096;
  o.max_sessions = 2;
  SessionStore s(o, clock.fn());
  std::vector<std::string> offsets;
  for (int i = 0; i < 100; ++i) offsets.push_back(put(s, std::string(100, 'x'), to({})));
  EXPECT_LE(s.retained_bytes(), 4096u);
  EXPECT_GT(s.counters().packets_evicted.load(), 0u);
  EXPECT_EQ(s.counters().packets_evicted.load() + s.retained_packets(), 100u);
  s.persist({"s1", "p1", {}, nullptr});
  s.persist({"s2", "p2", {}, nullptr});
  s.persist({"s3", "p3", {}, nullptr});
  EXPECT_EQ(s.kept_sessions(), 2u);
  EXPECT_EQ(s.counters().sessions_evicted.load(), 1u);
  EXPECT_FALSE(s.restore("p1", offsets.back())) << "the oldest session went first";
  auto r = s.restore("p3", offsets.back());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->missed.empty());
  // An evicted packet's offset is out of the window: a fresh session, not a partial replay.
  EXPECT_FALSE(s.restore("p3", offsets.front()));
}

// --recovery-max-bytes bounds what the store counts; the count must be what the packets really
// hold on the heap (it once counted 372 B for 612 B per 100-character text, so the bound let the
// heap reach 1.6x it).
TEST(SessionStore, CountsWhatItsPacketsHoldOnTheHeap) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer's allocator is not glibc's: mallinfo2 does not see its blocks";
#else
  FakeClock clock;
  RecoveryOptions o;
  o.enabled = true;
  o.max_bytes = std::size_t{1} << 30;
  SessionStore s(o, clock.fn());
  put(s, "warm-up", to({"r"}));
  const auto heap_before = mallinfo2().uordblks;
  const auto counted_before = s.retained_bytes();
  constexpr int kPackets = 2000;
  for (int i = 0; i < kPackets; ++i) put(s, std::string(100, 'x'), to({"r"}));
  const double heap = static_cast<double>(mallinfo2().uordblks - heap_before) / kPackets;
  const double counted = static_cast<double>(s.retained_bytes() - counted_before) / kPackets;
  EXPECT_GE(counted, 0.85 * heap) << "counted " << counted << " B per packet, heap " << heap << " B";
  EXPECT_LE(counted, 1.25 * heap) << "counted " << counted << " B per packet, heap " << heap << " B";
#endif
}

}  // namespace
}  // namespace socketio::sio
