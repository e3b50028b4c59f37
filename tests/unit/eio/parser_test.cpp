#include "eio/parser/packet.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

namespace socketio::eio {

// Found by argument-dependent lookup from GoogleTest's and std::vector's comparisons.
bool operator==(const Packet& a, const Packet& b) {
  return a.type == b.type && a.binary == b.binary && a.data == b.data;
}

std::ostream& operator<<(std::ostream& os, const Packet& p) {
  return os << "{type=" << int(p.type) << " binary=" << p.binary << " data=" << testing::PrintToString(p.data)
            << "}";
}

}  // namespace socketio::eio

namespace {

using namespace std::string_literals;
using socketio::eio::Limits;
using socketio::eio::Packet;
using socketio::eio::PacketType;
using socketio::eio::PacketView;
using socketio::eio::ParseError;

const std::string kBytes1234 = "\x01\x02\x03\x04"s;
const std::string kEmoji = "\xF0\x9F\x98\x80";  // U+1F600, a surrogate pair in UTF-16
const std::string kEAcute = "\xC3\xA9";         // U+00E9
const std::string kEuro = "\xE2\x82\xAC";       // U+20AC

Packet text(PacketType t, std::string data) {
  return Packet{t, false, std::move(data)};
}
Packet binary(std::string data) {
  return Packet{PacketType::message, true, std::move(data)};
}

std::vector<PacketView> views(const std::vector<Packet>& packets) {
  std::vector<PacketView> v;
  for (const Packet& p : packets) v.push_back({p.type, p.binary, p.data});
  return v;
}

std::error_code decode_one(std::string_view s, Packet& p) {
  return socketio::eio::decode_packet(s, p);
}

std::error_code decode_v4(std::string_view body, std::vector<Packet>& out, Limits limits = {}) {
  return socketio::eio::decode_payload(body, out, limits);
}

std::error_code decode_v3(std::string_view body, std::vector<Packet>& out, Limits limits = {}) {
  return socketio::eio::decode_payload_v3(body, false, out, limits);
}

std::error_code decode_xhr2(std::string_view body, std::vector<Packet>& out, Limits limits = {}) {
  return socketio::eio::decode_payload_v3(body, true, out, limits);
}

// One XHR2 frame: flag, the length as raw digit bytes, 0xFF, then the bytes.
std::string xhr2(char flag, std::string_view bytes) {
  std::string out(1, flag);
  for (char c : std::to_string(bytes.size())) out += static_cast<char>(c - '0');
  out += '\xFF';
  out += bytes;
  return out;
}

// --- error category ----------------------------------------------------------------------

TEST(EioParseError, CategoryAndMessages) {
  EXPECT_STREQ(socketio::eio::parse_category().name(), "engine.io parser");
  std::set<std::string> messages;
  for (int e = 0; e <= static_cast<int>(ParseError::bad_binary_frame); ++e) {
    const std::error_code ec = static_cast<ParseError>(e);
    EXPECT_EQ(&ec.category(), &socketio::eio::parse_category());
    EXPECT_EQ(ec.value(), e);
    EXPECT_FALSE(ec.message().empty());
    EXPECT_EQ(ec.message().find("unknown engine.io parser error"), std::string::npos) << e;
    messages.insert(ec.message());
  }
  EXPECT_EQ(messages.size(), 8u);
  EXPECT_FALSE(std::error_code(ParseError::ok));
  EXPECT_TRUE(std::error_code(ParseError::empty_packet));
  EXPECT_EQ(socketio::eio::make_error_code(ParseError::bad_length), std::error_code(ParseError::bad_length));
  EXPECT_EQ(std::error_code(ParseError::payload_too_large).message(), "payload too large");
  EXPECT_FALSE(socketio::eio::parse_category().message(99).empty());
}

// --- single packets ------------------------------------------------------------------------

TEST(EioDecodePacket, EveryType) {
  const std::pair<std::string, Packet> cases[] = {
      {R"(0{"sid":"abc"})", text(PacketType::open, R"({"sid":"abc"})")},
      {"1", text(PacketType::close, "")},
      {"2", text(PacketType::ping, "")},
      {"2probe", text(PacketType::ping, "probe")},
      {"3probe", text(PacketType::pong, "probe")},
      {"4hello", text(PacketType::message, "hello")},
      {"4", text(PacketType::message, "")},
      {"5", text(PacketType::upgrade, "")},
      {"6", text(PacketType::noop, "")},
  };
  for (const auto& [in, expected] : cases) {
    Packet p;
    ASSERT_FALSE(decode_one(in, p)) << in;
    EXPECT_EQ(p, expected) << in;
  }
}

TEST(EioDecodePacket, KeepsDataBytesAsIs) {
  Packet p;
  const std::string in = "4" + kEAcute + kEmoji + "\x1e\0\xff"s;
  ASSERT_FALSE(decode_one(in, p));
  EXPECT_EQ(p, text(PacketType::message, in.substr(1)));
}

TEST(EioDecodePacket, Base64Binary) {
  Packet p;
  ASSERT_FALSE(decode_one("bAQIDBA==", p));
  EXPECT_EQ(p, binary(kBytes1234));
  ASSERT_FALSE(decode_one("b", p));
  EXPECT_EQ(p, binary(""));
}

TEST(EioDecodePacket, Errors) {
  Packet p;
  EXPECT_EQ(decode_one("", p), ParseError::empty_packet);
  for (const char* s : {"7", "9hello", "x", "/", " 4", "B", "-1"}) {
    EXPECT_EQ(decode_one(s, p), ParseError::unknown_type) << s;
  }
  EXPECT_EQ(decode_one("bAQID*", p), ParseError::bad_base64);
  EXPECT_EQ(decode_one("bAQI", p), ParseError::bad_base64);
  // The v3 form is not v4: "4AQIDBA==" is not base64 of anything.
  EXPECT_EQ(decode_one("b4AQIDBA==", p), ParseError::bad_base64);
}

TEST(EioDecodePacketV3, Base64CarriesType) {
  Packet p;
  ASSERT_FALSE(socketio::eio::decode_packet_v3("b4AQIDBA==", p));
  EXPECT_EQ(p, binary(kBytes1234));
  ASSERT_FALSE(socketio::eio::decode_packet_v3("b4", p));
  EXPECT_EQ(p, binary(""));
  ASSERT_FALSE(socketio::eio::decode_packet_v3("4hi", p));
  EXPECT_EQ(p, text(PacketType::message, "hi"));
  EXPECT_EQ(socketio::eio::decode_packet_v3("", p), ParseError::empty_packet);
  EXPECT_EQ(socketio::eio::decode_packet_v3("b", p), ParseError::unknown_type);
  EXPECT_EQ(socketio::eio::decode_packet_v3("b2AQ==", p), ParseError::unknown_type);
  EXPECT_EQ(socketio::eio::decode_packet_v3("bAQIDBA==", p), ParseError::unknown_type);
  EXPECT_EQ(socketio::eio::decode_packet_v3("b4AQIDBA=", p), ParseError::bad_base64);
  EXPECT_EQ(socketio::eio::decode_packet_v3("8", p), ParseError::unknown_type);
}

TEST(EioDecodeBinaryFrame, V4IsRawMessage) {
  Packet p;
  ASSERT_FALSE(socketio::eio::decode_binary_frame(kBytes1234, 4, p));
  EXPECT_EQ(p, binary(kBytes1234));
  ASSERT_FALSE(socketio::eio::decode_binary_frame("\x04\x05"s, 4, p));
  EXPECT_EQ(p, binary("\x04\x05"s));
  ASSERT_FALSE(socketio::eio::decode_binary_frame("", 4, p));
  EXPECT_EQ(p, binary(""));
}

TEST(EioDecodeBinaryFrame, V3NeedsMessageTypeByte) {
  Packet p;
  ASSERT_FALSE(socketio::eio::decode_binary_frame("\x04" + kBytes1234, 3, p));
  EXPECT_EQ(p, binary(kBytes1234));
  ASSERT_FALSE(socketio::eio::decode_binary_frame("\x04", 3, p));
  EXPECT_EQ(p, binary(""));
  EXPECT_EQ(socketio::eio::decode_binary_frame("", 3, p), ParseError::bad_binary_frame);
  EXPECT_EQ(socketio::eio::decode_binary_frame(kBytes1234, 3, p), ParseError::bad_binary_frame);
  EXPECT_EQ(socketio::eio::decode_binary_frame("4abc", 3, p), ParseError::bad_binary_frame);
}

// --- v4 payloads ---------------------------------------------------------------------------

TEST(EioDecodePayload, ProtocolExample) {
  std::vector<Packet> out;
  ASSERT_FALSE(
      decode_v4("4hello\x1e"
                "bAQIDBA==",
                out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], text(PacketType::message, "hello"));
  EXPECT_EQ(out[1], binary(kBytes1234));
}

TEST(EioDecodePayload, SinglePacketsAndAppend) {
  std::vector<Packet> out{text(PacketType::noop, "")};
  ASSERT_FALSE(decode_v4("1", out));
  ASSERT_FALSE(
      decode_v4("3\x1e"
                "40\x1e"
                "42[\"ev\"]",
                out));
  const std::vector<Packet> expected{text(PacketType::noop, ""), text(PacketType::close, ""),
                                     text(PacketType::pong, ""), text(PacketType::message, "0"),
                                     text(PacketType::message, "2[\"ev\"]")};
  EXPECT_EQ(out, expected);
}

TEST(EioDecodePayload, Errors) {
  std::vector<Packet> out;
  EXPECT_EQ(decode_v4("", out), ParseError::empty_packet);
  EXPECT_EQ(decode_v4("\x1e", out), ParseError::empty_packet);
  EXPECT_EQ(decode_v4("4a\x1e", out), ParseError::empty_packet);
  EXPECT_EQ(decode_v4("\x1e"
                      "4a",
                      out),
            ParseError::empty_packet);
  EXPECT_EQ(decode_v4("4a\x1e\x1e"
                      "4b",
                      out),
            ParseError::empty_packet);
  EXPECT_EQ(decode_v4("4a\x1e"
                      "9",
                      out),
            ParseError::unknown_type);
  EXPECT_EQ(decode_v4("4a\x1e"
                      "b!!",
                      out),
            ParseError::bad_base64);
}

TEST(EioDecodePayload, PayloadLimitCheckedFirst) {
  std::vector<Packet> out;
  Limits limits;
  limits.max_payload = 6;
  EXPECT_FALSE(decode_v4("4hello", out, limits));
  EXPECT_EQ(decode_v4("4hello!", out, limits), ParseError::payload_too_large);
  // Garbage over the limit is refused for its size, before any parsing.
  EXPECT_EQ(decode_v4("\x1e\x1e\x1e\x1e\x1e\x1e\x1e", out, limits), ParseError::payload_too_large);
  EXPECT_EQ(decode_v4(std::string(1'000'001, '4'), out, Limits{}), ParseError::payload_too_large);
}

TEST(EioDecodePayload, PacketCountLimit) {
  std::vector<Packet> out;
  Limits limits;
  limits.max_packets = 3;
  EXPECT_FALSE(
      decode_v4("2\x1e"
                "2\x1e"
                "2",
                out, limits));
  out.clear();
  EXPECT_EQ(decode_v4("2\x1e"
                      "2\x1e"
                      "2\x1e"
                      "2",
                      out, limits),
            ParseError::too_many_packets);
  // Counted before decoding: nothing was produced, and the bad packets were never looked at.
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(decode_v4("x\x1ex\x1ex\x1ex", out, limits), ParseError::too_many_packets);
}

// --- v3 payloads: string framing -------------------------------------------------------------

TEST(EioUtf16Length, CountsLikeJavaScript) {
  using socketio::eio::utf16_length;
  EXPECT_EQ(utf16_length(""), 0u);
  EXPECT_EQ(utf16_length("abc"), 3u);
  EXPECT_EQ(utf16_length(kEAcute), 1u);
  EXPECT_EQ(utf16_length(kEuro), 1u);
  EXPECT_EQ(utf16_length(kEmoji), 2u);
  EXPECT_EQ(utf16_length("a" + kEmoji + kEAcute + kEuro), 5u);
  // Invalid UTF-8: each stray byte is one replacement character; truncated sequences count once.
  EXPECT_EQ(utf16_length("\xff\xfe"), 2u);
  EXPECT_EQ(utf16_length("\x80"), 1u);
  EXPECT_EQ(utf16_length("\xC3"), 1u);
  EXPECT_EQ(utf16_length("\xF0\x9F\x98"), 1u);
  EXPECT_EQ(utf16_length("\xF0\x9F\x98"
                         "a"),
            2u);
  EXPECT_EQ(utf16_length("\xF8\x80\x80\x80"), 4u);
}

TEST(EioDecodePayloadV3, StringFraming) {
  std::vector<Packet> out;
  ASSERT_FALSE(decode_v3("6:4hello", out));
  ASSERT_FALSE(decode_v3("1:22:4a", out));
  ASSERT_FALSE(decode_v3("10:b4AQIDBA==", out));
  const std::vector<Packet> expected{text(PacketType::message, "hello"), text(PacketType::ping, ""),
                                     text(PacketType::message, "a"), binary(kBytes1234)};
  EXPECT_EQ(out, expected);
}

TEST(EioDecodePayloadV3, LengthInUtf16Units) {
  std::vector<Packet> out;
  ASSERT_FALSE(decode_v3("2:4" + kEAcute, out));  // two bytes, one unit
  ASSERT_FALSE(decode_v3("2:4" + kEuro, out));    // three bytes, one unit
  ASSERT_FALSE(decode_v3("3:4" + kEmoji, out));   // four bytes, two units
  ASSERT_FALSE(decode_v3("5:4" + kEAcute + kEmoji + "x2:4" + kEAcute, out));
  const std::vector<Packet> expected{
      text(PacketType::message, kEAcute), text(PacketType::message, kEuro), text(PacketType::message, kEmoji),
      text(PacketType::message, kEAcute + kEmoji + "x"), text(PacketType::message, kEAcute)};
  EXPECT_EQ(out, expected);

  // Byte counts are wrong here.
  EXPECT_EQ(decode_v3("3:4" + kEAcute, out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("5:4" + kEmoji, out), ParseError::bad_length);
  // A length ending inside a surrogate pair.
  EXPECT_EQ(decode_v3("2:4" + kEmoji, out), ParseError::bad_length);
}

TEST(EioDecodePayloadV3, ZeroLengthSegmentsAreSkipped) {
  std::vector<Packet> out;
  ASSERT_FALSE(decode_v3("0:", out));
  EXPECT_TRUE(out.empty());
  ASSERT_FALSE(decode_v3("0:6:4hello0:", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], text(PacketType::message, "hello"));
}

TEST(EioDecodePayloadV3, InvalidUtf8DoesNotCrash) {
  std::vector<Packet> out;
  ASSERT_FALSE(decode_v3("2:4\xff", out));
  EXPECT_EQ(out.back(), text(PacketType::message, "\xff"));
  ASSERT_FALSE(decode_v3("2:4\xF0\x9F\x98", out));
  EXPECT_EQ(out.back(), text(PacketType::message, "\xF0\x9F\x98"));
  EXPECT_EQ(decode_v3("1:\xE9", out), ParseError::unknown_type);
  EXPECT_EQ(decode_v3("3:4\xF0\x9F", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("1:4\xC3", out), ParseError::bad_length);
}

TEST(EioDecodePayloadV3, StringFramingErrors) {
  std::vector<Packet> out;
  EXPECT_EQ(decode_v3("", out), ParseError::empty_packet);
  EXPECT_EQ(decode_v3(":4", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("a:4", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("-1:4", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3(" 1:4", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("6:4hel", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("64hello", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("6:4hello1", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("6:4hello1:", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("00000000000000000001:4", out), ParseError::bad_length);
  EXPECT_EQ(decode_v3("99999999999999999999999:4", out), ParseError::bad_length);
  EXPECT_FALSE(decode_v3("0000000000000000001:4", out));  // 19 digits is still a length
  EXPECT_EQ(decode_v3("1:9", out), ParseError::unknown_type);
  EXPECT_EQ(decode_v3("2:bx", out), ParseError::unknown_type);
  EXPECT_EQ(decode_v3("3:b4!", out), ParseError::bad_base64);
  EXPECT_EQ(decode_v3("9:bAQIDBA==", out), ParseError::unknown_type);
}

TEST(EioDecodePayloadV3, Limits) {
  std::vector<Packet> out;
  Limits limits;
  limits.max_payload = 8;
  EXPECT_FALSE(decode_v3("6:4hello", out, limits));
  EXPECT_EQ(decode_v3("7:4hello!", out, limits), ParseError::payload_too_large);
  EXPECT_EQ(decode_xhr2(xhr2(0, "4hello!"), out, limits), ParseError::payload_too_large);
  EXPECT_EQ(decode_v3("xxxxxxxxx", out, limits), ParseError::payload_too_large);

  limits = Limits{};
  limits.max_packets = 2;
  EXPECT_FALSE(decode_v3("1:21:2", out, limits));
  EXPECT_EQ(decode_v3("1:21:21:2", out, limits), ParseError::too_many_packets);
  EXPECT_FALSE(decode_v3("0:0:0:1:21:2", out, limits));  // skipped segments are not packets
  EXPECT_EQ(decode_xhr2(xhr2(0, "2") + xhr2(0, "2") + xhr2(0, "2"), out, limits),
            ParseError::too_many_packets);
}

// --- v3 payloads: XHR2 binary framing ----------------------------------------------------------

TEST(EioDecodePayloadV3, Xhr2Framing) {
  std::vector<Packet> out;
  const std::string body = xhr2(0, "4hello") + xhr2(1, "\x04" + kBytes1234) + xhr2(0, "2") +
                           xhr2(1, "\x04" + std::string(300, 'z')) + xhr2(0, "4" + kEmoji) + xhr2(1, "\x04");
  // The raw layout of the first two frames, spelled out.
  EXPECT_EQ(body.substr(0, 17),
            "\x00\x06\xff"
            "4hello\x01\x05\xff\x04\x01\x02\x03\x04"s);
  ASSERT_FALSE(decode_xhr2(body, out));
  const std::vector<Packet> expected{text(PacketType::message, "hello"), binary(kBytes1234),
                                     text(PacketType::ping, ""),         binary(std::string(300, 'z')),
                                     text(PacketType::message, kEmoji),  binary("")};
  EXPECT_EQ(out, expected);
}

TEST(EioDecodePayloadV3, Xhr2StringPacketsMayBeBase64) {
  std::vector<Packet> out;
  ASSERT_FALSE(decode_xhr2(xhr2(0, "b4AQIDBA=="), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], binary(kBytes1234));
}

TEST(EioDecodePayloadV3, Xhr2Errors) {
  std::vector<Packet> out;
  EXPECT_EQ(decode_xhr2("", out), ParseError::empty_packet);
  EXPECT_EQ(decode_xhr2(xhr2(2, "4hello"), out), ParseError::bad_binary_frame);
  EXPECT_EQ(decode_xhr2("4hello", out), ParseError::bad_binary_frame);
  EXPECT_EQ(decode_xhr2("\x00\x01"s, out), ParseError::bad_binary_frame);  // no 0xFF
  EXPECT_EQ(decode_xhr2("\x00"s, out), ParseError::bad_binary_frame);
  EXPECT_EQ(decode_xhr2("\x00\xff"
                        "4"s,
                        out),
            ParseError::bad_length);  // no digits
  EXPECT_EQ(decode_xhr2("\x00\x0a\xff"
                        "4hello7890"s,
                        out),
            ParseError::bad_length);  // digit byte 10
  EXPECT_EQ(decode_xhr2("\x00"
                        "6\xff"
                        "4hello"s,
                        out),
            ParseError::bad_length);  // ASCII digit
  EXPECT_EQ(decode_xhr2("\x00\x07\xff"
                        "4hello"s,
                        out),
            ParseError::bad_length);  // longer than the body
  EXPECT_EQ(decode_xhr2("\x00" + std::string(20, '\x01') + "\xff", out), ParseError::bad_length);
  EXPECT_EQ(decode_xhr2(xhr2(0, ""), out), ParseError::empty_packet);
  EXPECT_EQ(decode_xhr2(xhr2(0, "9"), out), ParseError::unknown_type);
  EXPECT_EQ(decode_xhr2(xhr2(1, ""), out), ParseError::bad_binary_frame);
  EXPECT_EQ(decode_xhr2(xhr2(1, "\x03" + kBytes1234), out), ParseError::bad_binary_frame);
  EXPECT_EQ(decode_xhr2(xhr2(1, "4" + kBytes1234), out), ParseError::bad_binary_frame);
  EXPECT_EQ(decode_xhr2(xhr2(0, "4ok") + "\x00"s, out), ParseError::bad_binary_frame);
}

// --- encoding -------------------------------------------------------------------------------

TEST(EioEncodePacket, TextAndBinary) {
  std::string out = "x";
  socketio::eio::encode_packet({PacketType::message, false, "hello"}, out);
  EXPECT_EQ(out, "x4hello");
  out.clear();
  socketio::eio::encode_packet({PacketType::ping, false, "probe"}, out);
  EXPECT_EQ(out, "2probe");
  out.clear();
  socketio::eio::encode_packet({PacketType::noop, false, ""}, out);
  EXPECT_EQ(out, "6");
  out.clear();
  socketio::eio::encode_packet({PacketType::message, true, kBytes1234}, out);
  EXPECT_EQ(out, "bAQIDBA==");
  out.clear();
  socketio::eio::encode_packet({PacketType::message, true, ""}, out);
  EXPECT_EQ(out, "b");
  out.clear();
  socketio::eio::encode_packet_v3({PacketType::message, true, kBytes1234}, out);
  EXPECT_EQ(out, "b4AQIDBA==");
  out.clear();
  socketio::eio::encode_packet_v3({PacketType::pong, false, "probe"}, out);
  EXPECT_EQ(out, "3probe");
}

TEST(EioEncodePayload, ProtocolExample) {
  const std::vector<Packet> packets{text(PacketType::message, "hello"), binary(kBytes1234)};
  const auto v = views(packets);
  std::string out;
  socketio::eio::encode_payload(v, out);
  EXPECT_EQ(out,
            "4hello\x1e"
            "bAQIDBA==");
  out.clear();
  socketio::eio::encode_payload({}, out);
  EXPECT_EQ(out, "");
  const std::vector<Packet> one{text(PacketType::noop, "")};
  socketio::eio::encode_payload(views(one), out);
  EXPECT_EQ(out, "6");
}

TEST(EioEncodePayloadV3, StringFraming) {
  std::string out;
  const std::vector<Packet> packets{text(PacketType::message, "hello"), text(PacketType::ping, ""),
                                    text(PacketType::message, kEAcute), text(PacketType::message, kEmoji)};
  EXPECT_FALSE(socketio::eio::encode_payload_v3(views(packets), true, out));
  EXPECT_EQ(out, "6:4hello1:22:4" + kEAcute + "3:4" + kEmoji);
}

TEST(EioEncodePayloadV3, BinaryAsBase64WithoutXhr2) {
  std::string out;
  const std::vector<Packet> packets{text(PacketType::message, "hello"), binary(kBytes1234), binary("")};
  EXPECT_FALSE(socketio::eio::encode_payload_v3(views(packets), false, out));
  EXPECT_EQ(out, "6:4hello10:b4AQIDBA==2:b4");
}

TEST(EioEncodePayloadV3, Xhr2WhenSupportedAndBinary) {
  std::string out;
  const std::vector<Packet> packets{text(PacketType::message, "hello"), binary(kBytes1234),
                                    text(PacketType::message, kEAcute), binary(std::string(11, 'q'))};
  EXPECT_TRUE(socketio::eio::encode_payload_v3(views(packets), true, out));
  const std::string expected =
      "\x00\x06\xff"
      "4hello"
      "\x01\x05\xff\x04\x01\x02\x03\x04"
      "\x00\x03\xff"
      "4\xC3\xA9"
      "\x01\x01\x02\xff\x04"
      "qqqqqqqqqqq"s;
  EXPECT_EQ(out, expected);
}

TEST(EioEncodePayloadV3, EmptyList) {
  std::string out;
  EXPECT_FALSE(socketio::eio::encode_payload_v3({}, true, out));
  EXPECT_EQ(out, "0:");
}

// --- round trips -----------------------------------------------------------------------------

std::vector<Packet> random_packets(std::mt19937& rng, bool allow_separator) {
  std::uniform_int_distribution<int> count(1, 8), type(0, 6), len(0, 40), byte(0, 255), coin(0, 3);
  const std::string pieces[] = {"a", "z", " ", "{", "\"", kEAcute, kEuro, kEmoji, ":", "9", "b", "\x1e"};
  std::uniform_int_distribution<std::size_t> piece(0, std::size(pieces) - (allow_separator ? 1 : 2));
  std::vector<Packet> packets;
  for (int i = count(rng); i > 0; --i) {
    if (coin(rng) == 0) {
      std::string data;
      for (int n = len(rng); n > 0; --n) data += static_cast<char>(byte(rng));
      packets.push_back(binary(std::move(data)));
    } else {
      std::string data;
      for (int n = len(rng); n > 0; --n) data += pieces[piece(rng)];
      packets.push_back(text(static_cast<PacketType>(type(rng)), std::move(data)));
    }
  }
  return packets;
}

TEST(EioRoundTrip, V4Payload) {
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    const auto packets = random_packets(rng, false);
    std::string body;
    socketio::eio::encode_payload(views(packets), body);
    std::vector<Packet> back;
    ASSERT_FALSE(decode_v4(body, back)) << testing::PrintToString(body);
    EXPECT_EQ(back, packets);
  }
}

TEST(EioRoundTrip, V4SinglePacket) {
  std::mt19937 rng(8);
  for (int i = 0; i < 500; ++i) {
    for (const Packet& p : random_packets(rng, true)) {
      std::string s;
      socketio::eio::encode_packet({p.type, p.binary, p.data}, s);
      Packet back;
      ASSERT_FALSE(decode_one(s, back));
      EXPECT_EQ(back, p);
    }
  }
}

TEST(EioRoundTrip, V3BothFramings) {
  std::mt19937 rng(9);
  for (int i = 0; i < 500; ++i) {
    const auto packets = random_packets(rng, true);
    for (bool supports_binary : {false, true}) {
      std::string body;
      const bool xhr2_body = socketio::eio::encode_payload_v3(views(packets), supports_binary, body);
      std::vector<Packet> back;
      ASSERT_FALSE(socketio::eio::decode_payload_v3(body, xhr2_body, back, Limits{}))
          << testing::PrintToString(body);
      EXPECT_EQ(back, packets);
    }
  }
}

}  // namespace
