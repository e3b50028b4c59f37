#include "core/base64.hpp"
#include "core/id.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

namespace {

using socketio::core::base64_decode;
using socketio::core::base64_encode;

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded) << plain;
    const auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain) << encoded;
  }
}

TEST(Base64, EngineIoExample) {
  EXPECT_EQ(base64_encode(std::string("\x01\x02\x03\x04", 4)), "AQIDBA==");
  EXPECT_EQ(base64_decode("AQIDBA=="), std::string("\x01\x02\x03\x04", 4));
}

TEST(Base64, EncodeAppends) {
  std::string out = "b";
  base64_encode("foo", out);
  EXPECT_EQ(out, "bZm9v");
  base64_encode("", out);
  EXPECT_EQ(out, "bZm9v");
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::mt19937 rng(12345);
  for (std::size_t n = 0; n < 200; ++n) {
    const std::string in = random_bytes(rng, n);
    const std::string enc = base64_encode(in);
    EXPECT_EQ(enc.size(), 4 * ((n + 2) / 3));
    const auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << n;
    EXPECT_EQ(*dec, in) << n;
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
  // Embedded NULs must not truncate either direction.
  const std::string nuls(7, '\0');
  EXPECT_EQ(base64_encode(nuls), "AAAAAAAAAA==");
  EXPECT_EQ(base64_decode("AAAAAAAAAA=="), nuls);
}

TEST(Base64, StrictRejects) {
  const char* bad[] = {
      "Zg",        // not a multiple of 4
      "Zg=",       // not a multiple of 4
      "Zm9vY",     // not a multiple of 4
      "Zm9*",      // outside the alphabet
      "Zm 9",      // whitespace
      "Zm9v\n",    // trailing newline
      "Zm-_",      // base64url is not accepted
      "Z===",      // three padding characters
      "====",      // only padding
      "Zm=v",      // data after padding
      "Zg==Zg==",  // padding in the middle
      "AB=C",      // '=' not at the end
  };
  for (const char* s : bad) EXPECT_FALSE(base64_decode(s).has_value()) << s;
  EXPECT_FALSE(base64_decode(std::string_view("Zm9\0", 4)).has_value());
  EXPECT_FALSE(base64_decode("Zm9\xc3").has_value());
}

TEST(Base64, EmptyDecodesToEmpty) {
  const auto d = base64_decode("");
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->empty());
}

bool is_base64url(const std::string& s) {
  for (char c : s) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

TEST(Id, SessionIdCarriesShard) {
  for (std::size_t shard = 0; shard < socketio::core::kMaxShards; ++shard) {
    const std::string sid = socketio::core::make_session_id(shard);
    EXPECT_EQ(sid.size(), 20u);
    EXPECT_TRUE(is_base64url(sid)) << sid;
    const auto back = socketio::core::session_shard(sid);
    ASSERT_TRUE(back.has_value()) << sid;
    EXPECT_EQ(*back, shard);
  }
}

TEST(Id, SessionIdShardWrapsModuloMax) {
  const auto sid = socketio::core::make_session_id(socketio::core::kMaxShards + 3);
  EXPECT_EQ(socketio::core::session_shard(sid), 3u);
}

TEST(Id, SessionIdsAreRandom) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(socketio::core::make_session_id(0));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Id, SessionShardRejectsMalformed) {
  const std::string good = socketio::core::make_session_id(5);
  ASSERT_TRUE(socketio::core::session_shard(good).has_value());
  EXPECT_FALSE(socketio::core::session_shard("").has_value());
  EXPECT_FALSE(socketio::core::session_shard(good.substr(0, 19)).has_value());
  EXPECT_FALSE(socketio::core::session_shard(good + "A").has_value());
  for (char c : std::string("+/= .~\x7f\xc3")) {
    for (std::size_t pos : {std::size_t{0}, std::size_t{10}, std::size_t{19}}) {
      std::string bad = good;
      bad[pos] = c;
      EXPECT_FALSE(socketio::core::session_shard(bad).has_value()) << pos << " " << int(c);
    }
  }
  std::string with_nul = good;
  with_nul[7] = '\0';
  EXPECT_FALSE(socketio::core::session_shard(with_nul).has_value());
}

TEST(Id, SessionShardOfKnownIds) {
  EXPECT_EQ(socketio::core::session_shard("AAAAAAAAAAAAAAAAAAAA"), 0u);
  EXPECT_EQ(socketio::core::session_shard("_AAAAAAAAAAAAAAAAAAA"), 63u);
  EXPECT_EQ(socketio::core::session_shard("-zzzzzzzzzzzzzzzzzzz"), 62u);
  EXPECT_EQ(socketio::core::session_shard("baaaaaaaaaaaaaaaaaaa"), 27u);
}

TEST(Id, RandomIds) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = socketio::core::make_random_id();
    EXPECT_EQ(id.size(), 20u);
    EXPECT_TRUE(is_base64url(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
