// libFuzzer target for the Socket.IO codec (src/sio/parser). The input is split on '\n' into
// Engine.IO messages: a line starting with 'B' is a binary message (the rest of the line), any
// other line a text message. The lines go through a Decoder, and each text line also through
// decode/encode on its own: whatever decodes must encode to text that decodes to the same packet
// and re-encodes to the same text. Built by scripts/fuzz.sh.
#include "fuzz_check.hpp"
#include "sio/parser/packet.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using socketio::sio::Decoder;
using socketio::sio::Limits;
using socketio::sio::Packet;
using socketio::sio::PacketType;

using socketio::fuzz::check;

bool is_binary_type(PacketType t) {
  return t == PacketType::binary_event || t == PacketType::binary_ack;
}

std::string encode(const Packet& p) {
  std::string out;
  socketio::sio::encode(p, out);
  return out;
}

// JSON.parse reads 1e999 as Infinity, a number, which JSON.stringify writes as null; so a packet
// holding one is valid yet its re-encoding may not be (["ev",1e999] -> [null]). Same in the reference.
bool has_non_finite(const boost::json::value& v) {
  if (v.is_double()) return !std::isfinite(v.get_double());
  if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      if (has_non_finite(e)) return true;
    }
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (has_non_finite(kv.value())) return true;
    }
  }
  return false;
}

// Numbers may change kind across a round trip (2.0 comes back as the integer 2), so packets are
// compared through their canonical text, plus the fields that text is made of.
void check_round_trip(const Packet& p, const Limits& limits) {
  const std::string once = encode(p);
  Packet q;
  const std::error_code ec = socketio::sio::decode(once, q, limits);
  if (ec == socketio::sio::ParseError::too_large) return;  // canonical text can be longer (1e21 vs 1e+21)
  if (ec == socketio::sio::ParseError::invalid_payload && has_non_finite(p.data)) return;
  check(!ec, "encoded packet decodes");
  check(q.type == p.type, "type survives");
  check(q.nsp == (p.nsp.empty() ? "/" : p.nsp), "namespace survives");
  check(q.id == p.id, "ack id survives");
  check(q.attachments == p.attachments, "attachment count survives");
  check(q.data.is_null() == p.data.is_null(), "presence of data survives");
  check(encode(q) == once, "encoding is a fixpoint");
  // The fast (Boost) and slow (JavaScript number) writers must both produce JSON that parses.
  if (!p.data.is_null()) {
    std::string json;
    socketio::sio::write_json(p.data, json);
    boost::json::error_code jec;
    (void)boost::json::parse(json, jec);
    check(!jec, "write_json output parses");
  }
}

void fuzz_text(std::string_view text) {
  Packet p;
  for (const Limits& limits : {Limits{}, Limits{2, 4, 64}}) {
    const std::error_code ec = socketio::sio::decode(text, p, limits);
    if (text.size() > limits.max_packet_size) check(ec == socketio::sio::ParseError::too_large, "size first");
    if (ec) continue;
    check(p.attachments <= limits.max_attachments, "attachment limit");
    check(is_binary_type(p.type) == (p.attachments > 0), "attachments only on binary types");
    if (is_binary_type(p.type))
      check(socketio::sio::placeholders_valid(p.data, p.attachments), "placeholders");
    check(!p.nsp.empty() && p.nsp.front() == '/', "namespace starts with '/'");
    check(p.nsp.find(',') == std::string::npos, "namespace has no ','");
    check_round_trip(p, limits);
  }
}

void fuzz_decoder(const std::vector<std::string_view>& lines) {
  Decoder decoder(Limits{3, 32, 4096});
  bool awaiting = false;
  for (std::string_view line : lines) {
    const bool binary = !line.empty() && line.front() == 'B';
    const Decoder::Result r = binary ? decoder.feed_binary(line.substr(1)) : decoder.feed_text(line);
    switch (r.status) {
      case Decoder::Status::error:
        check(static_cast<bool>(r.error), "an error has a code");
        if (binary && !awaiting)
          check(r.error == socketio::sio::ParseError::unexpected_binary, "stray binary");
        if (!binary && awaiting) check(r.error == socketio::sio::ParseError::unexpected_text, "stray text");
        awaiting = false;
        break;
      case Decoder::Status::need_more:
        check(!r.error, "need_more has no error");
        check(binary || !awaiting, "need_more after text only when idle");
        awaiting = true;
        break;
      case Decoder::Status::packet: {
        check(!r.error, "packet has no error");
        const Packet& p = decoder.packet();
        check(decoder.attachments().size() == p.attachments, "all attachments collected");
        if (is_binary_type(p.type))
          check(socketio::sio::placeholders_valid(p.data, p.attachments), "placeholders");
        std::size_t num = 0;
        if (p.data.is_array() && !p.data.get_array().empty() &&
            socketio::sio::is_placeholder(p.data.get_array().back(), num) && is_binary_type(p.type)) {
          check(num < decoder.attachments().size(), "placeholder in range");
        }
        check_round_trip(p, Limits{3, 32, 4096});
        awaiting = false;
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start <= input.size();) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    lines.push_back(input.substr(start, end - start));
    start = end + 1;
  }
  fuzz_text(input);
  for (std::string_view line : lines) {
    if (line.empty() || line.front() != 'B') fuzz_text(line);
  }
  fuzz_decoder(lines);
  return 0;
}
