// socket.io-msgpack-parser 3.0.2 wire format: golden bytes produced by that package's Encoder
// (notepack.io 2.2) from the objects socket.io 4.8 builds, and the decoder's validation.
#include "sio/parser/msgpack_packet.hpp"
#include "sio/encode.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <string>

namespace socketio::sio {
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

std::string enc(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id,
                const json::array& data, const std::vector<Bytes>& att = {}) {
  std::string out;
  encode_msgpack_packet(type, nsp, id, data, att, out);
  return hex(out);
}

std::string enc_simple(PacketType type, std::string_view nsp, const json::value* data) {
  std::string out;
  encode_msgpack_packet(type, nsp, std::nullopt, data, {}, out);
  return hex(out);
}

// Generated with tests/node_modules/socket.io-msgpack-parser: new Encoder().encode(packet).
TEST(MsgpackPacket, EncodesLikeTheReference) {
  EXPECT_EQ(enc(PacketType::event, "/", std::nullopt,
                json::parse(R"(["hello",1,-5,1.5,true,null,{"a":"b"}])").as_array()),
            "83a47479706502a46461746197a568656c6c6f01fbcb3ff8000000000000c3c081a161a162a36e7370a12f");
  EXPECT_EQ(enc(PacketType::event, "/chat", 7, json::array{"ev"}),
            "84a47479706502a46461746191a26576a2696407a36e7370a52f63686174");
  json::array bin{"bin", make_placeholder(0)};
  EXPECT_EQ(enc(PacketType::binary_event, "/", std::nullopt, bin, {bytes("\x01\x02\x03")}),
            "83a47479706502a46461746192a362696ec403010203a36e7370a12f");
  json::array ack{"ok", make_placeholder(0)};
  const std::string ack_hex = enc(PacketType::ack, "/", 300, ack, {bytes(std::string(300, '\x07'))});
  EXPECT_EQ(ack_hex.substr(0, 40), "84a26964cd012ca47479706503a46461746192a2");
  EXPECT_EQ(ack_hex.substr(ack_hex.size() - 14), "07a36e7370a12f");
  EXPECT_EQ(ack_hex.size(), 2u * (1 + 3 + 3 + 5 + 1 + 5 + 1 + 3 + 3 + 300 + 4 + 2));
  EXPECT_EQ(
      enc(PacketType::event, "/", std::nullopt,
          json::parse(
              R"(["n",70000,4294967296,-200,-40000,-3000000000,"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"])")
              .as_array()),
      "83a47479706502a46461746197a16ece00011170cf0000000100000000d1ff38d2ffff63c0d3ffffffff4d2fa200d928" +
          std::string(80, '7').replace(0, 80,
                                       [] {
                                         std::string s;
                                         for (int i = 0; i < 40; ++i) s += "78";
                                         return s;
                                       }()) +
          "a36e7370a12f");
  const json::value sid = {{"sid", "abc"}};
  EXPECT_EQ(enc_simple(PacketType::connect, "/", &sid),
            "83a47479706500a46461746182a3736964a3616263a3706964d40000a36e7370a12f");
  const json::value err = {{"message", "Invalid namespace"}};
  EXPECT_EQ(enc_simple(PacketType::connect_error, "/nope", &err).substr(0, 16), "83a47479706504a4");
  EXPECT_EQ(enc_simple(PacketType::disconnect, "/", nullptr), "82a47479706501a36e7370a12f");
}

TEST(MsgpackPacket, DecodesWhatClientsSend) {
  Packet p;
  std::vector<Bytes> att;
  // A browser's ArrayBuffer (notepack's ext type 0) and a Node Buffer (bin) both become attachments.
  ASSERT_FALSE(
      decode_msgpack_packet(unhex("83a47479706502a46461746192a162c702000908a36e7370a12f"), p, att, {}));
  EXPECT_EQ(p.type, PacketType::event);
  EXPECT_EQ(p.nsp, "/");
  ASSERT_EQ(att.size(), 1u);
  EXPECT_EQ(*att[0], std::string("\x09\x08", 2));
  EXPECT_EQ(json::serialize(p.data), R"(["b",{"_placeholder":true,"num":0}])");
  EXPECT_FALSE(p.id);
  // `id: undefined` is no id.
  ASSERT_FALSE(
      decode_msgpack_packet(unhex("84a47479706502a46461746191a178a36e7370a12fa26964d40000"), p, att, {}));
  EXPECT_FALSE(p.id);
  EXPECT_TRUE(att.empty());
  // Round trip of what we encode, ack id included.
  std::string out;
  encode_msgpack_packet(PacketType::ack, "/x", 42, json::array{"a", make_placeholder(0)}, {bytes("zz")}, out);
  ASSERT_FALSE(decode_msgpack_packet(out, p, att, {}));
  EXPECT_EQ(p.type, PacketType::ack);
  EXPECT_EQ(p.nsp, "/x");
  EXPECT_EQ(p.id, 42u);
  ASSERT_EQ(att.size(), 1u);
  EXPECT_EQ(*att[0], "zz");
  // CONNECT with and without auth.
  ASSERT_FALSE(decode_msgpack_packet(unhex("82a47479706500a36e7370a12f"), p, att, {}));
  EXPECT_EQ(p.type, PacketType::connect);
  EXPECT_TRUE(p.data.is_null());
  ASSERT_FALSE(decode_msgpack_packet(unhex("83a47479706500a46461746181a174a178a36e7370a12f"), p, att, {}));
  EXPECT_EQ(json::serialize(p.data), R"({"t":"x"})");
}

std::error_code dec(std::string_view h, Limits limits = {}) {
  Packet p;
  std::vector<Bytes> att;
  return decode_msgpack_packet(unhex(h), p, att, limits);
}

TEST(MsgpackPacket, ValidatesLikeTheReference) {
  EXPECT_EQ(dec(""), ParseError::empty);
  EXPECT_EQ(dec("c0"), ParseError::bad_msgpack) << "not a map";
  EXPECT_EQ(dec("82a47479706502a36e7370"), ParseError::bad_msgpack) << "truncated";
  EXPECT_EQ(dec("81a36e7370a12fc0"), ParseError::bad_msgpack) << "trailing bytes";
  EXPECT_EQ(dec("81a36e7370a12f"), ParseError::unknown_type) << "no type";
  EXPECT_EQ(dec("82a47479706505a36e7370a12f"), ParseError::unknown_type)
      << "BINARY_EVENT is not a msgpack type";
  EXPECT_EQ(dec("82a474797065ffa36e7370a12f"), ParseError::unknown_type) << "negative";
  EXPECT_EQ(dec("82a474797065a132a36e7370a12f"), ParseError::unknown_type) << "string type";
  EXPECT_EQ(dec("82a474797065cb3ff8000000000000a36e7370a12f"), ParseError::unknown_type) << "1.5";
  EXPECT_FALSE(dec("82a474797065cb3ff0000000000000a36e7370a12f")) << "1.0 is an integer to JS";
  EXPECT_EQ(dec("81a47479706500"), ParseError::bad_namespace) << "no nsp";
  EXPECT_EQ(dec("82a47479706500a36e737001"), ParseError::bad_namespace) << "numeric nsp";
  EXPECT_EQ(dec("82a47479706502a36e7370a12f"), ParseError::invalid_payload) << "EVENT without data";
  EXPECT_EQ(dec("83a47479706502a46461746101a36e7370a12f"), ParseError::invalid_payload)
      << "EVENT data not an array";
  EXPECT_EQ(dec("83a47479706502a46461746190a36e7370a12f"), ParseError::invalid_payload) << "EVENT []";
  EXPECT_EQ(dec("83a47479706503a46461746101a36e7370a12f"), ParseError::invalid_payload)
      << "ACK data not an array";
  EXPECT_EQ(dec("83a47479706500a464617461c0a36e7370a12f"), ParseError::invalid_payload)
      << "CONNECT data null";
  EXPECT_EQ(dec("83a47479706501a46461746180a36e7370a12f"), ParseError::invalid_payload)
      << "DISCONNECT with data";
  EXPECT_EQ(dec("84a47479706502a46461746191a178a36e7370a12fa26964a131"), ParseError::bad_ack_id)
      << "string id";
  EXPECT_EQ(dec("84a47479706502a46461746191a178a36e7370a12fa26964ff"), ParseError::bad_ack_id)
      << "negative id";
  EXPECT_EQ(dec("83a47479706500a464617461c702000908a36e7370a12f"), ParseError::invalid_payload)
      << "CONNECT data binary";
  // {"_placeholder":true,"num":0} sent as a map would become binary when relayed.
  EXPECT_EQ(dec("83a47479706502a46461746192a17882ac5f706c616365686f6c646572c3a36e756d00a36e7370a12f"),
            ParseError::bad_msgpack);
  // Unknown keys are ignored, like the reference.
  EXPECT_FALSE(dec("83a47479706501a36e7370a12fa178c0"));
}

TEST(MsgpackPacket, Limits) {
  Limits small;
  small.max_packet_size = 10;
  EXPECT_EQ(dec("83a47479706502a46461746191a178a36e7370a12f", small), ParseError::too_large);
  Limits one;
  one.max_attachments = 1;
  EXPECT_EQ(dec("83a47479706502a46461746193a178c40101c40102a36e7370a12f", one), ParseError::bad_msgpack);
  EXPECT_FALSE(dec("83a47479706502a46461746192a178c40101a36e7370a12f", one));
  Limits shallow;
  shallow.max_depth = 3;
  EXPECT_FALSE(dec("83a47479706502a46461746192a17891c0a36e7370a12f", shallow));
  EXPECT_EQ(dec("83a47479706502a46461746192a178919191c0a36e7370a12f", shallow), ParseError::bad_msgpack);
  // A map claiming 2^32-1 entries in 5 bytes is refused by the structure check, not allocated.
  EXPECT_EQ(dec("dfffffffff"), ParseError::bad_msgpack);
}

TEST(MsgpackPacket, StringsMustBeUtf8) {
  // ["\xff"] and [{"\xff": null}]: relayed to JSON clients as text, invalid UTF-8 would make their
  // WebSocket close (1007); refused like any malformed packet.
  EXPECT_EQ(dec("83a47479706502a46461746191a1ffa36e7370a12f"), ParseError::bad_msgpack);
  EXPECT_EQ(dec("83a47479706502a4646174619181a1ffc0a36e7370a12f"), ParseError::bad_msgpack);
  EXPECT_FALSE(dec("83a47479706502a46461746191a3e282aca36e7370a12f"));  // ["€"]
}

TEST(MultiEncoded, EncodesOnlyTheFormatsInTheSet) {
  const json::array data{"ev", 1};
  const MultiEncoded json_only(format_bit(WireFormat::json_v5), "/", data, {}, std::nullopt);
  ASSERT_NE(json_only.get(WireFormat::json_v5), nullptr);
  EXPECT_EQ(*json_only.get(WireFormat::json_v5)->head, R"(2["ev",1])");
  EXPECT_FALSE(json_only.get(WireFormat::json_v5)->head_binary);
  EXPECT_EQ(json_only.get(WireFormat::msgpack_v5), nullptr);

  const MultiEncoded both(format_bit(WireFormat::json_v5) | format_bit(WireFormat::msgpack_v5), "/", data, {},
                          3);
  ASSERT_NE(both.get(WireFormat::msgpack_v5), nullptr);
  EXPECT_TRUE(both.get(WireFormat::msgpack_v5)->head_binary);
  EXPECT_TRUE(both.get(WireFormat::msgpack_v5)->attachments.empty());
  EXPECT_EQ(hex(*both.get(WireFormat::msgpack_v5)->head),
            "84a47479706502a46461746192a2657601a2696403a36e7370a12f");
  EXPECT_EQ(*both.get(WireFormat::json_v5)->head, R"(23["ev",1])");

  const MultiEncoded none(0, PacketType::disconnect, "/", nullptr);
  EXPECT_EQ(none.get(WireFormat::json_v5), nullptr);
  EXPECT_EQ(none.get(WireFormat::msgpack_v5), nullptr);
}

TEST(MultiEncoded, BinaryStaysInlineForMsgpackAndAttachedForJson) {
  const json::array data{"f", make_placeholder(0)};
  const std::vector<Bytes> att{bytes("\xff")};
  const MultiEncoded both(format_bit(WireFormat::json_v5) | format_bit(WireFormat::msgpack_v5), "/", data,
                          att, std::nullopt);
  EXPECT_EQ(*both.get(WireFormat::json_v5)->head, R"(51-["f",{"_placeholder":true,"num":0}])");
  EXPECT_EQ(both.get(WireFormat::json_v5)->attachments.size(), 1u);
  EXPECT_EQ(hex(*both.get(WireFormat::msgpack_v5)->head), "83a47479706502a46461746192a166c401ffa36e7370a12f");
}

}  // namespace
}  // namespace socketio::sio
