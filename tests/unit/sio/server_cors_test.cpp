// The library's CORS defaults, over a real socket: off unless configured (as the reference), "*"
// never with credentials, credentials only for a listed origin.
#include "socketio/server.hpp"

#include "loopback_http.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace {

// One HTTP exchange on 127.0.0.1:port; returns the response head.
std::string get_head(std::uint16_t port, const std::string& origin) {
  const auto out = socketio::test::loopback_exchange(
      port, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: " + origin +
                "\r\nCookie: a=b\r\nConnection: close\r\n\r\n");
  return out.substr(0, out.find("\r\n\r\n"));
}

std::string head_with(socketio::ServerOptions o, const std::string& origin) {
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 1;
  socketio::Server io(o);
  const auto port = io.listen();
  std::thread runner([&] { io.run(); });
  auto head = get_head(port, origin);
  io.stop(std::chrono::milliseconds(0));
  runner.join();
  return head;
}

TEST(ServerCors, OffByDefault) {
  const auto head = head_with({}, "http://evil.example");
  ASSERT_NE(head.find("200 OK"), std::string::npos) << head;
  EXPECT_EQ(head.find("Access-Control-"), std::string::npos) << head;
}

TEST(ServerCors, AnyOriginIsStarWithoutCredentials) {
  socketio::ServerOptions o;
  o.cors.enabled = true;
  o.cors.credentials = true;  // ignored for "*"
  const auto head = head_with(o, "http://evil.example");
  EXPECT_NE(head.find("Access-Control-Allow-Origin: *"), std::string::npos) << head;
  EXPECT_EQ(head.find("http://evil.example"), std::string::npos) << head;
  EXPECT_EQ(head.find("Access-Control-Allow-Credentials"), std::string::npos) << head;
}

TEST(ServerCors, CredentialsOnlyForAListedOrigin) {
  socketio::ServerOptions o;
  o.cors.enabled = true;
  o.cors.origins = {"https://app.example"};
  o.cors.credentials = true;
  const auto listed = head_with(o, "https://app.example");
  EXPECT_NE(listed.find("Access-Control-Allow-Origin: https://app.example"), std::string::npos) << listed;
  EXPECT_NE(listed.find("Access-Control-Allow-Credentials: true"), std::string::npos) << listed;
  const auto other = head_with(o, "http://evil.example");
  EXPECT_EQ(other.find("Access-Control-"), std::string::npos) << other;
}

}  // namespace
