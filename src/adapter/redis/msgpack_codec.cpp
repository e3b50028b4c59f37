#include "adapter/redis/msgpack_codec.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <cmath>
#include <cstdint>

namespace socketio::redis {

namespace json = boost::json;

namespace {

std::string room_text(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  return {};
}

std::vector<std::string> rooms_from(const json::value* v) {
  std::vector<std::string> rooms;
  if (!v || !v->is_array()) return rooms;
  for (const auto& r : v->get_array()) {
    if (r.is_string() || r.is_int64() || r.is_uint64()) rooms.push_back(room_text(r));
  }
  return rooms;
}

// A broadcast's timeout travels as milliseconds; setTimeout's own ceiling (2^31 - 1 ms, ~24.8
// days) is the largest one Node can honour.
constexpr std::uint64_t kMaxTimeoutMs = 2147483647;

}  // namespace

std::optional<std::uint64_t> checked_uint(const json::value* v, std::uint64_t max) {
  if (!v) return std::nullopt;
  if (v->is_int64()) {
    const auto n = v->get_int64();
    if (n < 0 || static_cast<std::uint64_t>(n) > max) return std::nullopt;
    return static_cast<std::uint64_t>(n);
  }
  if (v->is_uint64()) {
    if (v->get_uint64() > max) return std::nullopt;
    return v->get_uint64();
  }
  if (v->is_double()) {
    const double d = v->get_double();
    // Compared as doubles first: converting an out-of-range double is undefined behaviour.
    if (!std::isfinite(d) || d < 0 || std::trunc(d) != d || d > 9007199254740992.0 ||
        d > static_cast<double>(max))
      return std::nullopt;
    return static_cast<std::uint64_t>(d);
  }
  return std::nullopt;
}

std::size_t drop_invalid_placeholders(json::value& v, std::size_t attachments) {
  if (v.is_array()) {
    std::size_t n = 0;
    for (auto& e : v.get_array()) n += drop_invalid_placeholders(e, attachments);
    return n;
  }
  if (!v.is_object()) return 0;
  auto& o = v.get_object();
  const auto* flag = o.if_contains("_placeholder");
  if (flag && flag->is_bool() && flag->get_bool() && o.size() == 2 && o.contains("num")) {
    if (attachments > 0 && checked_uint(o.if_contains("num"), attachments - 1)) return 0;
    v = nullptr;
    return 1;
  }
  std::size_t n = 0;
  for (auto& kv : o) n += drop_invalid_placeholders(kv.value(), attachments);
  return n;
}

json::object options_to_json(const BroadcastOptions& opts, bool with_flags) {
  json::object o;
  json::array rooms;
  for (const auto& r : opts.rooms) rooms.emplace_back(r);
  json::array except;
  for (const auto& r : opts.except) except.emplace_back(r);
  o["rooms"] = std::move(rooms);
  o["except"] = std::move(except);
  if (with_flags) {
    // Node only sets the flags the user asked for; absent means the default.
    json::object flags;
    if (opts.flags.volatile_) flags["volatile"] = true;
    if (!opts.flags.compress) flags["compress"] = false;
    if (opts.flags.local) flags["local"] = true;
    if (opts.flags.timeout) flags["timeout"] = static_cast<std::int64_t>(opts.flags.timeout->count());
    // Ours (Node ignores it, and answers in full): what the asked C++ nodes put in the answer.
    if (opts.flags.detail) flags["detail"] = *opts.flags.detail == SocketDetail::full ? "full" : "idAndData";
    o["flags"] = std::move(flags);
  }
  return o;
}

BroadcastOptions options_from_json(const json::value& v) {
  BroadcastOptions opts;
  if (!v.is_object()) return opts;
  const auto& o = v.get_object();
  opts.rooms = rooms_from(o.if_contains("rooms"));
  opts.except = rooms_from(o.if_contains("except"));
  if (const auto* f = o.if_contains("flags"); f && f->is_object()) {
    const auto& flags = f->get_object();
    if (const auto* x = flags.if_contains("volatile"); x && x->is_bool())
      opts.flags.volatile_ = x->get_bool();
    if (const auto* x = flags.if_contains("compress"); x && x->is_bool()) opts.flags.compress = x->get_bool();
    if (const auto* x = flags.if_contains("local"); x && x->is_bool()) opts.flags.local = x->get_bool();
    if (const auto* x = flags.if_contains("detail"); x && x->is_string()) {
      if (x->get_string() == "full")
        opts.flags.detail = SocketDetail::full;
      else if (x->get_string() == "idAndData")
        opts.flags.detail = SocketDetail::id_and_data;
    }
    // Out of range (negative, NaN, beyond setTimeout's ceiling): no timeout, as if absent.
    if (const auto ms = checked_uint(flags.if_contains("timeout"), kMaxTimeoutMs))
      opts.flags.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
  }
  return opts;
}

std::string encode_broadcast(std::string_view uid, const OutgoingPacket& packet,
                             const BroadcastOptions& opts) {
  std::string out;
  out.reserve(64 + packet.nsp.size());
  sio::msgpack_put_array(out, 3);
  sio::msgpack_put_str(out, uid);
  // Same key order as socket.io's broadcast operator builds it: type, data, then nsp.
  sio::msgpack_put_map(out, 3);
  sio::msgpack_put_str(out, "type");
  // Node re-derives BINARY_EVENT when it encodes, so the wire always says EVENT (or ACK-less kin).
  sio::msgpack_put_int(out, packet.type == 5 ? 2 : packet.type == 6 ? 3 : packet.type);
  sio::msgpack_put_str(out, "data");
  encode_msgpack(out, packet.data, packet.attachments);
  sio::msgpack_put_str(out, "nsp");
  sio::msgpack_put_str(out, packet.nsp);
  encode_msgpack(out, options_to_json(opts, true), {});
  return out;
}

std::optional<BroadcastMessage> decode_broadcast(std::string_view bytes, const DecodeLimits& limits) {
  BroadcastMessage msg;
  auto v = decode_msgpack(bytes, msg.packet.attachments, limits);
  if (!v || !v->is_array()) return std::nullopt;
  // A map shaped like a placeholder but naming no bin of this message: not relayed as one.
  if (!msg.packet.attachments.empty()) drop_invalid_placeholders(*v, msg.packet.attachments.size());
  auto& a = v->get_array();
  if (a.size() < 3 || !a[1].is_object()) return std::nullopt;
  if (a[0].is_string()) msg.uid = std::string(a[0].get_string());
  auto& p = a[1].get_object();
  if (const auto* t = p.if_contains("type"); t && t->is_int64()) {
    const auto type = t->get_int64();
    if (type < 0 || type > 6) return std::nullopt;
    msg.packet.type = static_cast<std::uint8_t>(type == 5 ? 2 : type == 6 ? 3 : type);
  }
  // The emitter of an older version omits nsp: Node reads that as the main namespace.
  if (const auto* n = p.if_contains("nsp"); n && n->is_string())
    msg.packet.nsp = std::string(n->get_string());
  auto* data = p.if_contains("data");
  if (!data || !data->is_array()) return std::nullopt;
  msg.packet.data = std::move(data->get_array());
  msg.opts = options_from_json(a[2]);
  return msg;
}

}  // namespace socketio::redis
