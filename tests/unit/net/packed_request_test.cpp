// The handshake request as a session keeps it (net/packed_request.hpp): everything but the body,
// in one allocation, and the same request back from unpack().
#include "net/packed_request.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace socketio::net {
namespace {

HttpRequest sample() {
  HttpRequest r;
  r.method = Method::get;
  r.method_name = "GET";
  r.target = "/socket.io/?EIO=4&transport=websocket&token=a%20b";
  r.version = 10;
  r.headers = {{"Host", "example.com:3000"},
               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
               {"X-Custom", ""},
               {"x-custom", "second"},
               {"Cookie", std::string(70000, 'c')}};  // a field longer than 16 bits of length
  r.body = "dropped";
  r.remote_address = "203.0.113.7";
  r.remote_port = 54321;
  r.secure = true;
  r.keep_alive = false;
  return r;
}

TEST(PackedRequest, UnpacksToTheSameRequestWithoutItsBody) {
  const HttpRequest in = sample();
  const HttpRequest out = PackedRequest(in).unpack();
  EXPECT_EQ(out.method, in.method);
  EXPECT_EQ(out.method_name, in.method_name);
  EXPECT_EQ(out.target, in.target);
  EXPECT_EQ(out.version, in.version);
  ASSERT_EQ(out.headers.size(), in.headers.size());
  for (std::size_t i = 0; i < in.headers.size(); ++i) {
    EXPECT_EQ(out.headers[i].name, in.headers[i].name);
    EXPECT_EQ(out.headers[i].value, in.headers[i].value);
  }
  EXPECT_TRUE(out.body.empty());
  EXPECT_EQ(out.remote_address, in.remote_address);
  EXPECT_EQ(out.remote_port, in.remote_port);
  EXPECT_EQ(out.secure, in.secure);
  EXPECT_EQ(out.keep_alive, in.keep_alive);
}

TEST(PackedRequest, ReadsLikeTheRequest) {
  const HttpRequest in = sample();
  const PackedRequest p(in);
  EXPECT_EQ(p.target(), in.target);
  EXPECT_EQ(p.query(), in.query());
  EXPECT_EQ(p.remote_address(), "203.0.113.7");
  EXPECT_TRUE(p.secure());
  EXPECT_EQ(p.header("sec-websocket-key"), std::optional<std::string_view>("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_EQ(p.header("X-CUSTOM"), std::optional<std::string_view>(""));  // the first one, even empty
  EXPECT_EQ(p.header("Cookie")->size(), 70000u);
  EXPECT_FALSE(p.header("Origin"));
  std::vector<std::string> names;
  p.for_each_header([&](std::string_view n, std::string_view) { names.emplace_back(n); });
  EXPECT_EQ(names, (std::vector<std::string>{"Host", "Sec-WebSocket-Key", "X-Custom", "x-custom", "Cookie"}));
}

TEST(PackedRequest, QueryIsEmptyButNotNullWithoutOne) {
  HttpRequest in;
  in.target = "/socket.io/";
  const PackedRequest p(in);
  EXPECT_TRUE(p.query().empty());
  EXPECT_NE(p.query().data(), nullptr);
  EXPECT_EQ(PackedRequest(HttpRequest{}).unpack().headers.size(), 0u);
}

}  // namespace
}  // namespace socketio::net
