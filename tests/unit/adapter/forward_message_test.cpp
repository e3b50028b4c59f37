// The messages nodes exchange to serve each other's Engine.IO sessions: every type round-trips,
// and bytes from Redis that are not one well-formed message are refused (untrusted input).
#include "adapter/cluster/forward_message.hpp"

#include <gtest/gtest.h>

#include <string>

namespace socketio::cluster {
namespace {

ForwardMessage sample() {
  ForwardMessage m;
  m.type = ForwardType::request;
  m.from = "AbC_";
  m.id = 0x0123456789abcdefULL;
  m.method = "POST";
  m.target = "/socket.io/?EIO=4&transport=polling&sid=xAbC_123456789012345";
  m.remote_address = "10.0.0.9";
  m.secure = true;
  m.headers = {{"Content-Type", "text/plain;charset=UTF-8"}, {"X-Forwarded-For", "203.0.113.7"}};
  m.body = std::string(
               "40\x1e"
               "42[\"x\"]",
               10) +
           std::string(1, '\0');
  return m;
}

TEST(ForwardMessage, EveryTypeRoundTrips) {
  for (std::uint8_t t = 1; t <= kMaxForwardType; ++t) {
    ForwardMessage m = sample();
    m.type = static_cast<ForwardType>(t);
    m.status = 1011;
    m.close = t % 2 == 0;
    m.frames = {{false, "3probe"}, {true, std::string("\x04\x00\xff", 3)}};
    const auto back = decode_forward_message(encode(m));
    ASSERT_TRUE(back.has_value()) << int(t);
    EXPECT_EQ(back->type, m.type);
    EXPECT_EQ(back->from, m.from);
    EXPECT_EQ(back->id, m.id);
    EXPECT_EQ(back->method, m.method);
    EXPECT_EQ(back->target, m.target);
    EXPECT_EQ(back->remote_address, m.remote_address);
    EXPECT_EQ(back->secure, m.secure);
    EXPECT_EQ(back->status, m.status);
    EXPECT_EQ(back->close, m.close);
    EXPECT_EQ(back->headers, m.headers);
    EXPECT_EQ(back->body, m.body);
    EXPECT_EQ(back->frames, m.frames);
  }
}

TEST(ForwardMessage, RefusesWhatIsNotOneWellFormedMessage) {
  const std::string good = encode(sample());
  EXPECT_FALSE(decode_forward_message("").has_value());
  EXPECT_FALSE(decode_forward_message("SIOF").has_value());
  EXPECT_FALSE(decode_forward_message("XIOF" + good.substr(4)).has_value());
  std::string bad_version = good;
  bad_version[4] = 2;
  EXPECT_FALSE(decode_forward_message(bad_version).has_value());
  for (const char type : {char(0), char(kMaxForwardType + 1), char(0xff)}) {
    std::string bad_type = good;
    bad_type[5] = type;
    EXPECT_FALSE(decode_forward_message(bad_type).has_value());
  }
  // Every truncation, and trailing bytes.
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(decode_forward_message(good.substr(0, n)).has_value()) << n;
  EXPECT_FALSE(decode_forward_message(good + "x").has_value());
  // A length that claims more than is there.
  std::string long_from = good;
  long_from[6] = '\x7f';
  EXPECT_FALSE(decode_forward_message(long_from).has_value());
}

}  // namespace
}  // namespace socketio::cluster
