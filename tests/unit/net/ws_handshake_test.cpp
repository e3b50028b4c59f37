// The WebSocket session writes the 101 answer itself (ws::switching_protocols), so that it
// leaves with Engine.IO's open packet in one send: it must be byte for byte what Beast's
// websocket accept() writes, and must step aside whenever Beast would answer something else.
// Beast's answer is read from an in-memory stream pair (beast::test::stream).
#include "net/ws_handshake.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <string>
#include <utility>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using socketio::net::detail::BeastRequest;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

BeastRequest upgrade_request() {
  BeastRequest req{http::verb::get, "/socket.io/?EIO=4&transport=websocket", 11};
  req.set(http::field::host, "127.0.0.1:3000");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, "13");
  return req;
}

// What Beast's accept() writes for `req` with `headers` added by its decorator, as the session's
// Beast path sets them (websocket.cpp, do_accept).
std::string beast_answer(const BeastRequest& req, const Headers& headers) {
  boost::asio::io_context io;
  beast::test::stream local(io), remote(io);
  local.connect(remote);
  websocket::stream<beast::test::stream&> ws(local);
  if (!headers.empty()) {
    ws.set_option(websocket::stream_base::decorator([h = headers](websocket::response_type& res) {
      for (const auto& [name, value] : h) res.insert(name, value);
    }));
  }
  boost::system::error_code ec;
  ws.accept(req, ec);  // the answer is written whether or not the handshake succeeds
  return std::string(remote.str());
}

void expect_same(const BeastRequest& req, const Headers& headers = {}) {
  const auto ours = socketio::net::ws::switching_protocols(req, headers);
  ASSERT_TRUE(ours.has_value());
  EXPECT_EQ(*ours, beast_answer(req, headers));
  EXPECT_TRUE(ours->starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  EXPECT_TRUE(ours->ends_with("\r\n\r\n"));
}

TEST(WsHandshake, PlainUpgradeIsBeastsAnswer) {
  expect_same(upgrade_request());
}

TEST(WsHandshake, DecoratorHeadersInOrderAndServerKept) {
  expect_same(upgrade_request(),
              {{"Set-Cookie", "io=abc; Path=/; HttpOnly; SameSite=Lax"},
               {"Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover"},
               {"X-Custom", "1"},
               {"X-Custom", "2"}});
  expect_same(upgrade_request(), {{"Server", "mine"}});  // a Server header of the hooks replaces Beast's
}

TEST(WsHandshake, TokenListsAndKeysAsBeastReadsThem) {
  auto req = upgrade_request();
  req.set(http::field::connection, "keep-alive, Upgrade");
  req.set(http::field::upgrade, "WebSocket");
  expect_same(req);
  req.set(http::field::sec_websocket_key, "x");  // Beast does not check the key's form
  expect_same(req);
  req.set(http::field::sec_websocket_key, std::string(24, 'A'));
  expect_same(req);
}

TEST(WsHandshake, WhatBeastRefusesIsLeftToBeast) {
  const auto refused = [](BeastRequest req) {
    EXPECT_FALSE(socketio::net::ws::switching_protocols(req, {}).has_value());
    EXPECT_FALSE(beast_answer(req, {}).starts_with("HTTP/1.1 101 ")) << beast_answer(req, {});
  };
  auto r = upgrade_request();
  r.version(10);
  refused(r);
  r = upgrade_request();
  r.method(http::verb::post);
  refused(r);
  r = upgrade_request();
  r.erase(http::field::host);
  refused(r);
  r = upgrade_request();
  r.set(http::field::connection, "keep-alive");
  refused(r);
  r = upgrade_request();
  r.erase(http::field::upgrade);
  refused(r);
  r = upgrade_request();
  r.set(http::field::upgrade, "h2c");
  refused(r);
  r = upgrade_request();
  r.erase(http::field::sec_websocket_key);
  refused(r);
  r = upgrade_request();
  r.set(http::field::sec_websocket_key, std::string(25, 'A'));
  refused(r);
  r = upgrade_request();
  r.erase(http::field::sec_websocket_version);
  refused(r);
  r = upgrade_request();
  r.set(http::field::sec_websocket_version, "8");
  refused(r);
}

TEST(WsHandshake, ExpectContinueIsLeftToBeast) {
  auto r = upgrade_request();
  r.set(http::field::expect, "100-Continue");
  EXPECT_FALSE(socketio::net::ws::switching_protocols(r, {}).has_value());
  EXPECT_TRUE(beast_answer(r, {}).starts_with("HTTP/1.1 100 Continue\r\n"));
}

}  // namespace
