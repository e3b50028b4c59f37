#include "sio/parser/packet.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>
#include <limits>
#include <set>
#include <string>

namespace {

namespace json = boost::json;
using socketio::sio::Decoder;
using socketio::sio::Limits;
using socketio::sio::Packet;
using socketio::sio::PacketType;
using socketio::sio::ParseError;

json::value J(std::string_view s) {
  return json::parse(s);
}

std::error_code dec(std::string_view s, Packet& p, Limits limits = {}) {
  return socketio::sio::decode(s, p, limits);
}

std::error_code dec(std::string_view s, Limits limits = {}) {
  Packet p;
  return socketio::sio::decode(s, p, limits);
}

std::string enc(const Packet& p) {
  std::string out;
  socketio::sio::encode(p, out);
  return out;
}

std::string to_js(const json::value& v) {
  std::string out;
  socketio::sio::write_json(v, out);
  return out;
}

Packet make(PacketType t, std::string nsp, std::optional<std::uint64_t> id, json::value data,
            std::size_t attachments = 0) {
  Packet p;
  p.type = t;
  p.nsp = std::move(nsp);
  p.id = id;
  p.data = std::move(data);
  p.attachments = attachments;
  return p;
}

void expect_same(const Packet& a, const Packet& b, std::string_view context) {
  EXPECT_EQ(a.type, b.type) << context;
  EXPECT_EQ(a.nsp, b.nsp) << context;
  EXPECT_EQ(a.id, b.id) << context;
  EXPECT_EQ(a.data, b.data) << context;
  EXPECT_EQ(a.attachments, b.attachments) << context;
}

// --- error category ----------------------------------------------------------------------

TEST(SioParseError, CategoryAndMessages) {
  EXPECT_STREQ(socketio::sio::parse_category().name(), "socket.io parser");
  std::set<std::string> messages;
  for (int e = 0; e <= static_cast<int>(ParseError::too_large); ++e) {
    const std::error_code ec = static_cast<ParseError>(e);
    EXPECT_EQ(&ec.category(), &socketio::sio::parse_category());
    EXPECT_EQ(ec.value(), e);
    EXPECT_EQ(ec.message().find("unknown socket.io parser error"), std::string::npos) << e;
    messages.insert(ec.message());
  }
  EXPECT_EQ(messages.size(), 12u);
  EXPECT_FALSE(std::error_code(ParseError::ok));
  EXPECT_EQ(socketio::sio::make_error_code(ParseError::bad_json), std::error_code(ParseError::bad_json));
  EXPECT_EQ(std::error_code(ParseError::invalid_payload).message(), "invalid payload");
  EXPECT_EQ(std::error_code(ParseError::bad_namespace).message(), "invalid namespace");
  EXPECT_FALSE(socketio::sio::parse_category().message(99).empty());
}

// --- decoding: the examples of PROTOCOL.md and the reference's tests -----------------------

TEST(SioDecode, Examples) {
  struct Case {
    const char* text;
    Packet expected;
  };
  const Case cases[] = {
      {"0", make(PacketType::connect, "/", {}, nullptr)},
      {R"(0{"token":"123"})", make(PacketType::connect, "/", {}, J(R"({"token":"123"})"))},
      {"0/random", make(PacketType::connect, "/random", {}, nullptr)},
      {"0/admin,", make(PacketType::connect, "/admin", {}, nullptr)},
      {R"(0/custom,{"sid":"x"})", make(PacketType::connect, "/custom", {}, J(R"({"sid":"x"})"))},
      {"1", make(PacketType::disconnect, "/", {}, nullptr)},
      {"1/custom,", make(PacketType::disconnect, "/custom", {}, nullptr)},
      {"1/custom", make(PacketType::disconnect, "/custom", {}, nullptr)},
      {R"(2["ev",1])", make(PacketType::event, "/", {}, J(R"(["ev",1])"))},
      {R"(2/admin,["ev"])", make(PacketType::event, "/admin", {}, J(R"(["ev"])"))},
      {R"(2456["ev",{"a":[1,2]}])", make(PacketType::event, "/", 456, J(R"(["ev",{"a":[1,2]}])"))},
      {R"(2/admin,0["ev"])", make(PacketType::event, "/admin", 0, J(R"(["ev"])"))},
      {"2[1]", make(PacketType::event, "/", {}, J("[1]"))},
      {"2[-1.5]", make(PacketType::event, "/", {}, J("[-1.5]"))},
      {R"(2["connected"])", make(PacketType::event, "/", {}, J(R"(["connected"])"))},
      {R"(2 [ "ev" ] )", make(PacketType::event, "/", {}, J(R"(["ev"])"))},
      {"3/admin,12[]", make(PacketType::ack, "/admin", 12, J("[]"))},
      {"3456[null]", make(PacketType::ack, "/", 456, J("[null]"))},
      {R"(4{"message":"Invalid namespace"})",
       make(PacketType::connect_error, "/", {}, J(R"({"message":"Invalid namespace"})"))},
      {R"(4/nsp,{"message":"m","data":{"a":1}})",
       make(PacketType::connect_error, "/nsp", {}, J(R"({"message":"m","data":{"a":1}})"))},
      {R"(4"Not authorized")", make(PacketType::connect_error, "/", {}, J(R"("Not authorized")"))},
      {R"(51-["ev",{"_placeholder":true,"num":0}])",
       make(PacketType::binary_event, "/", {}, J(R"(["ev",{"_placeholder":true,"num":0}])"), 1)},
      {R"(52-["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])",
       make(PacketType::binary_event, "/", {},
            J(R"(["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"), 2)},
      {R"(51-/admin,7["ev",{"_placeholder":true,"num":0}])",
       make(PacketType::binary_event, "/admin", 7, J(R"(["ev",{"_placeholder":true,"num":0}])"), 1)},
      {R"(62-456[{"_placeholder":true,"num":1}])",
       make(PacketType::binary_ack, "/", 456, J(R"([{"_placeholder":true,"num":1}])"), 2)},
      {"601-[]", make(PacketType::binary_ack, "/", {}, J("[]"), 1)},
      {R"(510-["ev"])", make(PacketType::binary_event, "/", {}, J(R"(["ev"])"), 10)},
  };
  for (const Case& c : cases) {
    Packet p;
    ASSERT_FALSE(dec(c.text, p)) << c.text << ": " << dec(c.text).message();
    expect_same(p, c.expected, c.text);
  }
}

TEST(SioDecode, DecodingOverwritesThePreviousPacket) {
  Packet p;
  ASSERT_FALSE(dec(R"(51-/admin,7["ev",{"_placeholder":true,"num":0}])", p));
  ASSERT_FALSE(dec("0", p));
  expect_same(p, make(PacketType::connect, "/", {}, nullptr), "0");
}

TEST(SioDecode, EmptyAndUnknownType) {
  EXPECT_EQ(dec(""), ParseError::empty);
  for (const char* s : {"7", "8[]", "9", "a", "-", " 2[\"a\"]", "/", "\xc3\xa9"}) {
    EXPECT_EQ(dec(s), ParseError::unknown_type) << s;
  }
}

TEST(SioDecode, BadAttachments) {
  const char* cases[] = {
      R"(5["a"])",                            // no '-'
      "5",                                    // nothing at all
      "51",                                   // digits but no '-'
      R"(5-["a"])",                           // no digits
      R"(50-["a"])",                          // zero: the reference wants at least one
      R"(5a-["a"])",                          // not a digit
      R"(5 1-["a"])",                         // whitespace is not a digit here
      R"(511-["a"])",                         // over the default maximum of 10
      "599999999999999999999999999-[\"a\"]",  // overflows
      R"(6-1-[])",                            // sign
  };
  for (const char* s : cases) EXPECT_EQ(dec(s), ParseError::bad_attachments) << s;
  Limits limits;
  limits.max_attachments = 2;
  EXPECT_FALSE(dec(R"(52-["a"])", limits));
  EXPECT_EQ(dec(R"(53-["a"])", limits), ParseError::bad_attachments);
}

TEST(SioDecode, BadAckId) {
  EXPECT_FALSE(dec(R"(218446744073709551615["a"])"));  // UINT64_MAX fits
  EXPECT_EQ(dec(R"(218446744073709551616["a"])"), ParseError::bad_ack_id);
  EXPECT_EQ(dec(R"(3/a,999999999999999999999999[])"), ParseError::bad_ack_id);
}

TEST(SioDecode, BadJson) {
  const char* cases[] = {
      "42abc[",  // PROTOCOL.md: an ack id is digits only
      "2abc",      "2[",           R"(2["a")",         R"(2["a"]x)", R"(2["a"],)",  "2{",       R"(2["a",])",
      R"(2['a'])", "2[\"a\"]\x01", "2/admin,x[\"a\"]", R"(0{"a":})", "2[\"\xff\"]", R"(1/a,,)",
  };
  for (const char* s : cases) EXPECT_EQ(dec(s), ParseError::bad_json) << s;
}

TEST(SioDecode, LoneSurrogatesBecomeReplacementCharacters) {
  // What JSON.stringify writes for a JavaScript string cut inside a surrogate pair.
  const std::pair<const char*, const char*> cases[] = {
      {R"(2["\ud83d"])", "2[\"\xEF\xBF\xBD\"]"},
      {R"(2["a\ud83db"])",
       "2[\"a\xEF\xBF\xBD"
       "b\"]"},
      {R"(2["\ude00"])", "2[\"\xEF\xBF\xBD\"]"},
      {R"(2["\ud83d\ud83d\ude00"])", "2[\"\xEF\xBF\xBD\xF0\x9F\x98\x80\"]"},
      {R"(2["\ud83d\n"])", "2[\"\xEF\xBF\xBD\\n\"]"},
      {R"(2["\uD83D",{"\udc00":1}])", "2[\"\xEF\xBF\xBD\",{\"\xEF\xBF\xBD\":1}]"},
      // Not surrogates: an escaped backslash followed by text, a pair, a plain escape.
      {R"(2["\\ud83d"])", R"(2["\\ud83d"])"},
      {R"(2["\ud83d\ude00"])", "2[\"\xF0\x9F\x98\x80\"]"},
      {R"(2["\u00e9"])", "2[\"\xC3\xA9\"]"},
  };
  for (const auto& [in, out] : cases) {
    Packet p;
    ASSERT_FALSE(dec(in, p)) << in;
    EXPECT_EQ(enc(p), out) << in;
  }
  // The repair does not make other broken JSON acceptable.
  EXPECT_EQ(dec(R"(2["\ud83d"],)"), ParseError::bad_json);
  EXPECT_EQ(dec(R"(2["\ud83d)"), ParseError::bad_json);
  EXPECT_EQ(dec(R"(2["\ud83"])"), ParseError::bad_json);
  EXPECT_EQ(dec(R"(2[\ud83d])"), ParseError::bad_json);
}

TEST(SioDecode, JsonDepthLimit) {
  auto nested = [](int depth) {
    // depth counts the outer array: ["a",[[...]]]
    std::string s = "2[\"a\"";
    if (depth > 1)
      s += "," + std::string(static_cast<std::size_t>(depth - 1), '[') +
           std::string(static_cast<std::size_t>(depth - 1), ']');
    return s + "]";
  };
  EXPECT_FALSE(dec(nested(1)));
  EXPECT_FALSE(dec(nested(32)));
  EXPECT_EQ(dec(nested(33)), ParseError::bad_json);
  EXPECT_EQ(dec(nested(5000)), ParseError::bad_json);
  Limits limits;
  limits.max_depth = 3;
  EXPECT_FALSE(dec(nested(3), limits));
  EXPECT_EQ(dec(nested(4), limits), ParseError::bad_json);
  EXPECT_EQ(dec(R"(2["a",{"b":{"c":{}}}])", limits), ParseError::bad_json);
}

TEST(SioDecode, InvalidPayloadPerType) {
  const char* cases[] = {
      // CONNECT: an object or nothing
      "0[]",
      R"(0"x")",
      "0null",
      "0true",
      "0/a,1[]",
      // DISCONNECT: nothing
      "1{}",
      "1[]",
      R"(1"x")",
      "1null",
      "1/a,{}",
      // EVENT: a non-empty array led by a number or a non-reserved string (absent is valid)
      "2[]",
      "2{}",
      R"(2"ev")",
      "2null",
      "2[null]",
      "2[{}]",
      "2[[]]",
      "2[true]",
      R"(2["connect"])",
      R"(2["connect_error"])",
      R"(2["disconnect"])",
      R"(2["disconnecting"])",
      R"(2["newListener"])",
      R"(2["removeListener"])",
      R"(2/admin,1["disconnect",1])",
      // ACK: an array (absent is valid)
      "3{}",
      "3null",
      R"(3"x")",
      // CONNECT_ERROR: a string or an object
      "4",
      "4[]",
      "4null",
      "41",
      "4true",
      // binary types follow their plain counterparts
      "51-[]",
      "51-{}",
      R"(51-["disconnect"])",
      "61-{}",
      "61-null",
  };
  for (const char* s : cases) EXPECT_EQ(dec(s), ParseError::invalid_payload) << s;
}

TEST(SioDecode, Placeholders) {
  EXPECT_FALSE(dec(R"(52-["ev",{"_placeholder":true,"num":1},{"k":[{"_placeholder":true,"num":0}]}])"));
  EXPECT_FALSE(dec(R"(52-["ev",{"_placeholder":true,"num":1.0}])"));
  EXPECT_FALSE(dec(R"(51-["ev",{"_placeholder":false,"num":7}])"));  // not a placeholder at all
  EXPECT_FALSE(dec(R"(51-["ev",{"_placeholder":"true","num":7}])"));
  const char* bad[] = {
      R"(51-["ev",{"_placeholder":true,"num":1}])",
      R"(52-["ev",{"_placeholder":true,"num":2}])",
      R"(51-["ev",{"_placeholder":true,"num":-1}])",
      R"(51-["ev",{"_placeholder":true,"num":"0"}])",
      R"(51-["ev",{"_placeholder":true,"num":0.5}])",
      R"(51-["ev",{"_placeholder":true,"num":null}])",
      R"(51-["ev",{"_placeholder":true}])",
      R"(51-["ev",{"_placeholder":true,"num":0,"extra":1}])",
      R"(51-["ev",{"a":{"b":[{"_placeholder":true,"num":3}]}}])",
      R"(61-[{"_placeholder":true,"num":18446744073709551615}])",
      R"(61-[{"_placeholder":true,"num":1e300}])",
  };
  for (const char* s : bad) EXPECT_EQ(dec(s), ParseError::bad_placeholder) << s;
  // Non-binary types are not reconstructed, so a placeholder there is just data (as in the reference).
  EXPECT_FALSE(dec(R"(2["ev",{"_placeholder":true,"num":5}])"));
}

TEST(SioDecode, TooLarge) {
  Limits limits;
  limits.max_packet_size = 8;
  EXPECT_FALSE(dec(R"(2["abc"])", limits));
  EXPECT_EQ(dec(R"(2["abcd"])", limits), ParseError::too_large);
  // Size first: garbage over the limit is refused for its size.
  EXPECT_EQ(dec("zzzzzzzzzzzz", limits), ParseError::too_large);
  EXPECT_EQ(dec(std::string(1'000'001, '2')), ParseError::too_large);
}

// --- encoding -------------------------------------------------------------------------------

TEST(SioEncode, ExactReferenceText) {
  using socketio::sio::make_placeholder;
  struct Case {
    Packet packet;
    const char* text;
  };
  const Case cases[] = {
      {make(PacketType::event, "/", {}, J(R"(["ev",1])")), R"(42["ev",1])"},
      {make(PacketType::event, "/admin", {}, J(R"(["ev"])")), R"(42/admin,["ev"])"},
      {make(PacketType::event, "/", 456, J(R"(["ev"])")), R"(42456["ev"])"},
      {make(PacketType::ack, "/admin", 12, J("[]")), "43/admin,12[]"},
      {make(PacketType::ack, "/", 456, J(R"([1,"a"])")), R"(43456[1,"a"])"},
      {make(PacketType::binary_event, "/", {}, json::array{"ev", make_placeholder(0)}, 1),
       R"(451-["ev",{"_placeholder":true,"num":0}])"},
      {make(PacketType::binary_event, "/", {}, json::array{"ev", make_placeholder(0), make_placeholder(1)},
            2),
       R"(452-["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"},
      {make(PacketType::binary_ack, "/chat", 9, json::array{make_placeholder(0)}, 1),
       R"(461-/chat,9[{"_placeholder":true,"num":0}])"},
      {make(PacketType::connect, "/", {}, J(R"({"sid":"x"})")), R"(40{"sid":"x"})"},
      {make(PacketType::connect, "/custom", {}, J(R"({"sid":"x"})")), R"(40/custom,{"sid":"x"})"},
      {make(PacketType::connect, "/", {}, nullptr), "40"},
      {make(PacketType::connect, "/custom", {}, nullptr), "40/custom,"},
      {make(PacketType::disconnect, "/", {}, nullptr), "41"},
      {make(PacketType::disconnect, "/custom", {}, nullptr), "41/custom,"},
      {make(PacketType::disconnect, "", {}, nullptr), "41"},
      {make(PacketType::connect_error, "/nsp", {}, J(R"({"message":"Invalid namespace"})")),
       R"(44/nsp,{"message":"Invalid namespace"})"},
      {make(PacketType::connect_error, "/", {}, "Not authorized"), R"(44"Not authorized")"},
  };
  for (const Case& c : cases) {
    std::string out = "4";  // encode appends; the expectations are whole Engine.IO messages
    socketio::sio::encode(c.packet, out);
    EXPECT_EQ(out, c.text);
  }
}

TEST(SioEncode, ExplicitArguments) {
  std::string out;
  const json::value data = J(R"(["ev"])");
  socketio::sio::encode(PacketType::event, "/", 3, &data, 0, out);
  EXPECT_EQ(out, R"(23["ev"])");
  out.clear();
  socketio::sio::encode(PacketType::disconnect, "/a", {}, nullptr, 0, out);
  EXPECT_EQ(out, "1/a,");
  out.clear();
  const json::value null_value;
  socketio::sio::encode(PacketType::connect, "/", {}, &null_value, 0, out);
  EXPECT_EQ(out, "0");  // like the reference, a null payload is not written
}

TEST(SioEncode, StringsAsJsonStringify) {
  // Non-ASCII stays raw, control characters are escaped as JSON.stringify does.
  EXPECT_EQ(to_js(json::array{"\xC3\xA9\xF0\x9F\x98\x80"}), "[\"\xC3\xA9\xF0\x9F\x98\x80\"]");
  EXPECT_EQ(to_js(json::array{"\x01\n\t\b\f\r\"\\/\x7f"}), R"(["\u0001\n\t\b\f\r\"\\/)"
                                                           "\x7f"
                                                           R"("])");
  EXPECT_EQ(to_js(json::object{{"k\n", "v"}}), R"({"k\n":"v"})");
  // The same through the path taken by values holding a double.
  EXPECT_EQ(to_js(json::array{"\x01\n\t\b\f\r\"\\/\x7f", 0.5}), R"(["\u0001\n\t\b\f\r\"\\/)"
                                                                "\x7f"
                                                                R"(",0.5])");
  EXPECT_EQ(to_js(json::object{{"k\x1f", 0.5}}), R"({"k\u001f":0.5})");
}

TEST(SioEncode, NumbersAsJavaScriptWritesThem) {
  const std::pair<double, const char*> cases[] = {
      {1.5, "1.5"},
      {1.0, "1"},
      {0.1, "0.1"},
      {-0.0, "0"},
      {1e21, "1e+21"},
      {1e20, "100000000000000000000"},
      {1e19, "10000000000000000000"},
      {1e-7, "1e-7"},
      {-1e-7, "-1e-7"},
      {1.5e-7, "1.5e-7"},
      {0.000001, "0.000001"},
      {123.456, "123.456"},
      {-2.5, "-2.5"},
      {123e-20, "1.23e-18"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {5e-324, "5e-324"},
      {9007199254740992.0, "9007199254740992"},
      {std::numeric_limits<double>::quiet_NaN(), "null"},
      {std::numeric_limits<double>::infinity(), "null"},
      {-std::numeric_limits<double>::infinity(), "null"},
  };
  for (const auto& [d, text] : cases) {
    EXPECT_EQ(to_js(json::value(d)), text) << text;
    EXPECT_EQ(to_js(json::array{"ev", d}), std::string("[\"ev\",") + text + "]") << text;
  }
  EXPECT_EQ(to_js(json::value(std::int64_t{-42})), "-42");
  EXPECT_EQ(to_js(json::value(std::numeric_limits<std::uint64_t>::max())), "18446744073709551615");
  EXPECT_EQ(to_js(J(R"({"a":[1,2.5,{"b":null,"c":true,"d":"x"}]})")),
            R"({"a":[1,2.5,{"b":null,"c":true,"d":"x"}]})");
}

TEST(SioDecode, NumbersReadAsJsonParseReadsThem) {
  // Each input, decoded and encoded again, as JSON.stringify(JSON.parse(input)) writes it: doubles
  // are rounded correctly (Boost 1.81's own conversion is one ulp off for the first three).
  const std::pair<const char*, const char*> cases[] = {
      {"1.2222222222222223e+26", "1.2222222222222222e+26"},
      {"1222222222222222222222222210.1", "1.2222222222222222e+27"},
      {"2.2250738585072011e-308", "2.225073858507201e-308"},
      {"123456789012345678901234567890", "1.2345678901234568e+29"},
      {"1e400", "null"},
      {"-1e400", "null"},
      {"1e-400", "0"},
      {"0.1e1", "1"},
      {"-0", "0"},
      {"-0.0", "0"},
      {"0.30000000000000004", "0.30000000000000004"},
      {"4.35", "4.35"},
  };
  for (const auto& [in, out] : cases) {
    Packet p;
    const std::string text = std::string(R"(2["ev",)") + in + "]";
    ASSERT_FALSE(dec(text, p)) << text;
    EXPECT_EQ(enc(p), std::string(R"(2["ev",)") + out + "]") << in;
  }
  // Integers are kept exactly, even past 2^53 where JavaScript would round them.
  Packet p;
  ASSERT_FALSE(dec(R"(2["ev",9007199254740993,-9223372036854775808,18446744073709551615])", p));
  EXPECT_EQ(enc(p), R"(2["ev",9007199254740993,-9223372036854775808,18446744073709551615])");
}

TEST(SioEncode, WriteJsonAppends) {
  std::string out = "prefix";
  socketio::sio::write_json(J(R"({"a":"b"})"), out);
  EXPECT_EQ(out, R"(prefix{"a":"b"})");
  std::string big = "x";
  socketio::sio::write_json(json::array{std::string(100'000, 'y')}, big);
  EXPECT_EQ(big, "x[\"" + std::string(100'000, 'y') + "\"]");
}

// --- placeholders ---------------------------------------------------------------------------

TEST(SioPlaceholder, MakeAndRecognise) {
  using socketio::sio::is_placeholder;
  const json::value p = socketio::sio::make_placeholder(3);
  EXPECT_EQ(json::serialize(p), R"({"_placeholder":true,"num":3})");
  std::size_t num = 99;
  EXPECT_TRUE(is_placeholder(p, num));
  EXPECT_EQ(num, 3u);
  EXPECT_TRUE(is_placeholder(J(R"({"num":0,"_placeholder":true})"), num));
  EXPECT_EQ(num, 0u);
  EXPECT_TRUE(is_placeholder(J(R"({"_placeholder":true,"num":2.0})"), num));
  EXPECT_EQ(num, 2u);
  for (const char* s : {R"({"_placeholder":false,"num":0})", R"({"_placeholder":1,"num":0})",
                        R"({"_placeholder":true,"num":-1})", R"({"_placeholder":true,"num":"1"})",
                        R"({"_placeholder":true,"num":1.5})", R"({"_placeholder":true})", R"({"num":1})",
                        R"({"_placeholder":true,"num":1,"x":2})", R"([true,1])", "null", "1"}) {
    EXPECT_FALSE(is_placeholder(J(s), num)) << s;
  }
}

TEST(SioPlaceholder, Validity) {
  using socketio::sio::placeholders_valid;
  EXPECT_TRUE(placeholders_valid(J("null"), 0));
  EXPECT_TRUE(placeholders_valid(J(R"(["a",{"b":[1,2]}])"), 0));
  EXPECT_TRUE(placeholders_valid(J(R"(["a",{"_placeholder":true,"num":1}])"), 2));
  EXPECT_FALSE(placeholders_valid(J(R"(["a",{"_placeholder":true,"num":1}])"), 1));
  EXPECT_FALSE(placeholders_valid(J(R"({"x":{"y":[{"_placeholder":true,"num":0}]}})"), 0));
  EXPECT_TRUE(placeholders_valid(J(R"({"x":{"y":[{"_placeholder":true,"num":0}]}})"), 1));
  EXPECT_FALSE(placeholders_valid(J(R"([{"_placeholder":true,"num":"0"}])"), 5));
  EXPECT_TRUE(placeholders_valid(J(R"([{"_placeholder":false,"num":"0"}])"), 0));
}

// --- Decoder --------------------------------------------------------------------------------

TEST(SioDecoder, PlainPacketsComeOutAtOnce) {
  Decoder d;
  auto r = d.feed_text(R"(2/chat,5["ev",1])");
  ASSERT_EQ(r.status, Decoder::Status::packet) << r.error.message();
  EXPECT_FALSE(r.error);
  expect_same(d.packet(), make(PacketType::event, "/chat", 5, J(R"(["ev",1])")), "event");
  EXPECT_TRUE(d.attachments().empty());
  r = d.feed_text("0");
  ASSERT_EQ(r.status, Decoder::Status::packet);
  expect_same(d.packet(), make(PacketType::connect, "/", {}, nullptr), "connect");
}

TEST(SioDecoder, ReassemblesAttachmentsInOrder) {
  Decoder d;
  auto r = d.feed_text(R"(52-["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(r.status, Decoder::Status::need_more);
  EXPECT_FALSE(r.error);
  r = d.feed_binary(std::string("\x01\x02", 2));
  EXPECT_EQ(r.status, Decoder::Status::need_more);
  r = d.feed_binary(std::string("\x00\x03\x04", 3));
  ASSERT_EQ(r.status, Decoder::Status::packet);
  EXPECT_EQ(d.packet().type, PacketType::binary_event);
  EXPECT_EQ(d.packet().attachments, 2u);
  ASSERT_EQ(d.attachments().size(), 2u);
  EXPECT_EQ(d.attachments()[0], std::string("\x01\x02", 2));
  EXPECT_EQ(d.attachments()[1], std::string("\x00\x03\x04", 3));

  // The caller moves the results out; the next packet starts clean.
  Packet taken = std::move(d.packet());
  auto buffers = std::move(d.attachments());
  EXPECT_EQ(buffers.size(), 2u);
  r = d.feed_text(R"(61-/a,3[{"_placeholder":true,"num":0}])");
  EXPECT_EQ(r.status, Decoder::Status::need_more);
  r = d.feed_binary("");
  ASSERT_EQ(r.status, Decoder::Status::packet);
  expect_same(d.packet(), make(PacketType::binary_ack, "/a", 3, J(R"([{"_placeholder":true,"num":0}])"), 1),
              "binary ack");
  ASSERT_EQ(d.attachments().size(), 1u);
  EXPECT_EQ(d.attachments()[0], "");
  r = d.feed_text(R"(2["plain"])");
  ASSERT_EQ(r.status, Decoder::Status::packet);
  EXPECT_TRUE(d.attachments().empty());
}

TEST(SioDecoder, UnexpectedBinary) {
  Decoder d;
  auto r = d.feed_binary("x");
  EXPECT_EQ(r.status, Decoder::Status::error);
  EXPECT_EQ(r.error, ParseError::unexpected_binary);
  ASSERT_EQ(d.feed_text(R"(2["ev"])").status, Decoder::Status::packet);
  r = d.feed_binary("x");
  EXPECT_EQ(r.error, ParseError::unexpected_binary);
  ASSERT_EQ(d.feed_text(R"(51-["ev",{"_placeholder":true,"num":0}])").status, Decoder::Status::need_more);
  ASSERT_EQ(d.feed_binary("x").status, Decoder::Status::packet);
  r = d.feed_binary("y");
  EXPECT_EQ(r.status, Decoder::Status::error);
  EXPECT_EQ(r.error, ParseError::unexpected_binary);
}

TEST(SioDecoder, UnexpectedTextThenRecovers) {
  Decoder d;
  ASSERT_EQ(d.feed_text(R"(52-["ev",{"_placeholder":true,"num":0}])").status, Decoder::Status::need_more);
  ASSERT_EQ(d.feed_binary("a").status, Decoder::Status::need_more);
  auto r = d.feed_text(R"(2["ev"])");
  EXPECT_EQ(r.status, Decoder::Status::error);
  EXPECT_EQ(r.error, ParseError::unexpected_text);
  // The half-built packet is gone: a binary message now is unexpected, a text one is fine.
  EXPECT_EQ(d.feed_binary("b").error, ParseError::unexpected_binary);
  EXPECT_EQ(d.feed_text(R"(2["ev"])").status, Decoder::Status::packet);
}

TEST(SioDecoder, DecodeErrorsPassThrough) {
  Decoder d;
  EXPECT_EQ(d.feed_text("").error, ParseError::empty);
  EXPECT_EQ(d.feed_text("9").error, ParseError::unknown_type);
  EXPECT_EQ(d.feed_text("42abc[").error, ParseError::bad_json);
  EXPECT_EQ(d.feed_text("2[]").error, ParseError::invalid_payload);
  EXPECT_EQ(d.feed_text("50-[\"a\"]").error, ParseError::bad_attachments);
  EXPECT_EQ(d.feed_text(R"(51-["ev",{"_placeholder":true,"num":1}])").error, ParseError::bad_placeholder);
  // Nothing is awaited after a refused binary header.
  EXPECT_EQ(d.feed_binary("x").error, ParseError::unexpected_binary);
  EXPECT_EQ(d.feed_text(R"(2["ok"])").status, Decoder::Status::packet);
}

TEST(SioDecoder, SizeLimits) {
  Limits limits;
  limits.max_packet_size = 48;
  Decoder d(limits);
  EXPECT_EQ(d.feed_text(R"(2["ev","................................................"])").error,
            ParseError::too_large);
  ASSERT_EQ(d.feed_text(R"(52-["ev",{"_placeholder":true,"num":1}])").status, Decoder::Status::need_more);
  EXPECT_EQ(d.feed_binary(std::string(48, 'a')).status, Decoder::Status::need_more);
  auto r = d.feed_binary(std::string(49, 'a'));
  EXPECT_EQ(r.status, Decoder::Status::error);
  EXPECT_EQ(r.error, ParseError::too_large);
  EXPECT_EQ(d.feed_binary("a").error, ParseError::unexpected_binary);
}

TEST(SioDecoder, AttachmentLimitFromLimits) {
  Limits limits;
  limits.max_attachments = 1;
  Decoder d(limits);
  EXPECT_EQ(d.feed_text(R"(52-["ev"])").error, ParseError::bad_attachments);
  EXPECT_EQ(d.feed_text(R"(51-["ev"])").status, Decoder::Status::need_more);
}

TEST(SioDecoder, Reset) {
  Decoder d;
  ASSERT_EQ(d.feed_text(R"(51-["ev",{"_placeholder":true,"num":0}])").status, Decoder::Status::need_more);
  d.reset();
  EXPECT_EQ(d.feed_binary("x").error, ParseError::unexpected_binary);
  EXPECT_EQ(d.feed_text(R"(2["ev"])").status, Decoder::Status::packet);
}

// --- round trips ----------------------------------------------------------------------------

TEST(SioRoundTrip, DecodeEncodeIsIdentityOnCanonicalText) {
  const char* texts[] = {
      "0",
      "0/admin,",
      R"(0{"token":"123"})",
      R"(0/custom,{"sid":"x"})",
      "1",
      "1/custom,",
      R"(2["ev",1,"two",{"three":[3]},null,true,false,-4,1.5,1e+21])",
      R"(2/admin,["ev"])",
      R"(2/admin,18446744073709551615["ev"])",
      R"(2[42])",
      "3/admin,12[]",
      R"(31["é😀\n"])",
      R"(4/nsp,{"message":"m","data":null})",
      R"(4"refused")",
      R"(51-["ev",{"_placeholder":true,"num":0}])",
      R"(63-/x,7[{"_placeholder":true,"num":2},{"_placeholder":true,"num":0}])",
  };
  for (const char* t : texts) {
    Packet p;
    ASSERT_FALSE(dec(t, p)) << t;
    EXPECT_EQ(enc(p), t);
  }
}

TEST(SioRoundTrip, EncodeDecodeIsIdentityOnPackets) {
  using socketio::sio::make_placeholder;
  const Packet packets[] = {
      make(PacketType::connect, "/", {}, nullptr),
      make(PacketType::connect, "/a/b", {}, J(R"({"k":[1,{}]})")),
      make(PacketType::disconnect, "/z", {}, nullptr),
      make(PacketType::event, "/", 0, J(R"(["ev"])")),
      make(PacketType::event, "/n", 77, J(R"([1,2,3])")),
      make(PacketType::ack, "/", 1, J("[]")),
      make(PacketType::connect_error, "/", {}, "nope"),
      make(PacketType::binary_event, "/b", 5, json::array{"bin", make_placeholder(0), make_placeholder(2)},
           3),
      make(PacketType::binary_ack, "/", 8, json::array{make_placeholder(0)}, 1),
  };
  for (const Packet& p : packets) {
    const std::string text = enc(p);
    Packet back;
    ASSERT_FALSE(dec(text, back)) << text;
    expect_same(back, p, text);
  }
}

TEST(SioRoundTrip, NonCanonicalInputReachesAFixpoint) {
  // Whitespace, a ',' after the root namespace, and doubles written in other forms all normalise
  // after one decode/encode, and stay put after that.
  const char* texts[] = {
      R"(2 [ "ev" , 1.0 , 2E2 , -0.0 , 1e-7 ] )",
      R"(2/,["ev"])",
      R"(2007["ev"])",
      R"(501-["ev",{"_placeholder":true,"num":0}])",
      R"(0{ "a" : 1 , "a" : 2 })",
  };
  for (const char* t : texts) {
    Packet p;
    ASSERT_FALSE(dec(t, p)) << t;
    const std::string once = enc(p);
    Packet q;
    ASSERT_FALSE(dec(once, q)) << once;
    EXPECT_EQ(enc(q), once) << t;
  }
  Packet p;
  ASSERT_FALSE(dec(R"(2 [ "ev" , 1.0 , 2E2 , -0.0 , 1e-7 ] )", p));
  EXPECT_EQ(enc(p), R"(2["ev",1,200,0,1e-7])");
  ASSERT_FALSE(dec(R"(2/,["ev"])", p));
  EXPECT_EQ(enc(p), R"(2["ev"])");
  ASSERT_FALSE(dec(R"(0{ "a" : 1 , "a" : 2 })", p));
  EXPECT_EQ(enc(p), R"(0{"a":2})");  // the last duplicate wins, as in JSON.parse
}

}  // namespace

// Like the reference, an EVENT or ACK without data decodes (and is dispatched as nothing / an ack
// with no arguments); the connection must not close for it.
TEST(SioDecode, AbsentPayloadIsValidForEventAndAck) {
  for (const char* text : {"2", "2/admin,", "27", "3", "31", "3/admin,4"}) {
    Packet p;
    EXPECT_FALSE(decode(text, p, Limits{})) << text;
    EXPECT_TRUE(p.data.is_null()) << text;
  }
}
