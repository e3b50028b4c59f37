// libFuzzer target for the Engine.IO codec (src/eio/parser): the input is used as a v4 polling
// body, a v3 body in both framings, a single text packet and a WebSocket binary frame. Whatever
// decodes must re-encode into something that decodes to the same packets. Built by scripts/fuzz.sh.
#include "eio/parser/packet.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using socketio::eio::Limits;
using socketio::eio::Packet;
using socketio::eio::PacketView;

using socketio::fuzz::check;

bool same(const Packet& a, const Packet& b) {
  return a.type == b.type && a.binary == b.binary && a.data == b.data;
}

bool same(const std::vector<Packet>& a, const std::vector<Packet>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

std::vector<PacketView> views(const std::vector<Packet>& packets) {
  std::vector<PacketView> v;
  v.reserve(packets.size());
  for (const Packet& p : packets) v.push_back({p.type, p.binary, p.data});
  return v;
}

bool any_binary(const std::vector<Packet>& packets) {
  for (const Packet& p : packets) {
    if (p.binary) return true;
  }
  return false;
}

void fuzz_v4(std::string_view input) {
  std::vector<Packet> packets;
  if (socketio::eio::decode_payload(input, packets, Limits{})) return;
  check(!packets.empty(), "v4: a decoded body has packets");
  std::string body;
  socketio::eio::encode_payload(views(packets), body);
  // Text packets are copied verbatim, so without base64 the body comes back byte for byte.
  if (!any_binary(packets)) check(body == input, "v4: text-only body re-encodes identically");
  std::vector<Packet> again;
  check(!socketio::eio::decode_payload(body, again, Limits{}), "v4: re-encoded body decodes");
  check(same(packets, again), "v4: round trip keeps packets");
}

void fuzz_v3(std::string_view input, bool binary_body) {
  std::vector<Packet> packets;
  if (socketio::eio::decode_payload_v3(input, binary_body, packets, Limits{})) return;
  for (bool supports_binary : {false, true}) {
    std::string body;
    const bool xhr2 = socketio::eio::encode_payload_v3(views(packets), supports_binary, body);
    check(xhr2 == (supports_binary && any_binary(packets)), "v3: framing choice");
    std::vector<Packet> again;
    check(!socketio::eio::decode_payload_v3(body, xhr2, again, Limits{}), "v3: re-encoded body decodes");
    check(same(packets, again), "v3: round trip keeps packets");
  }
}

void fuzz_limits(std::string_view input) {
  // Tight limits: refusals must be clean, and what passes must respect them.
  Limits limits;
  limits.max_payload = 64;
  limits.max_packets = 3;
  for (int mode = 0; mode < 3; ++mode) {
    std::vector<Packet> packets;
    const std::error_code ec = mode == 0
                                   ? socketio::eio::decode_payload(input, packets, limits)
                                   : socketio::eio::decode_payload_v3(input, mode == 2, packets, limits);
    if (input.size() > limits.max_payload) {
      check(ec == socketio::eio::ParseError::payload_too_large, "limits: size checked first");
    }
    if (!ec) check(packets.size() <= limits.max_packets, "limits: packet count respected");
  }
}

void fuzz_packet(std::string_view input) {
  Packet p;
  if (!socketio::eio::decode_packet(input, p)) {
    std::string s;
    socketio::eio::encode_packet({p.type, p.binary, p.data}, s);
    if (!p.binary) check(s == input, "packet: text re-encodes identically");
    Packet q;
    check(!socketio::eio::decode_packet(s, q) && same(p, q), "packet: round trip");
  }
  if (!socketio::eio::decode_packet_v3(input, p)) {
    std::string s;
    socketio::eio::encode_packet_v3({p.type, p.binary, p.data}, s);
    Packet q;
    check(!socketio::eio::decode_packet_v3(s, q) && same(p, q), "packet v3: round trip");
  }
  for (int protocol : {3, 4}) {
    if (!socketio::eio::decode_binary_frame(input, protocol, p)) {
      check(p.binary && p.data.size() + (protocol == 3 ? 1 : 0) == input.size(), "binary frame: size");
    }
  }
  (void)socketio::eio::utf16_length(input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_v4(input);
  fuzz_v3(input, false);
  fuzz_v3(input, true);
  fuzz_limits(input);
  fuzz_packet(input);
  return 0;
}
