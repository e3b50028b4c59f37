#include "adapter/redis/classic_codec.hpp"

#include "adapter/redis/msgpack_codec.hpp"

#include <boost/json/serialize.hpp>

namespace socketio::redis {

namespace json = boost::json;
using cluster::ClusterMessage;
using cluster::MessageType;

namespace {

// The classic adapter's RequestType.
enum RequestType : std::int64_t {
  kSockets = 0,
  kAllRooms = 1,
  kRemoteJoin = 2,
  kRemoteLeave = 3,
  kRemoteDisconnect = 4,
  kRemoteFetch = 5,
  kServerSideEmit = 6,
  kBroadcast = 7,
  kBroadcastClientCount = 8,
  kBroadcastAck = 9,
};

std::optional<std::string> request_id(const json::object& o, bool required) {
  const auto* v = o.if_contains("requestId");
  if (!v) return required ? std::nullopt : std::optional<std::string>(std::string());
  if (!v->is_string() || v->get_string().size() > cluster::kMaxIdLength) return std::nullopt;
  if (required && v->get_string().empty()) return std::nullopt;
  return std::string(v->get_string());
}

}  // namespace

std::string encode_classic_broadcast(const ClusterMessage& m) {
  return encode_broadcast(m.uid, m.packet, m.opts);
}

std::string encode_classic_request(const ClusterMessage& m) {
  json::object req;
  req["uid"] = m.uid;
  if (!m.request_id.empty()) req["requestId"] = m.request_id;
  switch (m.type) {
    case MessageType::broadcast: {  // with acks: MessagePack, it may carry binary
      req["type"] = kBroadcast;
      req["packet"] = cluster::packet_to_json(m);
      req["opts"] = options_to_json(m.opts, true);
      std::string out;
      encode_msgpack(out, req, m.packet.attachments);
      return out;
    }
    case MessageType::sockets_join:
    case MessageType::sockets_leave:
      req["type"] = m.type == MessageType::sockets_join ? kRemoteJoin : kRemoteLeave;
      req["opts"] = options_to_json(m.opts, false);
      req["rooms"] = cluster::to_json(m.rooms);
      break;
    case MessageType::disconnect_sockets:
      req["type"] = kRemoteDisconnect;
      req["opts"] = options_to_json(m.opts, false);
      req["close"] = m.close;
      break;
    case MessageType::fetch_sockets:
      req["type"] = kRemoteFetch;
      // Node's request has no flags; ours carries the detail asked for (Node ignores it).
      req["opts"] = options_to_json(m.opts, m.opts.flags.detail.has_value());
      break;
    case MessageType::server_side_emit:
      req["type"] = kServerSideEmit;
      req["data"] = m.args.values();
      break;
    default:
      return {};
  }
  return json::serialize(req);
}

std::string encode_classic_response(const ClusterMessage& m) {
  json::object res;
  switch (m.type) {
    case MessageType::fetch_sockets_response: {
      res["requestId"] = m.request_id;
      json::array list;
      for (const auto& s : m.sockets) {
        if (m.ids_only)
          list.emplace_back(s.id);
        else
          list.emplace_back(cluster::socket_to_json(s));
      }
      res["sockets"] = std::move(list);
      break;
    }
    case MessageType::all_rooms_response:
      res["requestId"] = m.request_id;
      res["rooms"] = cluster::to_json(m.rooms);
      break;
    case MessageType::server_side_emit_response:
      res["type"] = kServerSideEmit;
      res["requestId"] = m.request_id;
      res["data"] = cluster::first_or_null(m.args);
      break;
    case MessageType::broadcast_client_count:
      res["type"] = kBroadcastClientCount;
      res["requestId"] = m.request_id;
      res["clientCount"] = m.client_count;
      break;
    case MessageType::broadcast_ack: {  // may carry binary: MessagePack, as the Node adapter sends it
      res["type"] = kBroadcastAck;
      res["requestId"] = m.request_id;
      res["packet"] = cluster::first_or_null(m.args);
      std::string out;
      encode_msgpack(out, res, m.args.attachments());
      return out;
    }
    default:
      return {};
  }
  return json::serialize(res);
}

std::optional<ClusterMessage> decode_classic_broadcast(std::string_view payload) {
  auto b = decode_broadcast(payload);
  if (!b) return std::nullopt;
  ClusterMessage m;
  m.type = MessageType::broadcast;
  m.uid = std::move(b->uid);
  m.nsp = b->packet.nsp;
  m.packet = std::move(b->packet);
  m.opts = std::move(b->opts);
  return m;
}

std::optional<ClusterMessage> decode_classic_request(std::string_view payload, std::string_view nsp) {
  std::vector<Bytes> attachments;
  auto v = cluster::decode_json_or_msgpack(payload, attachments);
  if (!v || !v->is_object()) return std::nullopt;
  auto& req = v->get_object();
  const auto type = checked_uint(req.if_contains("type"), kBroadcastAck);
  if (!type) return std::nullopt;
  ClusterMessage m;
  m.uid = cluster::string_of(req, "uid");
  m.nsp = std::string(nsp);  // the channel names the namespace
  const json::value* opts = req.if_contains("opts");
  if (opts) m.opts = options_from_json(*opts);
  const bool needs_id =
      *type == kSockets || *type == kAllRooms || *type == kRemoteFetch || *type == kBroadcast;
  auto id = request_id(req, needs_id);
  if (!id) return std::nullopt;
  m.request_id = std::move(*id);
  switch (*type) {
    case kSockets:
    case kRemoteFetch:
      m.type = MessageType::fetch_sockets;
      m.ids_only = *type == kSockets;
      if (*type == kSockets && !opts) m.opts.rooms = cluster::strings_of(req.if_contains("rooms"));  // pre-7
      return m;
    case kAllRooms:
      m.type = MessageType::all_rooms;
      return m;
    case kRemoteJoin:
    case kRemoteLeave:
    case kRemoteDisconnect:
      // Only the {opts} form (socketsJoin & co.); the per-socket {sid} form is from adapters < 7.
      if (!opts) return std::nullopt;
      m.type = *type == kRemoteJoin    ? MessageType::sockets_join
               : *type == kRemoteLeave ? MessageType::sockets_leave
                                       : MessageType::disconnect_sockets;
      m.rooms = cluster::strings_of(req.if_contains("rooms"));
      if (const auto* c = req.if_contains("close")) m.close = c->is_bool() && c->get_bool();
      return m;
    case kServerSideEmit: {
      const auto* data = req.if_contains("data");
      if (!data || !data->is_array() || data->get_array().empty() || !data->get_array()[0].is_string())
        return std::nullopt;
      m.type = MessageType::server_side_emit;
      m.args = Args(data->get_array(), std::move(attachments));
      return m;
    }
    case kBroadcast: {
      const auto* p = req.if_contains("packet");
      if (!p || !p->is_object()) return std::nullopt;
      const auto* data = p->get_object().if_contains("data");
      if (!data || !data->is_array()) return std::nullopt;
      m.type = MessageType::broadcast;
      m.packet.nsp = m.nsp;
      m.packet.data = data->get_array();
      m.packet.attachments = std::move(attachments);
      return m;
    }
    default:
      return std::nullopt;
  }
}

std::optional<ClusterMessage> decode_classic_response(std::string_view payload, std::string_view nsp) {
  std::vector<Bytes> attachments;
  auto v = cluster::decode_json_or_msgpack(payload, attachments);
  if (!v || !v->is_object()) return std::nullopt;
  auto& res = v->get_object();
  auto id = request_id(res, true);
  if (!id) return std::nullopt;
  ClusterMessage m;
  m.nsp = std::string(nsp);
  m.request_id = std::move(*id);
  const auto* type = res.if_contains("type");
  auto answer = [&](const char* key) {
    json::array a;
    const auto* x = res.if_contains(key);
    a.push_back(x ? *x : json::value(nullptr));
    m.args = Args(std::move(a), std::move(attachments));
  };
  if (type) {
    const auto t = checked_uint(type, kBroadcastAck);
    if (t == std::optional<std::uint64_t>(kBroadcastClientCount)) {
      const auto n = checked_uint(res.if_contains("clientCount"), cluster::kMaxClientCount);
      if (!n) return std::nullopt;
      m.type = MessageType::broadcast_client_count;
      m.client_count = static_cast<std::size_t>(*n);
      return m;
    }
    if (t == std::optional<std::uint64_t>(kBroadcastAck)) {
      m.type = MessageType::broadcast_ack;
      answer("packet");
      return m;
    }
    if (t == std::optional<std::uint64_t>(kServerSideEmit)) {
      m.type = MessageType::server_side_emit_response;
      answer("data");
      return m;
    }
    return std::nullopt;
  }
  if (const auto* list = res.if_contains("sockets"); list && list->is_array()) {
    m.type = MessageType::fetch_sockets_response;
    for (const auto& x : list->get_array())
      if (auto info = cluster::socket_from_json(x)) m.sockets.push_back(std::move(*info));
    return m;
  }
  if (res.contains("rooms")) {
    m.type = MessageType::all_rooms_response;
    m.rooms = cluster::strings_of(res.if_contains("rooms"));
    return m;
  }
  return std::nullopt;
}

}  // namespace socketio::redis
