// The WebSocket frame header codec: client headers parsed (every length form, masks, the errors
// RFC 6455 names), server headers written, close codes.
#include "net/ws_frame.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ws = socketio::net::ws;

namespace {

// A masked client frame: header (with the given length form) + mask + masked payload.
std::string client_frame(std::uint8_t first, const std::string& payload, int length_form = 0) {
  std::string f;
  f.push_back(static_cast<char>(first));
  const std::uint64_t n = payload.size();
  if (length_form == 0 && n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (length_form <= 16 && n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  for (unsigned char k : key) f.push_back(static_cast<char>(k));
  for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ key[i & 3]));
  return f;
}

std::string decode_payload(std::string frame, const ws::FrameHeader& h) {
  char* data = frame.data() + h.header_length;
  ws::unmask(data, static_cast<std::size_t>(h.payload_length), h.mask);
  return std::string(data, static_cast<std::size_t>(h.payload_length));
}

}  // namespace

TEST(WsFrame, ParsesEveryLengthForm) {
  for (int form : {0, 16, 64}) {
    for (std::size_t n : {0u, 5u, 125u, 126u, 1000u, 65535u, 65536u, 70000u}) {
      if (form == 0 && n >= 126) continue;
      if (form == 16 && n >= 65536) continue;
      const std::string payload(n, 'x');
      const auto frame = client_frame(0x81, payload, form);
      ws::FrameHeader h;
      ASSERT_EQ(ws::parse_client_header(frame, 1'000'000, h), ws::HeaderStatus::ok) << form << " " << n;
      EXPECT_TRUE(h.fin);
      EXPECT_EQ(h.opcode, ws::kText);
      EXPECT_EQ(h.payload_length, n);
      EXPECT_EQ(h.header_length + n, frame.size());
      EXPECT_EQ(decode_payload(frame, h), payload);
    }
  }
}

TEST(WsFrame, NeedsMoreUntilTheWholeHeaderIsThere) {
  const auto frame = client_frame(0x82, std::string(300, 'b'), 64);
  ws::FrameHeader h;
  for (std::size_t cut = 0; cut < 14; ++cut)
    EXPECT_EQ(ws::parse_client_header(std::string_view(frame).substr(0, cut), 1'000'000, h),
              ws::HeaderStatus::need_more)
        << cut;
  EXPECT_EQ(ws::parse_client_header(std::string_view(frame).substr(0, 14), 1'000'000, h),
            ws::HeaderStatus::ok);
  EXPECT_EQ(h.opcode, ws::kBinary);
}

TEST(WsFrame, ProtocolErrors) {
  ws::FrameHeader h;
  auto status = [&](std::string f) { return ws::parse_client_header(f, 1'000'000, h); };
  EXPECT_EQ(status(client_frame(0xC1, "x")), ws::HeaderStatus::protocol_error);  // RSV1 (no extension agreed)
  EXPECT_EQ(status(client_frame(0x83, "x")), ws::HeaderStatus::protocol_error);  // reserved opcode
  EXPECT_EQ(status(client_frame(0x8B, "x")), ws::HeaderStatus::protocol_error);  // reserved control opcode
  EXPECT_EQ(status(client_frame(0x09, "x")), ws::HeaderStatus::protocol_error);  // fragmented ping
  EXPECT_EQ(status(client_frame(0x89, std::string(126, 'p'))),
            ws::HeaderStatus::protocol_error);  // long ping
  std::string unmasked = "\x81\x01x";
  EXPECT_EQ(status(unmasked), ws::HeaderStatus::protocol_error);
  const std::string huge("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10);  // 64-bit length, top bit set
  EXPECT_EQ(status(huge), ws::HeaderStatus::protocol_error);
  // Errors in the first two bytes are reported at once, before the rest of the header arrives.
  EXPECT_EQ(status(std::string("\xC1\x80", 2)), ws::HeaderStatus::protocol_error);
}

TEST(WsFrame, TooBigIsReportedFromTheHeaderAlone) {
  ws::FrameHeader h;
  const std::string big("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff", 10);  // 2^63-1: never wraps a sum
  EXPECT_EQ(ws::parse_client_header(big, 1'000'000, h), ws::HeaderStatus::too_big);
  const auto frame = client_frame(0x82, std::string(1001, 'a'), 16);
  EXPECT_EQ(ws::parse_client_header(frame, 1000, h), ws::HeaderStatus::too_big);
  EXPECT_EQ(ws::parse_client_header(frame, 1001, h), ws::HeaderStatus::ok);
  // Control frames are bounded by the RFC, not by the message limit.
  EXPECT_EQ(ws::parse_client_header(client_frame(0x89, "ping"), 0, h), ws::HeaderStatus::ok);
}

// permessage-deflate (RFC 7692 §6.1): RSV1 only once agreed, and only on the first frame of a
// text or binary message.
TEST(WsFrame, Rsv1OnlyWhereDeflateAllowsIt) {
  ws::FrameHeader h;
  auto status = [&](const std::string& f, bool allow) { return ws::parse_client_header(f, 1000, h, allow); };
  EXPECT_EQ(status(client_frame(0xC1, "x"), true), ws::HeaderStatus::ok);  // compressed text
  EXPECT_TRUE(h.rsv1);
  EXPECT_EQ(h.opcode, ws::kText);
  EXPECT_EQ(status(client_frame(0x42, "x"), true),
            ws::HeaderStatus::ok);  // compressed binary, first fragment
  EXPECT_TRUE(h.rsv1);
  EXPECT_FALSE(h.fin);
  EXPECT_EQ(status(client_frame(0x81, "x"), true), ws::HeaderStatus::ok);  // uncompressed is still fine
  EXPECT_FALSE(h.rsv1);
  EXPECT_EQ(status(client_frame(0xC1, "x"), false), ws::HeaderStatus::protocol_error);  // not agreed
  EXPECT_EQ(status(client_frame(0xC0, "x"), true), ws::HeaderStatus::protocol_error);   // continuation
  EXPECT_EQ(status(client_frame(0x40, "x"), true),
            ws::HeaderStatus::protocol_error);  // non-final continuation
  EXPECT_EQ(status(client_frame(0xC9, "x"), true), ws::HeaderStatus::protocol_error);  // ping
  EXPECT_EQ(status(client_frame(0xCA, "x"), true), ws::HeaderStatus::protocol_error);  // pong
  EXPECT_EQ(status(client_frame(0xC8, ""), true), ws::HeaderStatus::protocol_error);   // close
  EXPECT_EQ(status(client_frame(0xE1, "x"), true), ws::HeaderStatus::protocol_error);  // RSV2 stays reserved
  EXPECT_EQ(status(client_frame(0xD1, "x"), true), ws::HeaderStatus::protocol_error);  // RSV3 too
  // The verdict on the first byte comes before the length is complete.
  EXPECT_EQ(status(std::string("\xC9", 1) + "\xfe", true), ws::HeaderStatus::protocol_error);
}

TEST(WsFrame, WritesServerHeaders) {
  char out[ws::kMaxServerHeader];
  EXPECT_EQ(ws::write_server_header(out, ws::kText, 5), 2u);
  EXPECT_EQ(static_cast<unsigned char>(out[0]), 0x81);
  EXPECT_EQ(out[1], 5);
  EXPECT_EQ(ws::write_server_header(out, ws::kBinary, 126), 4u);
  EXPECT_EQ(static_cast<unsigned char>(out[1]), 126);
  EXPECT_EQ((static_cast<unsigned char>(out[2]) << 8) | static_cast<unsigned char>(out[3]), 126);
  EXPECT_EQ(ws::write_server_header(out, ws::kBinary, 65536), 10u);
  EXPECT_EQ(static_cast<unsigned char>(out[1]), 127);
  EXPECT_EQ(static_cast<unsigned char>(out[7]), 1);  // 0x00 00 00 00 00 01 00 00
  EXPECT_EQ(static_cast<unsigned char>(out[8]), 0);
  EXPECT_EQ(ws::write_server_header(out, ws::kText, 5, true), 2u);
  EXPECT_EQ(static_cast<unsigned char>(out[0]), 0xC1);  // FIN + RSV1: a compressed message
}

TEST(WsFrame, CloseCodes) {
  EXPECT_EQ(ws::close_code(""), 0);
  EXPECT_EQ(ws::close_code(std::string("\x03", 1)), -1);
  EXPECT_EQ(ws::close_code(std::string("\x03\xe8", 2)), 1000);
  EXPECT_EQ(ws::close_code(std::string("\x03\xe8reason", 8)), 1000);
  EXPECT_EQ(ws::close_code(std::string("\x03\xed", 2)), -1);  // 1005 is never sent
  EXPECT_EQ(ws::close_code(std::string("\x0f\xa1", 2)), 4001);
  EXPECT_EQ(ws::close_code(std::string("\x00\x10", 2)), -1);
}
