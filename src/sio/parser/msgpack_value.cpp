#include "sio/parser/msgpack_value.hpp"

#include "core/utf8.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <msgpuck.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace socketio::sio {

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

std::uint32_t be(const char* p, int n) {
  std::uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// notepack writes an ArrayBuffer as ext 8/16/32 of type 0 (its fixext of type 0 are undefined and
// Date): the payload when p is one, else nullopt. p is validated.
std::optional<std::string_view> array_buffer(const char* p) {
  const auto prefix = static_cast<unsigned char>(*p);
  int len_bytes = 0;
  if (prefix == 0xc7)
    len_bytes = 1;
  else if (prefix == 0xc8)
    len_bytes = 2;
  else if (prefix == 0xc9)
    len_bytes = 4;
  else
    return std::nullopt;
  const std::uint32_t len = be(p + 1, len_bytes);
  if (p[1 + len_bytes] != 0) return std::nullopt;
  return std::string_view(p + 2 + len_bytes, len);
}

bool add_attachment(std::string_view bytes, json::value& out, std::vector<Bytes>& attachments,
                    const MsgpackLimits& limits) {
  if (attachments.size() >= limits.max_attachments) return false;
  json::object ph;
  ph["_placeholder"] = true;
  ph["num"] = static_cast<std::int64_t>(attachments.size());
  attachments.push_back(std::make_shared<const std::string>(bytes));
  out = std::move(ph);
  return true;
}

}  // namespace

// msgpuck's mp_check counts pending elements in an int: a map header claiming 2^31 entries or
// more overflows it and the check passes, after which decoding reads past the buffer. This walk
// bounds the pending count by the bytes left (every value takes at least one byte) instead.
bool msgpack_well_formed(std::string_view in) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* const end = p + in.size();
  std::uint64_t pending = 1;
  auto length = [&](int n, std::uint64_t& out) {
    if (end - p < 1 + n) return false;
    out = be(reinterpret_cast<const char*>(p + 1), n);
    p += 1 + n;
    return true;
  };
  while (pending > 0) {
    if (p >= end) return false;
    --pending;
    const unsigned char c = *p;
    std::uint64_t n = 0;
    std::uint64_t skip = 0;  // payload bytes after the header
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
      ++p;
    } else if (c <= 0x8f) {
      ++p;
      pending += 2u * (c & 0x0f);
    } else if (c <= 0x9f) {
      ++p;
      pending += c & 0x0f;
    } else if (c <= 0xbf) {
      ++p;
      skip = c & 0x1f;
    } else {
      switch (c) {
        case 0xc4:
        case 0xd9:
          if (!length(1, skip)) return false;
          break;
        case 0xc5:
        case 0xda:
          if (!length(2, skip)) return false;
          break;
        case 0xc6:
        case 0xdb:
          if (!length(4, skip)) return false;
          break;
        case 0xc7:
          if (!length(1, skip)) return false;
          ++skip;
          break;
        case 0xc8:
          if (!length(2, skip)) return false;
          ++skip;
          break;
        case 0xc9:
          if (!length(4, skip)) return false;
          ++skip;
          break;
        case 0xca:
          ++p;
          skip = 4;
          break;
        case 0xcb:
          ++p;
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          ++p;
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          ++p;
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          ++p;
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          ++p;
          skip = 8;
          break;
        case 0xd4:
          ++p;
          skip = 2;
          break;
        case 0xd5:
          ++p;
          skip = 3;
          break;
        case 0xd6:
          ++p;
          skip = 5;
          break;
        case 0xd7:
          ++p;
          skip = 9;
          break;
        case 0xd8:
          ++p;
          skip = 17;
          break;
        case 0xdc:
          if (!length(2, n)) return false;
          pending += n;
          break;
        case 0xdd:
          if (!length(4, n)) return false;
          pending += n;
          break;
        case 0xde:
          if (!length(2, n)) return false;
          pending += 2 * n;
          break;
        case 0xdf:
          if (!length(4, n)) return false;
          pending += 2 * n;
          break;
        default:
          return false;  // 0xc1: never used
      }
    }
    if (static_cast<std::uint64_t>(end - p) < skip) return false;
    p += skip;
    if (pending > static_cast<std::uint64_t>(end - p)) return false;
  }
  return p == end;
}

bool msgpack_is_binary(const char* p) noexcept {
  return mp_typeof(*p) == MP_BIN || array_buffer(p).has_value();
}

bool decode_msgpack_checked(const char*& p, json::value& out, std::vector<Bytes>& attachments,
                            const MsgpackLimits& limits, std::size_t depth) {
  if (depth > limits.max_depth) return false;
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
      // Relayed to JSON clients as text: invalid UTF-8 there makes their WebSocket close (1007).
      if (!core::is_valid_utf8(std::string_view(s, len))) return false;
      out = json::string(s, len);
      return true;
    }
    case MP_BIN: {
      std::uint32_t len = 0;
      const char* s = mp_decode_bin(&p, &len);
      return add_attachment(std::string_view(s, len), out, attachments, limits);
    }
    case MP_ARRAY: {
      const std::uint32_t n = mp_decode_array(&p);
      json::array a;
      a.reserve(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        if (!decode_msgpack_checked(p, a.emplace_back(nullptr), attachments, limits, depth + 1)) return false;
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
            if (!core::is_valid_utf8(std::string_view(s, len))) return false;
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
        if (!decode_msgpack_checked(p, v, attachments, limits, depth + 1)) return false;
        o[key] = std::move(v);
      }
      if (limits.refuse_placeholder_maps && o.size() == 2 && o.contains("num")) {
        const auto* flag = o.if_contains("_placeholder");
        if (flag && flag->is_bool() && flag->get_bool()) return false;
      }
      out = std::move(o);
      return true;
    }
    case MP_EXT: {
      const auto buffer = array_buffer(p);
      mp_next(&p);
      if (buffer) return add_attachment(*buffer, out, attachments, limits);
      out = nullptr;
      return true;
    }
  }
  return false;
}

void msgpack_put_array(std::string& out, std::uint32_t n) {
  put(out, mp_sizeof_array(n), [&](char* p) { return mp_encode_array(p, n); });
}
void msgpack_put_map(std::string& out, std::uint32_t n) {
  put(out, mp_sizeof_map(n), [&](char* p) { return mp_encode_map(p, n); });
}
void msgpack_put_str(std::string& out, std::string_view s) {
  put_str(out, s);
}
void msgpack_put_int(std::string& out, std::int64_t n) {
  put_int(out, n);
}

void encode_msgpack(std::string& out, const json::array& a, const std::vector<Bytes>& attachments) {
  const auto n = static_cast<std::uint32_t>(a.size());
  put(out, mp_sizeof_array(n), [&](char* p) { return mp_encode_array(p, n); });
  for (const auto& e : a) encode_msgpack(out, e, attachments);
}

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
    case json::kind::array:
      encode_msgpack(out, v.get_array(), attachments);
      return;
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
                                          const MsgpackLimits& limits) {
  if (in.empty()) return std::nullopt;
  if (!msgpack_well_formed(in)) return std::nullopt;
  const char* p = in.data();
  const char* end = in.data() + in.size();
  json::value out;
  if (!decode_msgpack_checked(p, out, attachments, limits) || p != end) return std::nullopt;
  return out;
}

}  // namespace socketio::sio
