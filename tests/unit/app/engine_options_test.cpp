// The Engine.IO parity flags of socketio-server (--parser, --cookie*, --per-message-deflate*) and
// engine.io's cookie format.
#include "config.hpp"
#include "socketio/engine.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace {

using socketio::app::parse_command_line;

socketio::app::ParseResult parse(std::vector<const char*> args, std::string* err_text = nullptr) {
  args.insert(args.begin(), "socketio-server");
  std::ostringstream out, err;
  auto r = parse_command_line(static_cast<int>(args.size()), args.data(), out, err);
  if (err_text) *err_text = err.str();
  return r;
}

TEST(EngineFlags, Parser) {
  auto r = parse({});
  ASSERT_TRUE(r.settings);
  EXPECT_EQ(r.settings->server.parser, socketio::Parser::json);
  r = parse({"--parser", "msgpack"});
  ASSERT_TRUE(r.settings);
  EXPECT_EQ(r.settings->server.parser, socketio::Parser::msgpack);
  std::string err;
  r = parse({"--parser", "protobuf"}, &err);
  EXPECT_FALSE(r.settings);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(err.find("protobuf"), std::string::npos) << err;
}

TEST(EngineFlags, Cookie) {
  auto r = parse({});
  ASSERT_TRUE(r.settings);
  EXPECT_FALSE(r.settings->server.cookie);
  r = parse({"--cookie"});
  ASSERT_TRUE(r.settings && r.settings->server.cookie);
  EXPECT_EQ(socketio::serialize_cookie(*r.settings->server.cookie, "abc"),
            "io=abc; Path=/; HttpOnly; SameSite=Lax");
  r = parse({"--cookie-name", "lb", "--cookie-path", "", "--cookie-same-site", "false"});
  ASSERT_TRUE(r.settings && r.settings->server.cookie) << "--cookie-* imply --cookie";
  EXPECT_EQ(socketio::serialize_cookie(*r.settings->server.cookie, "abc"), "lb=abc; HttpOnly");
  r = parse({"--cookie-same-site", "Strict"});
  ASSERT_TRUE(r.settings && r.settings->server.cookie);
  EXPECT_EQ(r.settings->server.cookie->same_site, "strict");
  std::string err;
  EXPECT_FALSE(parse({"--cookie-same-site", "sometimes"}, &err).settings);
  EXPECT_FALSE(parse({"--cookie-name", "a b"}, &err).settings);
  EXPECT_FALSE(parse({"--cookie", "--cookie=false"}).settings->server.cookie);
}

TEST(EngineFlags, PerMessageDeflate) {
  auto r = parse({});
  ASSERT_TRUE(r.settings);
  const auto& d = r.settings->server.per_message_deflate;
  EXPECT_FALSE(d.enabled);  // off by default, as engine.io
  EXPECT_EQ(d.threshold, 1024u);
  EXPECT_TRUE(d.server_no_context_takeover);
  EXPECT_TRUE(d.client_no_context_takeover);
  EXPECT_EQ(d.server_max_window_bits, 15);
  EXPECT_EQ(d.client_max_window_bits, 15);
  EXPECT_EQ(d.mem_level, 8);
  EXPECT_EQ(d.level, 6);
  r = parse({"--per-message-deflate", "--per-message-deflate-threshold", "0",
             "--per-message-deflate-server-no-context-takeover=false",
             "--per-message-deflate-client-no-context-takeover=false",
             "--per-message-deflate-server-max-window-bits", "10",
             "--per-message-deflate-client-max-window-bits=8", "--per-message-deflate-mem-level", "1",
             "--per-message-deflate-level", "9"});
  ASSERT_TRUE(r.settings);
  const auto& e = r.settings->server.per_message_deflate;
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.threshold, 0u);
  EXPECT_FALSE(e.server_no_context_takeover);
  EXPECT_FALSE(e.client_no_context_takeover);
  EXPECT_EQ(e.server_max_window_bits, 10);
  EXPECT_EQ(e.client_max_window_bits, 8);
  EXPECT_EQ(e.mem_level, 1);
  EXPECT_EQ(e.level, 9);
  EXPECT_FALSE(parse({"--per-message-deflate=false"}).settings->server.per_message_deflate.enabled);
  std::string err;
  // zlib makes no raw deflate stream with an 8-bit window: the server's window starts at 9.
  EXPECT_FALSE(parse({"--per-message-deflate-server-max-window-bits", "8"}, &err).settings);
  EXPECT_NE(err.find("--per-message-deflate-server-max-window-bits"), std::string::npos) << err;
  EXPECT_FALSE(parse({"--per-message-deflate-client-max-window-bits", "16"}).settings);
  EXPECT_FALSE(parse({"--per-message-deflate-mem-level", "0"}).settings);
  EXPECT_FALSE(parse({"--per-message-deflate-level", "10"}).settings);
  EXPECT_FALSE(parse({"--per-message-deflate=sometimes"}).settings);
}

TEST(EngineCookie, SerializesLikeTheCookiePackage) {
  // cookie@0.7.2: serialize("io", "a b/é", {maxAge: 60, domain: "x.test", path: "/p", httpOnly: true,
  // secure: true, partitioned: true, sameSite: "none"})
  socketio::CookieOptions o;
  o.max_age = std::chrono::seconds(60);
  o.domain = "x.test";
  o.path = "/p";
  o.secure = true;
  o.partitioned = true;
  o.same_site = "none";
  EXPECT_EQ(
      socketio::serialize_cookie(o, "a b/\xc3\xa9"),
      "io=a%20b%2F%C3%A9; Max-Age=60; Domain=x.test; Path=/p; HttpOnly; Secure; Partitioned; SameSite=None");
}

}  // namespace
