// permessage-deflate negotiation (RFC 7692 §5, §7.1): what real clients offer (Chromium, ws),
// every parameter with its allowed and refused values, several offers, and headers that are not
// what the grammar says (declined, never an error).
#include "net/ws_extensions.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ws = socketio::net::ws;

namespace {

ws::DeflateConfig on() {
  ws::DeflateConfig c;
  c.enabled = true;
  return c;
}

ws::DeflateConfig takeover() {
  auto c = on();
  c.server_no_context_takeover = false;
  c.client_no_context_takeover = false;
  return c;
}

// The response, or "declined".
std::string answer(std::string_view header, const ws::DeflateConfig& c = on()) {
  const auto a = ws::negotiate_deflate(header, c);
  return a ? a->response : "declined";
}

constexpr std::string_view kDefault =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

}  // namespace

TEST(WsExtensions, OffWhenDisabled) {
  EXPECT_FALSE(ws::negotiate_deflate("permessage-deflate", ws::DeflateConfig{}));
}

TEST(WsExtensions, RealClientsGetNoContextTakeoverBothWays) {
  // Chromium and the ws client (socket.io-client in Node) offer exactly this.
  const auto a = ws::negotiate_deflate("permessage-deflate; client_max_window_bits", on());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response, kDefault);
  EXPECT_TRUE(a->server_no_context_takeover);
  EXPECT_TRUE(a->client_no_context_takeover);
  EXPECT_EQ(a->server_window_bits, 15);
  EXPECT_EQ(a->client_window_bits, 15);
  EXPECT_EQ(answer("permessage-deflate"), kDefault);
  // Firefox
  EXPECT_EQ(answer("permessage-deflate"), kDefault);
}

TEST(WsExtensions, ContextTakeoverWhenConfiguredAndAllowed) {
  const auto a = ws::negotiate_deflate("permessage-deflate; client_max_window_bits", takeover());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response, "permessage-deflate");
  EXPECT_FALSE(a->server_no_context_takeover);
  EXPECT_FALSE(a->client_no_context_takeover);
  EXPECT_EQ(a->client_window_bits, 15);
  // The client may still forbid our takeover, or promise not to use its own.
  const auto b = ws::negotiate_deflate("permessage-deflate; server_no_context_takeover", takeover());
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->server_no_context_takeover);
  EXPECT_FALSE(b->client_no_context_takeover);
  EXPECT_EQ(b->response, "permessage-deflate; server_no_context_takeover");
  const auto c = ws::negotiate_deflate("permessage-deflate; client_no_context_takeover", takeover());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->server_no_context_takeover);
  EXPECT_TRUE(c->client_no_context_takeover);
  EXPECT_EQ(c->response, "permessage-deflate; client_no_context_takeover");
}

TEST(WsExtensions, ServerMaxWindowBits) {
  auto a = ws::negotiate_deflate("permessage-deflate; server_max_window_bits=10", on());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->server_window_bits, 10);
  EXPECT_EQ(a->response, std::string(kDefault) + "; server_max_window_bits=10");
  auto c = on();
  c.server_max_window_bits = 12;
  a = ws::negotiate_deflate("permessage-deflate; server_max_window_bits=14", c);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->server_window_bits, 12);  // the smaller of the two
  EXPECT_EQ(a->response, std::string(kDefault) + "; server_max_window_bits=12");
  // Not offered: our own window, not announced (any window up to 15 is what the client accepts).
  a = ws::negotiate_deflate("permessage-deflate", c);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->server_window_bits, 12);
  EXPECT_EQ(a->response, kDefault);
  // 8: zlib cannot; declined, and the next offer is taken.
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits=8"), "declined");
  EXPECT_EQ(
      answer("permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"),
      std::string(kDefault) + "; server_max_window_bits=9");
}

TEST(WsExtensions, ClientMaxWindowBitsBoundsTheClientsContext) {
  auto c = takeover();
  c.client_max_window_bits = 10;
  auto a = ws::negotiate_deflate("permessage-deflate; client_max_window_bits", c);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->client_no_context_takeover);
  EXPECT_EQ(a->client_window_bits, 10);
  EXPECT_EQ(a->response, "permessage-deflate; client_max_window_bits=10");
  a = ws::negotiate_deflate("permessage-deflate; client_max_window_bits=9", c);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->client_window_bits, 9);
  EXPECT_EQ(a->response, "permessage-deflate; client_max_window_bits=9");
  // A client that did not offer the parameter cannot be bounded: no takeover for it.
  a = ws::negotiate_deflate("permessage-deflate", c);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->client_no_context_takeover);
  EXPECT_EQ(a->response, "permessage-deflate; client_no_context_takeover");
  // Without takeover the client's window does not matter (inflated message by message).
  EXPECT_EQ(answer("permessage-deflate; client_max_window_bits=8"), kDefault);
}

TEST(WsExtensions, InvalidParametersDeclineTheOffer) {
  for (const char* h : {
           "permessage-deflate; foo",                              // unknown
           "permessage-deflate; server_no_context_takeover=1",     // no value allowed
           "permessage-deflate; client_no_context_takeover=true",  //
           "permessage-deflate; server_max_window_bits",           // value required
           "permessage-deflate; server_max_window_bits=16",        // out of range
           "permessage-deflate; server_max_window_bits=7",         //
           "permessage-deflate; server_max_window_bits=08",        // leading zero
           "permessage-deflate; server_max_window_bits=abc",       //
           "permessage-deflate; client_max_window_bits=0",         //
           "permessage-deflate; client_max_window_bits=\"1 0\"",   // not a token once unquoted
           "permessage-deflate; server_no_context_takeover; server_no_context_takeover",  // twice
           "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
       }) {
    EXPECT_EQ(answer(h), "declined") << h;
    // ...but the next offer is still considered.
    EXPECT_EQ(answer(std::string(h) + ", permessage-deflate"), kDefault) << h;
  }
  EXPECT_EQ(answer("permessage-deflate; server_max_window_bits=\"10\""),
            std::string(kDefault) + "; server_max_window_bits=10");  // quoted-string form
}

TEST(WsExtensions, OtherExtensionsAndOddListsAreSkipped) {
  EXPECT_EQ(answer("x-webkit-deflate-frame, permessage-deflate"), kDefault);
  EXPECT_EQ(answer("foo; bar=\"a,b\"; baz, permessage-deflate"), kDefault);  // a comma inside quotes
  EXPECT_EQ(answer(" , ,permessage-deflate ,"), kDefault);
  EXPECT_EQ(answer("PerMessage-Deflate"), kDefault);
  EXPECT_EQ(answer("permessage-deflate ; client_max_window_bits = 10"), kDefault);
  EXPECT_EQ(answer("x-webkit-deflate-frame"), "declined");
  EXPECT_EQ(answer(""), "declined");
}

TEST(WsExtensions, MalformedHeadersAreDeclinedNotFatal) {
  for (const char* h :
       {";;;", "permessage-deflate;", "permessage-deflate; =10", "permessage-deflate x",
        "permessage-deflate; server_max_window_bits=\"10", "permessage-deflate; a=\"\\",
        "\"permessage-deflate\"", "permessage-deflate; server_max_window_bits=", "permessage-deflate\x01"}) {
    EXPECT_EQ(answer(h), "declined") << h;
  }
  // A malformed element does not hide a good one after it.
  EXPECT_EQ(answer("permessage-deflate x, permessage-deflate"), kDefault);
  EXPECT_EQ(answer("permessage-deflate; =10, permessage-deflate"), kDefault);
}
