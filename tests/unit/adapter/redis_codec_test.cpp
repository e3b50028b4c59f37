// The Redis adapter's MessagePack codec. The expected bytes were produced by the real npm
// notepack.io 3.0.1 (the encoder of @socket.io/redis-adapter 8.3 and @socket.io/redis-emitter 5.1),
// so a byte-exact match here means Node nodes read what we write and the other way round.
#include "adapter/redis/msgpack_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace socketio::redis {
namespace {

namespace json = boost::json;

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

Bytes bytes(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

json::value placeholder(int i) {
  return json::parse(R"({"_placeholder":true,"num":)" + std::to_string(i) + "}");
}

// np.encode(["emitter", {type:2, data:["chat message","hi"], nsp:"/"}, {rooms:["room1"], flags:{},
// except:[]}])
constexpr std::string_view kEmitterRoom =
    "93a7656d697474657283a47479706502a46461746192ac63686174206d657373616765a26869a36e7370a12f83a5726f6f6d7391"
    "a5726f"
    "6f6d31a5666c61677380a665786365707490";

// np.encode(["abc123", {type:2, data:["ev", Buffer[1,2,3], {a: Buffer[4], b: [Buffer[]]}], nsp:"/chat"},
//            {rooms:[], except:["x"], flags:{volatile:true, compress:false}}])
constexpr std::string_view kBinary =
    "93a661626331323383a47479706502a46461746193a26576c40301020382a161c40104a16291c400a36e7370a52f6368617483a5"
    "726f6f"
    "6d7390a665786365707491a178a5666c61677382a8766f6c6174696c65c3a8636f6d7072657373c2";

// np.encode(["uid1", {type:2, data:["chat message","hi",{n:1.5,neg:-7,ok:true,nil:null}], nsp:"/"},
//            {rooms:["r1","r2"], except:[], flags:{volatile:true}}])
constexpr std::string_view kMixed =
    "93a47569643183a47479706502a46461746193ac63686174206d657373616765a2686984a16ecb3ff8000000000000a36e6567f9"
    "a26f6b"
    "c3a36e696cc0a36e7370a12f83a5726f6f6d7392a27231a27232a665786365707490a5666c61677381a8766f6c6174696c65c3";

TEST(RedisCodec, DecodesAnEmitterMessage) {
  auto msg = decode_broadcast(unhex(kEmitterRoom));
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->uid, "emitter");
  EXPECT_EQ(msg->packet.type, 2);
  EXPECT_EQ(msg->packet.nsp, "/");
  EXPECT_EQ(json::serialize(msg->packet.data), R"(["chat message","hi"])");
  EXPECT_TRUE(msg->packet.attachments.empty());
  EXPECT_EQ(msg->opts.rooms, std::vector<std::string>{"room1"});
  EXPECT_TRUE(msg->opts.except.empty());
  EXPECT_FALSE(msg->opts.flags.volatile_);
  EXPECT_TRUE(msg->opts.flags.compress);
}

TEST(RedisCodec, EncodesBinaryAsNotepackDoes) {
  OutgoingPacket p;
  p.nsp = "/chat";
  p.data.emplace_back("ev");
  p.data.push_back(placeholder(0));
  json::object o;
  o["a"] = placeholder(1);
  o["b"] = json::array{placeholder(2)};
  p.data.push_back(std::move(o));
  p.attachments = {bytes("\x01\x02\x03"), bytes("\x04"), bytes("")};
  BroadcastOptions opts;
  opts.except = {"x"};
  opts.flags.volatile_ = true;
  opts.flags.compress = false;
  EXPECT_EQ(hex(encode_broadcast("abc123", p, opts)), kBinary);
}

TEST(RedisCodec, DecodesBinaryIntoPlaceholders) {
  auto msg = decode_broadcast(unhex(kBinary));
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->uid, "abc123");
  EXPECT_EQ(msg->packet.nsp, "/chat");
  EXPECT_EQ(
      json::serialize(msg->packet.data),
      R"(["ev",{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1},"b":[{"_placeholder":true,"num":2}]}])");
  ASSERT_EQ(msg->packet.attachments.size(), 3u);
  EXPECT_EQ(*msg->packet.attachments[0], std::string("\x01\x02\x03"));
  EXPECT_EQ(*msg->packet.attachments[1], std::string("\x04"));
  EXPECT_EQ(*msg->packet.attachments[2], std::string());
  EXPECT_EQ(msg->opts.except, std::vector<std::string>{"x"});
  EXPECT_TRUE(msg->opts.flags.volatile_);
  EXPECT_FALSE(msg->opts.flags.compress);
  // And back to the same bytes.
  EXPECT_EQ(hex(encode_broadcast(msg->uid, msg->packet, msg->opts)), kBinary);
}

TEST(RedisCodec, EncodesMixedValuesAsNotepackDoes) {
  OutgoingPacket p;
  p.data = json::parse(R"(["chat message","hi",{"n":1.5,"neg":-7,"ok":true,"nil":null}])").as_array();
  BroadcastOptions opts;
  opts.rooms = {"r1", "r2"};
  opts.flags.volatile_ = true;
  EXPECT_EQ(hex(encode_broadcast("uid1", p, opts)), kMixed);
}

TEST(RedisCodec, NumbersUseTheSmallestEncodingLikeNotepack) {
  // np.encode([0,127,128,255,256,65535,65536,4294967295,4294967296,-1,-32,-33,-128,-129,-32768,-32769,
  //            -2147483648,-2147483649,1.5,-0.25,true,false,null])
  constexpr std::string_view expected =
      "dc0017007fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000ffe0d0dfd080d1ff7fd18000d2ffff7fff"
      "d2800000"
      "00d3ffffffff7fffffffcb3ff8000000000000cbbfd0000000000000c3c2c0";
  auto v = json::parse(
      "[0,127,128,255,256,65535,65536,4294967295,4294967296,-1,-32,-33,-128,-129,-32768,-32769,-2147483648,"
      "-2147483649,1.5,-0.25,true,false,null]");
  std::string out;
  encode_msgpack(out, v, {});
  EXPECT_EQ(hex(out), expected);
  // JS has one number type: an integral double is an integer on the wire.
  out.clear();
  encode_msgpack(out, json::value(3.0), {});
  EXPECT_EQ(hex(out), "03");
  std::vector<Bytes> att;
  auto back = decode_msgpack(unhex(expected), att);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, v);
}

TEST(RedisCodec, StringsUseFixstrThenStr8) {
  // np.encode(["", "x".repeat(31), "x".repeat(32), "héllo"])
  constexpr std::string_view expected =
      "94a0bf78787878787878787878787878787878787878787878787878787878787878d920787878787878787878787878787878"
      "7878787878"
      "787878787878787878787878a668c3a96c6c6f";
  json::array a{"", std::string(31, 'x'), std::string(32, 'x'), "h\xc3\xa9llo"};
  std::string out;
  encode_msgpack(out, a, {});
  EXPECT_EQ(hex(out), expected);
}

TEST(RedisCodec, Bin16ForLargerBuffers) {
  // np.encode({big: Buffer.alloc(300, 7)}) starts with 81 a3 626967 c5 012c 07...
  json::object o;
  o["big"] = placeholder(0);
  std::string out;
  encode_msgpack(out, o, {bytes(std::string(300, '\x07'))});
  EXPECT_EQ(hex(out.substr(0, 15)), "81a3626967c5012c07070707070707");
  EXPECT_EQ(out.size(), 1 + 4 + 3 + 300u);
}

TEST(RedisCodec, UndefinedAndDatesFromNode) {
  std::vector<Bytes> att;
  // np.encode({a: undefined, b: 1, c: [undefined]}): undefined keys vanish, array holes are nil.
  auto v = decode_msgpack(unhex("82a16201a16391c0"), att);
  ASSERT_TRUE(v);
  EXPECT_EQ(json::serialize(*v), R"({"b":1,"c":[null]})");
  // np.encode(new Date(1700000000000)): the timestamp extension, read as null.
  v = decode_msgpack(unhex("d6ff6553f100"), att);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->is_null());
}

TEST(RedisCodec, RejectsMalformedInput) {
  std::vector<Bytes> att;
  const std::string good = unhex(kEmitterRoom);
  EXPECT_FALSE(decode_msgpack("", att));
  for (std::size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(decode_broadcast(good.substr(0, n))) << n;
  EXPECT_FALSE(decode_msgpack(good + "\xc0", att)) << "trailing bytes";
  EXPECT_FALSE(decode_broadcast(unhex("c0")));
  EXPECT_FALSE(decode_broadcast(unhex("92a17880"))) << "too short";
  EXPECT_FALSE(decode_msgpack(unhex("81c0c0"), att)) << "nil map key";
  std::string deep(100, '\x91');
  deep.push_back('\xc0');
  EXPECT_FALSE(decode_msgpack(deep, att)) << "nesting limit";
  DecodeLimits limits;
  limits.max_attachments = 1;
  std::vector<Bytes> att2;
  EXPECT_FALSE(decode_msgpack(unhex("92c40101c40102"), att2, limits)) << "attachment limit";
  EXPECT_FALSE(decode_msgpack(unhex("dd7fffffff"), att)) << "claims a huge array";
}

TEST(RedisCodec, PlaceholderOutOfRangeStaysAMap) {
  std::string out;
  encode_msgpack(out, placeholder(3), {bytes("a")});
  EXPECT_EQ(out[0], '\x82');
}

TEST(RedisCodec, OptionsRoundTrip) {
  BroadcastOptions o;
  o.rooms = {"a"};
  o.except = {"b", "c"};
  o.flags.timeout = std::chrono::milliseconds(1500);
  o.flags.local = true;
  auto back = options_from_json(options_to_json(o, true));
  EXPECT_EQ(back.rooms, o.rooms);
  EXPECT_EQ(back.except, o.except);
  EXPECT_TRUE(back.flags.local);
  ASSERT_TRUE(back.flags.timeout);
  EXPECT_EQ(back.flags.timeout->count(), 1500);
  // Node allows numeric room names.
  auto num = options_from_json(json::parse(R"({"rooms":[42,"x"],"except":[]})"));
  EXPECT_EQ(num.rooms, (std::vector<std::string>{"42", "x"}));
}

TEST(RedisCodec, NumbersFromRedisAreCheckedBeforeUse) {
  EXPECT_EQ(checked_uint(nullptr, 10), std::nullopt);
  const json::value ok = 7, neg = -1, big = 11, frac = 2.5, integral = 3.0, huge = 1e300, str = "3";
  const json::value nan = std::numeric_limits<double>::quiet_NaN(), u64 = std::uint64_t(1) << 63;
  EXPECT_EQ(checked_uint(&ok, 10), 7u);
  EXPECT_EQ(checked_uint(&integral, 10), 3u);
  EXPECT_EQ(checked_uint(&neg, 10), std::nullopt);
  EXPECT_EQ(checked_uint(&big, 10), std::nullopt);
  EXPECT_EQ(checked_uint(&frac, 10), std::nullopt);
  EXPECT_EQ(checked_uint(&huge, ~std::uint64_t(0)), std::nullopt);
  EXPECT_EQ(checked_uint(&nan, 10), std::nullopt);
  EXPECT_EQ(checked_uint(&str, 10), std::nullopt);
  EXPECT_EQ(checked_uint(&u64, 10), std::nullopt);

  // A timeout flag Node could not honour (negative, NaN-like, past setTimeout's ceiling) is absent.
  for (const char* bad : {R"({"flags":{"timeout":-5}})", R"({"flags":{"timeout":1e300}})",
                          R"({"flags":{"timeout":4294967296}})", R"({"flags":{"timeout":"10"}})"})
    EXPECT_FALSE(options_from_json(json::parse(bad)).flags.timeout) << bad;
  EXPECT_EQ(options_from_json(json::parse(R"({"flags":{"timeout":2500.0}})")).flags.timeout->count(), 2500);
}

TEST(RedisCodec, PlaceholdersNamingNoAttachmentAreDropped) {
  // [uid, {type: 2, data: ["e", bin 01, {_placeholder: true, num: 7}], nsp: "/"}, {}]: the second
  // "placeholder" names no attachment; relayed in a BINARY_EVENT it would kill every client.
  std::string bytes;
  json::value forged = json::parse(R"({"_placeholder":true,"num":7})");
  json::array data{"e", json::parse(R"({"_placeholder":true,"num":0})"), forged};
  std::vector<Bytes> att{std::make_shared<const std::string>("\x01")};
  OutgoingPacket p;
  p.data = data;
  p.attachments = att;
  // The encoder writes the real one as bin and the forged one as a map.
  bytes = encode_broadcast("u", p, {});
  auto msg = decode_broadcast(bytes);
  ASSERT_TRUE(msg);
  EXPECT_EQ(json::serialize(msg->packet.data), R"(["e",{"_placeholder":true,"num":0},null])");
  EXPECT_EQ(msg->packet.attachments.size(), 1u);

  // Without any bin the message is relayed as a plain EVENT, where such a map is only data.
  json::value plain = json::parse(R"(["e",{"_placeholder":true,"num":7}])");
  EXPECT_EQ(drop_invalid_placeholders(plain, 0), 1u);
  json::value valid = json::parse(R"(["e",{"_placeholder":true,"num":1},{"_placeholder":true,"num":-1}])");
  EXPECT_EQ(drop_invalid_placeholders(valid, 2), 1u);
  EXPECT_EQ(json::serialize(valid), R"(["e",{"_placeholder":true,"num":1},null])");
}

}  // namespace
}  // namespace socketio::redis
