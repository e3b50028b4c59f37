#include "adapter/redis/msgpack_codec.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <msgpuck.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace socketio::redis {

namespace json = boost::json;

namespace {

// msgpuck writes into caller-provided memory: grow `out` by the exact size, then encode in place.
template <class Fn>
void put(std::string& out, std::size_t size, Fn&& fn) {
  const std::size_t at = out.size();
  out.resize(at + size);
  char* end = fn(out.data() + at);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

void put_int(std::string& out, std::int64_t n) {
  if (n >= 0) {
    put(out, mp_sizeof_uint(static_cast<std::uint64_t>(n)),
        [&](char* p) { return mp_encode_uint(p, static_cast<std::uint64_t>(n)); });
  } else {
    put(out, mp_sizeof_int(n), [&](char* p) { return mp_encode_int(p, n); });
  }
}

void put_str(std::string& out, std::string_view s) {
  const auto len = static_cast<std::uint32_t>(s.size());
  put(out, mp_sizeof_str(len), [&](char* p) { return mp_encode_str(p, s.data(), len); });
}

void put_bin(std::string& out, std::string_view s) {
  const auto len = static_cast<std::uint32_t>(s.size());
  put(out, mp_sizeof_bin(len), [&](char* p) { return mp_encode_bin(p, s.data(), len); });
}

const Bytes* placeholder(const json::object& o, const std::vector<Bytes>& attachments) {
  if (o.size() != 2) return nullptr;
  const auto* flag = o.if_contains("_placeholder");
  const auto* num = o.if_contains("num");
  if (!flag || !num || !flag->is_bool() || !flag->get_bool()) return nullptr;
  std::int64_t i = -1;
  if (num->is_int64())
    i = num->get_int64();
  else if (num->is_uint64() && num->get_uint64() < attachments.size())
    i = static_cast<std::int64_t>(num->get_uint64());
  if (i < 0 || static_cast<std::size_t>(i) >= attachments.size() || !attachments[static_cast<std::size_t>(i)])
    return nullptr;
  return &attachments[static_cast<std::size_t>(i)];
}

class Decoder {
 public:
  Decoder(std::vector<Bytes>& attachments, const DecodeLimits& limits)
      : attachments_(attachments), limits_(limits) {}

  // `p` has been validated by mp_check, so reads stay in bounds; only limits can fail here.
  bool value(const char*& p, json::value& out, std::size_t depth) {
    if (depth > limits_.max_depth) return false;
    switch (mp_typeof(*p)) {
      case MP_NIL:
        mp_decode_nil(&p);
        out = nullptr;
        return true;
      case MP_BOOL:
        out = mp_decode_bool(&p);
        return true;
      case MP_UINT: {
        const std::uint64_t n = mp_decode_uint(&p);
        if (n <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          out = static_cast<std::int64_t>(n);
        else
          out = n;
        return true;
      }
      case MP_INT:
        out = mp_decode_int(&p);
        return true;
      case MP_FLOAT:
        out = static_cast<double>(mp_decode_float(&p));
        return true;
      case MP_DOUBLE:
        out = mp_decode_double(&p);
        return true;
      case MP_STR: {
        std::uint32_t len = 0;
        const char* s = mp_decode_str(&p, &len);
        out = json::string(s, len);
        return true;
      }
      case MP_BIN: {
        if (attachments_.size() >= limits_.max_attachments) return false;
        std::uint32_t len = 0;
        const char* s = mp_decode_bin(&p, &len);
        json::object ph;
        ph["_placeholder"] = true;
        ph["num"] = static_cast<std::int64_t>(attachments_.size());
        attachments_.push_back(std::make_shared<const std::string>(s, len));
        out = std::move(ph);
        return true;
      }
      case MP_ARRAY: {
        const std::uint32_t n = mp_decode_array(&p);
        json::array a;
        a.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
          if (!value(p, a.emplace_back(nullptr), depth + 1)) return false;
        }
        out = std::move(a);
        return true;
      }
      case MP_MAP: {
        const std::uint32_t n = mp_decode_map(&p);
        json::object o;
        o.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
          std::string key;
          // JS object keys are strings; a numeric key (another encoder) is read as its text.
          switch (mp_typeof(*p)) {
            case MP_STR: {
              std::uint32_t len = 0;
              const char* s = mp_decode_str(&p, &len);
              key.assign(s, len);
              break;
            }
            case MP_UINT:
              key = std::to_string(mp_decode_uint(&p));
              break;
            case MP_INT:
              key = std::to_string(mp_decode_int(&p));
              break;
            default:
              return false;
          }
          json::value v;
          if (!value(p, v, depth + 1)) return false;
          o[key] = std::move(v);
        }
        out = std::move(o);
        return true;
      }
      case MP_EXT:
        mp_next(&p);
        out = nullptr;
        return true;
    }
    return false;
  }

 private:
  std::vector<Bytes>& attachments_;
  const DecodeLimits& limits_;
};

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

}  // namespace

void encode_msgpack(std::string& out, const json::value& v, const std::vector<Bytes>& attachments) {
  switch (v.kind()) {
    case json::kind::null:
      put(out, mp_sizeof_nil(), [](char* p) { return mp_encode_nil(p); });
      return;
    case json::kind::bool_:
      put(out, mp_sizeof_bool(v.get_bool()), [&](char* p) { return mp_encode_bool(p, v.get_bool()); });
      return;
    case json::kind::int64:
      put_int(out, v.get_int64());
      return;
    case json::kind::uint64:
      put(out, mp_sizeof_uint(v.get_uint64()), [&](char* p) { return mp_encode_uint(p, v.get_uint64()); });
      return;
    case json::kind::double_: {
      const double d = v.get_double();
      // JS has one number type: notepack writes integral values as integers, so must we.
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9007199254740992.0) {
        put_int(out, static_cast<std::int64_t>(d));
      } else {
        put(out, mp_sizeof_double(d), [&](char* p) { return mp_encode_double(p, d); });
      }
      return;
    }
    case json::kind::string:
      put_str(out, v.get_string());
      return;
    case json::kind::array: {
      const auto& a = v.get_array();
      const auto n = static_cast<std::uint32_t>(a.size());
      put(out, mp_sizeof_array(n), [&](char* p) { return mp_encode_array(p, n); });
      for (const auto& e : a) encode_msgpack(out, e, attachments);
      return;
    }
    case json::kind::object: {
      const auto& o = v.get_object();
      if (const Bytes* b = placeholder(o, attachments)) {
        put_bin(out, **b);
        return;
      }
      const auto n = static_cast<std::uint32_t>(o.size());
      put(out, mp_sizeof_map(n), [&](char* p) { return mp_encode_map(p, n); });
      for (const auto& kv : o) {
        put_str(out, kv.key());
        encode_msgpack(out, kv.value(), attachments);
      }
      return;
    }
  }
}

std::optional<json::value> decode_msgpack(std::string_view in, std::vector<Bytes>& attachments,
                                          const DecodeLimits& limits) {
  if (in.empty()) return std::nullopt;
  const char* p = in.data();
  const char* end = in.data() + in.size();
  {
    const char* check = p;
    if (mp_check(&check, end) != 0 || check != end) return std::nullopt;
  }
  json::value out;
  Decoder d(attachments, limits);
  if (!d.value(p, out, 0) || p != end) return std::nullopt;
  return out;
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
    if (const auto* x = flags.if_contains("timeout"); x && x->is_number()) {
      opts.flags.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(x->to_number<double>()));
    }
  }
  return opts;
}

std::string encode_broadcast(std::string_view uid, const OutgoingPacket& packet,
                             const BroadcastOptions& opts) {
  std::string out;
  out.reserve(64 + packet.nsp.size());
  put(out, mp_sizeof_array(3), [](char* p) { return mp_encode_array(p, 3); });
  put_str(out, uid);
  // Same key order as socket.io's broadcast operator builds it: type, data, then nsp.
  put(out, mp_sizeof_map(3), [](char* p) { return mp_encode_map(p, 3); });
  put_str(out, "type");
  // Node re-derives BINARY_EVENT when it encodes, so the wire always says EVENT (or ACK-less kin).
  put_int(out, packet.type == 5 ? 2 : packet.type == 6 ? 3 : packet.type);
  put_str(out, "data");
  encode_msgpack(out, packet.data, packet.attachments);
  put_str(out, "nsp");
  put_str(out, packet.nsp);
  encode_msgpack(out, options_to_json(opts, true), {});
  return out;
}

std::optional<BroadcastMessage> decode_broadcast(std::string_view bytes, const DecodeLimits& limits) {
  BroadcastMessage msg;
  auto v = decode_msgpack(bytes, msg.packet.attachments, limits);
  if (!v || !v->is_array()) return std::nullopt;
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
