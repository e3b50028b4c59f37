// X-Forwarded-For read from the right with Express's trust proxy semantics (net/forwarded.hpp).
#include "net/forwarded.hpp"

#include <gtest/gtest.h>

namespace socketio::net {
namespace {

ProxyTrust parse(std::string_view text) {
  std::string error;
  auto t = ProxyTrust::parse(text, error);
  EXPECT_TRUE(t) << text << ": " << error;
  return t.value_or(ProxyTrust{});
}

TEST(Forwarded, OffIgnoresTheHeaders) {
  const ProxyTrust off;
  EXPECT_EQ(client_address("10.0.0.2", "203.0.113.7", off), "10.0.0.2");
  EXPECT_FALSE(client_secure(false, "10.0.0.2", "https", off));
  EXPECT_EQ(client_address("10.0.0.2", "203.0.113.7", parse("false")), "10.0.0.2");
  EXPECT_EQ(client_address("10.0.0.2", "203.0.113.7", parse("0")), "10.0.0.2");
}

TEST(Forwarded, TrueTrustsThePeerOnlyAndReadsFromTheRight) {
  const auto t = parse("true");
  // The client wrote "1.1.1.1" itself; the proxy appended what it saw.
  EXPECT_EQ(client_address("10.0.0.2", "1.1.1.1, 203.0.113.7", t), "203.0.113.7");
  EXPECT_EQ(client_address("10.0.0.2", "203.0.113.7", t), "203.0.113.7");
  EXPECT_EQ(client_address("10.0.0.2", std::nullopt, t), "10.0.0.2");
  EXPECT_EQ(client_address("10.0.0.2", "", t), "10.0.0.2");
  EXPECT_TRUE(client_secure(false, "10.0.0.2", "https", t));
  EXPECT_TRUE(client_secure(false, "10.0.0.2", "https, http", t));
  EXPECT_FALSE(client_secure(false, "10.0.0.2", "http", t));
}

TEST(Forwarded, HopCount) {
  const auto two = parse("2");
  EXPECT_EQ(client_address("10.0.0.2", "9.9.9.9, 203.0.113.7, 10.0.0.1", two), "203.0.113.7");
  // Fewer entries than hops: the leftmost there is.
  EXPECT_EQ(client_address("10.0.0.2", "203.0.113.7", two), "203.0.113.7");
}

TEST(Forwarded, TrustedListSkipsProxiesWhateverTheirNumber) {
  const auto t = parse("loopback, 10.0.0.0/8");
  EXPECT_EQ(client_address("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3, 10.0.0.1", t), "203.0.113.7");
  // A peer that is not a trusted proxy is the client: its header is ignored.
  EXPECT_EQ(client_address("198.51.100.4", "203.0.113.7", t), "198.51.100.4");
  EXPECT_FALSE(client_secure(false, "198.51.100.4", "https", t));
  // Every hop trusted: the leftmost.
  EXPECT_EQ(client_address("127.0.0.1", "10.0.0.9", t), "10.0.0.9");
  const auto v6 = parse("::1, fd00::/8");
  EXPECT_EQ(client_address("::1", "2001:db8::1, fd00::5", v6), "2001:db8::1");
  EXPECT_EQ(client_address("::1", "[2001:db8::2]", v6), "2001:db8::2");
}

TEST(Forwarded, GarbageEntryEndsTheWalk) {
  const auto t = parse("3");
  EXPECT_EQ(client_address("10.0.0.2", "203.0.113.7, not-an-ip, 10.0.0.1", t), "10.0.0.1");
  EXPECT_EQ(client_address("10.0.0.2", "unknown", parse("true")), "10.0.0.2");
}

TEST(Forwarded, ParseErrors) {
  std::string error;
  for (std::string_view bad : {"maybe", "10.0.0.0/33", "::1/129", "10.0.0.1/x", "1000"}) {
    error.clear();
    EXPECT_FALSE(ProxyTrust::parse(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(Forwarded, Networks) {
  const auto t = parse("172.16.0.0/12");
  EXPECT_TRUE(t.trusts(0, *parse_ip("172.31.255.255")));
  EXPECT_FALSE(t.trusts(0, *parse_ip("172.32.0.0")));
  EXPECT_FALSE(parse_ip("1.2.3"));
  EXPECT_EQ(*parse_ip("::ffff:1.2.3.4"), *parse_ip("1.2.3.4"));
}

}  // namespace
}  // namespace socketio::net
