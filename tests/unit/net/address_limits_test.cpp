// The connection budget (net/address_limits.hpp): totals, per-address caps, the handshake token
// bucket, trusted proxies exempt, IPv6 per /64, and the address table bounded under a flood of
// distinct addresses.
#include "net/address_limits.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace socketio::net {
namespace {

TEST(AddressLimits, TotalConnections) {
  Metrics metrics(1);
  AddressLimits l({.max_connections = 2}, metrics);
  Refusal why{};
  auto a = l.open_connection("10.0.0.1", why);
  auto b = l.open_connection("10.0.0.2", why);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(l.open_connection("10.0.0.3", why));
  EXPECT_EQ(why, Refusal::connections);
  EXPECT_EQ(l.refused(Refusal::connections), 1u);
  a.reset();
  EXPECT_TRUE(l.open_connection("10.0.0.3", why));
  EXPECT_EQ(l.connections(), 1u);  // the temporary above is gone again
}

TEST(AddressLimits, PerAddressWithTrustedProxiesExempt) {
  std::string error;
  AddressLimitOptions o;
  o.max_connections_per_address = 1;
  o.trust = *ProxyTrust::parse("10.9.0.0/16", error);
  Metrics metrics(2);
  AddressLimits l(o, metrics);
  Refusal why{};
  auto a = l.open_connection("192.0.2.1", why);
  ASSERT_TRUE(a);
  EXPECT_FALSE(l.open_connection("192.0.2.1", why));
  EXPECT_EQ(why, Refusal::connections_per_address);
  EXPECT_EQ(l.refused(Refusal::connections_per_address), 1u);
  auto p1 = l.open_connection("10.9.1.1", why);
  auto p2 = l.open_connection("10.9.1.1", why);
  EXPECT_TRUE(p1 && p2) << "a trusted proxy carries many clients";
  // IPv6 counts per /64.
  auto v6 = l.open_connection("2001:db8:1:2::1", why);
  ASSERT_TRUE(v6);
  EXPECT_FALSE(l.open_connection("2001:db8:1:2:ffff::9", why));
  EXPECT_TRUE(l.open_connection("2001:db8:1:3::1", why));
}

TEST(AddressLimits, SessionsAndHandshakeRate) {
  Metrics metrics(1);
  AddressLimits l({.max_sessions_per_address = 3, .handshake_rate = 100, .handshake_burst = 2}, metrics);
  Refusal why{};
  auto s1 = l.open_session("192.0.2.7", why);
  auto s2 = l.open_session("192.0.2.7", why);
  ASSERT_TRUE(s1 && s2);
  EXPECT_FALSE(l.open_session("192.0.2.7", why));
  EXPECT_EQ(why, Refusal::handshake_rate);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // 3 tokens back, burst 2
  auto s3 = l.open_session("192.0.2.7", why);
  ASSERT_TRUE(s3);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(l.open_session("192.0.2.7", why));
  EXPECT_EQ(why, Refusal::sessions_per_address);
  s1.reset();
  EXPECT_TRUE(l.open_session("192.0.2.7", why));
}

TEST(AddressLimits, TableStaysBoundedUnderDistinctAddresses) {
  Metrics metrics(1);
  AddressLimits l({.handshake_rate = 1, .max_addresses = 100}, metrics);
  Refusal why{};
  // A flood of spoofed addresses, each a session that closes at once: the table never grows
  // past its bound, and none is refused (idle entries make room).
  for (int i = 0; i < 10'000; ++i) {
    const std::string addr = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                             std::to_string(i % 256);
    auto s = l.open_session(addr, why);
    ASSERT_TRUE(s) << addr;
    ASSERT_LE(l.tracked_addresses(), 100u);
  }
  // Addresses in use cannot be dropped: once all are, a new one is refused, not tracked.
  std::vector<std::unique_ptr<AddressLimits::Slot>> held;
  for (int i = 0; i < 100; ++i) held.push_back(l.open_session("192.168.0." + std::to_string(i), why));
  EXPECT_FALSE(l.open_session("192.168.1.1", why));
  EXPECT_EQ(why, Refusal::address_table_full);
  EXPECT_LE(l.tracked_addresses(), 100u);
}

}  // namespace
}  // namespace socketio::net
