// libFuzzer target for the msgpack parser (src/sio/parser/msgpack_packet + msgpack_value): the
// input is one binary Engine.IO message. Whatever decodes must re-encode to bytes that decode to the
// same packet (type, namespace, ack id; data and attachments up to notepack's number forms) and encoding
// reaches a fixpoint. The bare value
// codec gets the same input. Built by scripts/fuzz.sh.
#include "fuzz_check.hpp"
#include "sio/parser/msgpack_packet.hpp"
#include "sio/parser/msgpack_value.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace socketio::sio;

using socketio::fuzz::check;

bool same_bytes(const std::vector<socketio::Bytes>& a, const std::vector<socketio::Bytes>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (*a[i] != *b[i]) return false;
  return true;
}

std::string encode(const Packet& p, const std::vector<socketio::Bytes>& att) {
  std::string out;
  encode_msgpack_packet(p.type, p.nsp, p.id, p.data.is_null() ? nullptr : &p.data, att, out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_packet_size = 64 * 1024;
  limits.max_attachments = 8;
  limits.max_depth = 16;

  std::vector<socketio::Bytes> value_att;
  (void)decode_msgpack(in, value_att, MsgpackLimits{limits.max_depth, limits.max_attachments});

  Packet p;
  std::vector<socketio::Bytes> att;
  if (decode_msgpack_packet(in, p, att, limits)) return 0;
  check(p.attachments == att.size(), "attachment count");
  check(att.size() <= limits.max_attachments, "attachment limit");
  Limits roomy = limits;
  roomy.max_packet_size = SIZE_MAX;
  const std::string once = encode(p, att);
  Packet q;
  std::vector<socketio::Bytes> att2;
  const auto ec = decode_msgpack_packet(once, q, att2, roomy);
  check(!ec, "re-encoded packet decodes");
  check(q.type == p.type && q.nsp == p.nsp && q.id == p.id, "header round trip");
  // A duplicate map key can drop a binary value already read: its bytes stay unreferenced.
  check(att2.size() <= att.size(), "no attachment appears");
  // Data may change once (integral floats become integers as notepack writes them, CONNECT data
  // gains `pid: undefined`), then encoding is a fixpoint.
  check(q.data.kind() == p.data.kind(), "data kind round trip");
  const std::string twice = encode(q, att2);
  Packet r;
  std::vector<socketio::Bytes> att3;
  check(!decode_msgpack_packet(twice, r, att3, roomy), "second re-encoding decodes");
  check(same_bytes(att2, att3), "attachments round trip");
  check(encode(r, att3) == twice, "fixpoint");
  return 0;
}
