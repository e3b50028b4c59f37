#include "adapter/redis/streams_codec.hpp"

#include "adapter/redis/msgpack_codec.hpp"
#include "core/base64.hpp"
#include "core/utf8.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <limits>

namespace socketio::redis {

namespace json = boost::json;
using cluster::ClusterMessage;
using cluster::MessageType;

namespace {

std::optional<std::uint64_t> decimal(std::string_view s) noexcept {
  std::uint64_t n = 0;
  if (s.empty() || s.size() > 20) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

// The data of a message, as the reference encodes it: only the kinds that may carry binary are
// checked for it (hasBinary); any other is JSON.
bool may_carry_binary(MessageType t) noexcept {
  return t == MessageType::broadcast || t == MessageType::fetch_sockets_response ||
         t == MessageType::server_side_emit || t == MessageType::server_side_emit_response ||
         t == MessageType::broadcast_ack;
}

const std::vector<Bytes>& attachments_of(const ClusterMessage& m) {
  return m.type == MessageType::broadcast ? m.packet.attachments : m.args.attachments();
}

}  // namespace

std::string StreamId::str() const {
  return std::to_string(ms) + "-" + std::to_string(seq);
}

StreamId StreamId::next() const noexcept {
  if (seq == std::numeric_limits<std::uint64_t>::max()) return {ms + 1, 0};
  return {ms, seq + 1};
}

std::optional<StreamId> parse_stream_id(std::string_view s) noexcept {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto ms = decimal(s.substr(0, dash));
  const auto seq = decimal(s.substr(dash + 1));
  if (!ms || !seq) return std::nullopt;
  return StreamId{*ms, *seq};
}

bool is_ephemeral(const ClusterMessage& m) noexcept {
  return (m.type == MessageType::broadcast && !m.request_id.empty()) ||
         m.type == MessageType::server_side_emit || m.type == MessageType::fetch_sockets;
}

StreamEntry encode_stream_entry(const ClusterMessage& m) {
  StreamEntry e;
  e.fields.reserve(4);
  e.fields.emplace_back("uid", m.uid);
  e.fields.emplace_back("nsp", m.nsp);
  e.fields.emplace_back("type", std::to_string(static_cast<std::int64_t>(m.type)));
  auto msg = cluster::cluster_message_to_json(m);
  auto* data = msg.if_contains("data");
  if (!data) return e;
  const auto& attachments = attachments_of(m);
  if (may_carry_binary(m.type) && !attachments.empty()) {
    std::string packed;
    encode_msgpack(packed, *data, attachments);
    e.fields.emplace_back("data", core::base64_encode(packed));
  } else {
    e.fields.emplace_back("data", json::serialize(*data));
  }
  return e;
}

std::string_view field_of(const FieldsView& fields, std::string_view name) noexcept {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

std::optional<ClusterMessage> decode_stream_entry(const FieldsView& fields) {
  const auto nsp = field_of(fields, "nsp");
  const auto uid = field_of(fields, "uid");
  const auto type = decimal(field_of(fields, "type"));
  if (nsp.empty() || !type || *type == 0 || *type > static_cast<std::uint64_t>(MessageType::adapter_close) ||
      !core::is_valid_utf8(nsp) || !core::is_valid_utf8(uid))
    return std::nullopt;
  json::object msg;
  msg["type"] = *type;
  msg["uid"] = uid;
  msg["nsp"] = nsp;
  std::vector<Bytes> attachments;
  if (const auto data = field_of(fields, "data"); !data.empty()) {
    if (data.front() == '{') {
      boost::system::error_code ec;
      auto v = json::parse(data, ec);  // depth limited to 32 by default
      if (ec) return std::nullopt;
      msg["data"] = std::move(v);
    } else {
      const auto packed = core::base64_decode(data);
      if (!packed) return std::nullopt;
      auto v = decode_msgpack(*packed, attachments);
      if (!v) return std::nullopt;
      // A placeholder-shaped map naming no bin of this entry: not relayed as one.
      drop_invalid_placeholders(*v, attachments.size());
      msg["data"] = std::move(*v);
    }
  }
  return cluster::cluster_message_from_json(json::value(std::move(msg)), std::move(attachments));
}

std::string encode_streams_pubsub(const ClusterMessage& m) {
  std::string out;
  encode_msgpack(out, json::value(cluster::cluster_message_to_json(m)), attachments_of(m));
  return out;
}

std::string encode_session(const PersistedSession& s) {
  std::string packed;
  sio::msgpack_put_map(packed, 4);
  sio::msgpack_put_str(packed, "sid");
  sio::msgpack_put_str(packed, s.sid);
  sio::msgpack_put_str(packed, "pid");
  sio::msgpack_put_str(packed, s.pid);
  sio::msgpack_put_str(packed, "rooms");
  sio::msgpack_put_array(packed, static_cast<std::uint32_t>(s.rooms.size()));
  for (const auto& r : s.rooms) sio::msgpack_put_str(packed, r);
  sio::msgpack_put_str(packed, "data");
  if (s.data.is_null())
    sio::msgpack_put_map(packed, 0);
  else
    encode_msgpack(packed, s.data, {});
  return core::base64_encode(packed);
}

std::optional<PersistedSession> decode_session(std::string_view base64) {
  const auto packed = core::base64_decode(base64);
  if (!packed) return std::nullopt;
  std::vector<Bytes> attachments;
  auto v = decode_msgpack(*packed, attachments);
  if (!v || !v->is_object()) return std::nullopt;
  auto& o = v->get_object();
  PersistedSession s;
  s.sid = cluster::string_of(o, "sid");
  s.pid = cluster::string_of(o, "pid");
  if (s.sid.empty() || s.pid.empty() || s.sid.size() > cluster::kMaxIdLength ||
      s.pid.size() > cluster::kMaxIdLength)
    return std::nullopt;
  s.rooms = cluster::strings_of(o.if_contains("rooms"));
  if (auto* d = o.if_contains("data")) {
    s.data = std::move(*d);
    // Binary in socket.data (a Node Buffer) has nowhere to go in a C++ socket's data.
    drop_invalid_placeholders(s.data, 0);
  }
  return s;
}

}  // namespace socketio::redis
