#include "adapter/cluster/cluster_message.hpp"

#include "adapter/redis/msgpack_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace socketio::cluster {

namespace json = boost::json;
using redis::checked_uint;

namespace {

json::object string_map_to_json(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

std::map<std::string, std::string> string_map(const json::value* v) {
  std::map<std::string, std::string> m;
  if (!v || !v->is_object()) return m;
  for (const auto& kv : v->get_object()) {
    if (kv.value().is_string())
      m[std::string(kv.key())] = std::string(kv.value().get_string());
    else
      m[std::string(kv.key())] = json::serialize(kv.value());
  }
  return m;
}

// An id from the wire: a string of sane length (empty when absent).
std::optional<std::string> id_of(const json::object& o) {
  const auto* v = o.if_contains("requestId");
  if (!v) return std::string();
  if (!v->is_string() || v->get_string().size() > kMaxIdLength) return std::nullopt;
  return std::string(v->get_string());
}

}  // namespace

bool is_response(MessageType t) noexcept {
  switch (t) {
    case MessageType::fetch_sockets_response:
    case MessageType::server_side_emit_response:
    case MessageType::broadcast_client_count:
    case MessageType::broadcast_ack:
    case MessageType::all_rooms_response:
      return true;
    default:
      return false;
  }
}

json::object packet_to_json(const ClusterMessage& m) {
  json::object p;
  p["type"] = 2;
  p["data"] = m.packet.data;
  p["nsp"] = m.nsp;
  return p;
}

json::value first_or_null(const Args& a) {
  return a.empty() ? json::value(nullptr) : a[0];
}

json::array to_json(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

std::vector<std::string> strings_of(const json::value* v) {
  std::vector<std::string> out;
  if (!v || !v->is_array()) return out;
  for (const auto& x : v->get_array())
    if (x.is_string()) out.emplace_back(x.get_string());
  return out;
}

std::string string_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

json::object socket_to_json(const SocketInfo& s) {
  const auto& h = s.handshake;
  json::object hs;
  hs["headers"] = string_map_to_json(h.headers);
  hs["time"] = h.time;
  hs["address"] = h.address;
  hs["xdomain"] = h.xdomain;
  hs["secure"] = h.secure;
  hs["issued"] = h.issued;
  hs["url"] = h.url;
  hs["query"] = string_map_to_json(h.query);
  hs["auth"] = h.auth;
  json::object o;
  o["id"] = s.id;
  o["handshake"] = std::move(hs);
  o["rooms"] = to_json(s.rooms);
  o["data"] = s.data;
  return o;
}

std::optional<SocketInfo> socket_from_json(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  SocketInfo s;
  s.id = string_of(o, "id");
  if (s.id.empty()) return std::nullopt;
  if (const auto* hv = o.if_contains("handshake"); hv && hv->is_object()) {
    const auto& h = hv->get_object();
    s.handshake.headers = string_map(h.if_contains("headers"));
    s.handshake.query = string_map(h.if_contains("query"));
    if (const auto* a = h.if_contains("auth"); a && a->is_object()) s.handshake.auth = a->get_object();
    s.handshake.address = string_of(h, "address");
    s.handshake.time = string_of(h, "time");
    s.handshake.url = string_of(h, "url");
    if (const auto* x = h.if_contains("secure"); x && x->is_bool()) s.handshake.secure = x->get_bool();
    if (const auto* x = h.if_contains("xdomain"); x && x->is_bool()) s.handshake.xdomain = x->get_bool();
    // Milliseconds since the epoch: a JavaScript number, exact up to 2^53.
    if (const auto ms = checked_uint(h.if_contains("issued"), 9007199254740992ULL))
      s.handshake.issued = static_cast<std::int64_t>(*ms);
  }
  s.rooms = strings_of(o.if_contains("rooms"));
  if (const auto* d = o.if_contains("data")) s.data = *d;
  return s;
}

std::optional<json::value> decode_json_or_msgpack(std::string_view payload, std::vector<Bytes>& attachments) {
  if (!payload.empty() && payload[0] == '{') {
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);  // depth limited to 32 by default
    if (ec) return std::nullopt;
    return v;
  }
  const std::size_t first = attachments.size();
  auto v = redis::decode_msgpack(payload, attachments);
  // A map shaped like a placeholder but naming no bin of this message: not relayed as one.
  if (v && attachments.size() > first) redis::drop_invalid_placeholders(*v, attachments.size());
  return v;
}

json::object cluster_message_to_json(const ClusterMessage& m) {
  json::object d;
  auto with_id = [&] {
    if (!m.request_id.empty()) d["requestId"] = m.request_id;
  };
  switch (m.type) {
    case MessageType::broadcast:
      d["packet"] = packet_to_json(m);
      with_id();
      d["opts"] = redis::options_to_json(m.opts, true);
      break;
    case MessageType::sockets_join:
    case MessageType::sockets_leave:
      d["opts"] = redis::options_to_json(m.opts, true);
      d["rooms"] = to_json(m.rooms);
      break;
    case MessageType::disconnect_sockets:
      d["opts"] = redis::options_to_json(m.opts, true);
      d["close"] = m.close;
      break;
    case MessageType::fetch_sockets:
      d["opts"] = redis::options_to_json(m.opts, true);
      with_id();
      break;
    case MessageType::fetch_sockets_response: {
      with_id();
      json::array list;
      for (const auto& s : m.sockets) list.emplace_back(socket_to_json(s));
      d["sockets"] = std::move(list);
      break;
    }
    case MessageType::server_side_emit:
      with_id();
      d["packet"] = m.args.values();
      break;
    case MessageType::server_side_emit_response:
    case MessageType::broadcast_ack:
      with_id();
      d["packet"] = first_or_null(m.args);
      break;
    case MessageType::broadcast_client_count:
      with_id();
      d["clientCount"] = m.client_count;
      break;
    default:
      break;
  }
  json::object msg;
  msg["type"] = static_cast<std::int64_t>(m.type);
  if (!d.empty()) msg["data"] = std::move(d);
  msg["uid"] = m.uid;
  msg["nsp"] = m.nsp;
  return msg;
}

std::string encode_cluster_message(const ClusterMessage& m) {
  const auto& attachments = m.type == MessageType::broadcast ? m.packet.attachments : m.args.attachments();
  auto msg = cluster_message_to_json(m);
  if (attachments.empty()) return json::serialize(msg);
  std::string out;
  redis::encode_msgpack(out, msg, attachments);
  return out;
}

std::optional<ClusterMessage> cluster_message_from_json(json::value v, std::vector<Bytes> attachments) {
  if (!v.is_object()) return std::nullopt;
  auto& o = v.get_object();
  const auto type =
      checked_uint(o.if_contains("type"), static_cast<std::uint64_t>(MessageType::adapter_close));
  if (!type || *type == 0) return std::nullopt;
  ClusterMessage m;
  m.type = static_cast<MessageType>(*type);
  m.uid = string_of(o, "uid");
  m.nsp = string_of(o, "nsp");
  static const json::object empty;
  const auto* dv = o.if_contains("data");
  const json::object& d = dv && dv->is_object() ? dv->get_object() : empty;
  auto id = id_of(d);
  if (!id) return std::nullopt;
  m.request_id = std::move(*id);
  const auto* opts = d.if_contains("opts");
  if (opts) m.opts = redis::options_from_json(*opts);
  switch (m.type) {
    case MessageType::broadcast: {
      const auto* p = d.if_contains("packet");
      if (!p || !p->is_object()) return std::nullopt;
      const auto* data = p->get_object().if_contains("data");
      if (!data || !data->is_array()) return std::nullopt;
      m.packet.nsp = m.nsp;
      m.packet.data = data->get_array();
      m.packet.attachments = std::move(attachments);
      return m;
    }
    case MessageType::sockets_join:
    case MessageType::sockets_leave:
      if (!opts) return std::nullopt;
      m.rooms = strings_of(d.if_contains("rooms"));
      return m;
    case MessageType::disconnect_sockets: {
      if (!opts) return std::nullopt;
      const auto* c = d.if_contains("close");
      m.close = c && c->is_bool() && c->get_bool();
      return m;
    }
    case MessageType::fetch_sockets:
      if (m.request_id.empty()) return std::nullopt;
      return m;
    case MessageType::fetch_sockets_response: {
      const auto* list = d.if_contains("sockets");
      if (m.request_id.empty() || !list || !list->is_array()) return std::nullopt;
      for (const auto& x : list->get_array())
        if (auto info = socket_from_json(x)) m.sockets.push_back(std::move(*info));
      return m;
    }
    case MessageType::server_side_emit: {
      const auto* p = d.if_contains("packet");
      if (!p || !p->is_array() || p->get_array().empty() || !p->get_array()[0].is_string())
        return std::nullopt;
      m.args = Args(p->get_array(), std::move(attachments));
      return m;
    }
    case MessageType::server_side_emit_response:
    case MessageType::broadcast_ack: {
      if (m.request_id.empty()) return std::nullopt;
      json::array a;
      const auto* p = d.if_contains("packet");
      a.push_back(p ? *p : json::value(nullptr));
      m.args = Args(std::move(a), std::move(attachments));
      return m;
    }
    case MessageType::broadcast_client_count: {
      const auto n = checked_uint(d.if_contains("clientCount"), kMaxClientCount);
      if (m.request_id.empty() || !n) return std::nullopt;
      m.client_count = static_cast<std::size_t>(*n);
      return m;
    }
    default:
      return m;  // heartbeats, ADAPTER_CLOSE: no data
  }
}

std::optional<ClusterMessage> decode_cluster_message(std::string_view payload) {
  std::vector<Bytes> attachments;
  auto v = decode_json_or_msgpack(payload, attachments);
  if (!v) return std::nullopt;
  return cluster_message_from_json(std::move(*v), std::move(attachments));
}

}  // namespace socketio::cluster
