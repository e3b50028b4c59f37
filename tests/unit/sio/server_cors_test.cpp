// The library's CORS defaults, over a real socket: off unless configured (as the reference), "*"
// never with credentials, credentials only for a listed origin.
#include "socketio/server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace {

// One HTTP/1.0 exchange on 127.0.0.1:port; returns the response head.
std::string get_head(std::uint16_t port, const std::string& origin) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return {};
  }
  const std::string req = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: " + origin +
                          "\r\nCookie: a=b\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
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
