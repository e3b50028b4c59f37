// The json_v4 wire format (socket.io-client 2.x): the bytes the reference (socket.io 4.8 with
// allowEIO3) writes, and what it shares with json_v5.
#include "sio/encode.hpp"

#include <gtest/gtest.h>

using namespace socketio::sio;
namespace json = boost::json;

namespace {
std::string head(const EncodedPacket& p) {
  return p.head ? std::string(*p.head) : std::string("<null>");
}
}  // namespace

TEST(JsonV4, ConnectAnswerHasNoPayload) {
  const json::value reply = {{"sid", "abc"}};
  EXPECT_EQ(head(encode_simple(WireFormat::json_v4, PacketType::connect, "/", &reply)), "0");
  EXPECT_EQ(head(encode_simple(WireFormat::json_v4, PacketType::connect, "/chat", &reply)), "0/chat,");
  EXPECT_EQ(head(encode_simple(WireFormat::json_v5, PacketType::connect, "/chat", &reply)),
            "0/chat,{\"sid\":\"abc\"}");
}

TEST(JsonV4, ErrorsCarryTheValueTheyAreGiven) {
  const json::value text = "Not authorized";
  EXPECT_EQ(head(encode_simple(WireFormat::json_v4, PacketType::connect_error, "/", &text)), "4\"Not authorized\"");
  const json::value obj = {{"message", "Invalid namespace"}};
  EXPECT_EQ(head(encode_simple(WireFormat::json_v4, PacketType::connect_error, "/x", &obj)),
            "4/x,{\"message\":\"Invalid namespace\"}");
}

TEST(JsonV4, EventsAndBinaryAreTheV5Bytes) {
  json::array data{"ev", json::object{{"_placeholder", true}, {"num", 0}}};
  const std::vector<socketio::Bytes> att{std::make_shared<const std::string>("\x01\x02")};
  const auto v4 = encode_event(WireFormat::json_v4, "/", data, att, 7);
  const auto v5 = encode_event(WireFormat::json_v5, "/", data, att, 7);
  EXPECT_EQ(head(v4), "51-7[\"ev\",{\"_placeholder\":true,\"num\":0}]");
  EXPECT_EQ(head(v4), head(v5));
  ASSERT_EQ(v4.attachments.size(), 1u);
  EXPECT_EQ(*v4.attachments[0], "\x01\x02");
  // A broadcast encodes json_v4 once, in its own slot.
  const MultiEncoded multi(format_bit(WireFormat::json_v4) | format_bit(WireFormat::json_v5), "/", data, att,
                           std::nullopt);
  ASSERT_NE(multi.get(WireFormat::json_v4), nullptr);
  EXPECT_NE(multi.get(WireFormat::json_v4)->head, multi.get(WireFormat::json_v5)->head);  // two buffers
  EXPECT_EQ(multi.get(WireFormat::msgpack_v5), nullptr);
}
