#include "sio/parser/msgpack_packet.hpp"

#include "sio/parser/msgpack_value.hpp"

#include <msgpuck.h>

#include <cmath>

namespace socketio::sio {

namespace json = boost::json;

namespace {

// notepack's `undefined`: fixext 1 of type 0. The reference treats it as an absent field.
bool is_undefined(const char* p) noexcept {
  return static_cast<unsigned char>(p[0]) == 0xd4 && p[1] == 0;
}

void put_undefined(std::string& out) {
  out.append("\xd4\x00\x00", 3);
}

// Number.isInteger on what notepack decodes: any integer, or a float with an integral value.
std::optional<std::int64_t> integer(const char*& p) {
  switch (mp_typeof(*p)) {
    case MP_UINT: {
      const std::uint64_t n = mp_decode_uint(&p);
      if (n > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
      return static_cast<std::int64_t>(n);
    }
    case MP_INT:
      return mp_decode_int(&p);
    case MP_FLOAT:
    case MP_DOUBLE: {
      const double d = mp_typeof(*p) == MP_FLOAT ? mp_decode_float(&p) : mp_decode_double(&p);
      if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9007199254740992.0) return std::nullopt;
      return static_cast<std::int64_t>(d);
    }
    default:
      mp_next(&p);
      return std::nullopt;
  }
}

enum class Key { type, nsp, data, id, other };

Key key_of(std::string_view k) noexcept {
  if (k == "type") return Key::type;
  if (k == "nsp") return Key::nsp;
  if (k == "data") return Key::data;
  if (k == "id") return Key::id;
  return Key::other;
}

PacketType wire_type(PacketType t) noexcept {
  if (t == PacketType::binary_event) return PacketType::event;
  if (t == PacketType::binary_ack) return PacketType::ack;
  return t;
}

template <class WriteData>
void encode_map(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id, bool has_data,
                WriteData&& write_data, std::string& out) {
  type = wire_type(type);
  const std::uint32_t n = 2 + (has_data ? 1 : 0) + (id ? 1 : 0);
  msgpack_put_map(out, n);
  auto put_id = [&] {
    msgpack_put_str(out, "id");
    msgpack_put_int(out, static_cast<std::int64_t>(*id));
  };
  // socket.io builds an ACK as {id, type, data}, everything else as {type, data, [id]}; the
  // namespace is added last when the packet is sent.
  if (id && type == PacketType::ack) put_id();
  msgpack_put_str(out, "type");
  msgpack_put_int(out, static_cast<std::int64_t>(type));
  if (has_data) {
    msgpack_put_str(out, "data");
    write_data();
  }
  if (id && type != PacketType::ack) put_id();
  msgpack_put_str(out, "nsp");
  msgpack_put_str(out, nsp);
}

}  // namespace

std::error_code decode_msgpack_packet(std::string_view bytes, Packet& out, std::vector<Bytes>& attachments,
                                      const Limits& limits) {
  if (bytes.size() > limits.max_packet_size) return ParseError::too_large;
  if (bytes.empty()) return ParseError::empty;
  if (!msgpack_well_formed(bytes)) return ParseError::bad_msgpack;
  const char* p = bytes.data();
  if (mp_typeof(*p) != MP_MAP) return ParseError::bad_msgpack;
  const std::uint32_t n = mp_decode_map(&p);

  // Fields as the reference reads them: a later duplicate key wins, like in a JS object.
  std::optional<std::int64_t> type;
  bool type_seen = false;
  std::optional<std::string_view> nsp;
  const char* data_at = nullptr;
  const char* id_at = nullptr;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (mp_typeof(*p) != MP_STR) {
      mp_next(&p);
      mp_next(&p);
      continue;
    }
    std::uint32_t len = 0;
    const char* k = mp_decode_str(&p, &len);
    const char* value = p;
    mp_next(&p);
    switch (key_of(std::string_view(k, len))) {
      case Key::type: {
        const char* q = value;
        type = integer(q);
        type_seen = true;
        break;
      }
      case Key::nsp:
        if (mp_typeof(*value) == MP_STR) {
          std::uint32_t nlen = 0;
          const char* s = mp_decode_str(&value, &nlen);
          nsp = std::string_view(s, nlen);
        } else {
          nsp.reset();
        }
        break;
      case Key::data:
        data_at = is_undefined(value) ? nullptr : value;
        break;
      case Key::id:
        id_at = is_undefined(value) ? nullptr : value;
        break;
      case Key::other:
        break;
    }
  }

  // The reference's checks, in its order: type, namespace, payload, ack id.
  if (!type_seen || !type || *type < 0 || *type > static_cast<std::int64_t>(PacketType::connect_error))
    return ParseError::unknown_type;
  if (!nsp) return ParseError::bad_namespace;
  out.type = static_cast<PacketType>(*type);
  out.nsp.assign(nsp->data(), nsp->size());
  out.id.reset();
  out.data = nullptr;
  out.attachments = 0;
  attachments.clear();
  // Binary data is a Buffer to the reference, never the object or array a packet type needs
  // (the placeholder it would become here is an object).
  if (data_at && msgpack_is_binary(data_at)) return ParseError::invalid_payload;
  if (data_at) {
    const MsgpackLimits value_limits{limits.max_depth, limits.max_attachments, true};
    if (!decode_msgpack_checked(data_at, out.data, attachments, value_limits, 1))
      return ParseError::bad_msgpack;
  }
  const bool array_needed = out.type == PacketType::event || out.type == PacketType::ack;
  if ((array_needed && !data_at) || !is_valid_payload(out.type, data_at ? &out.data : nullptr))
    return ParseError::invalid_payload;
  if (id_at) {
    const auto id = integer(id_at);
    if (!id || *id < 0) return ParseError::bad_ack_id;
    out.id = static_cast<std::uint64_t>(*id);
  }
  out.attachments = attachments.size();
  return {};
}

void encode_msgpack_packet(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id,
                           const json::value* data, const std::vector<Bytes>& attachments, std::string& out) {
  const bool has_data = data != nullptr;
  encode_map(
      type, nsp, id, has_data,
      [&] {
        // socket.io 4 answers CONNECT with {sid, pid}, pid undefined without connection state
        // recovery: notepack writes that key too.
        if (wire_type(type) == PacketType::connect && data->is_object() &&
            !data->get_object().contains("pid")) {
          const auto& o = data->get_object();
          msgpack_put_map(out, static_cast<std::uint32_t>(o.size() + 1));
          for (const auto& kv : o) {
            msgpack_put_str(out, kv.key());
            encode_msgpack(out, kv.value(), attachments);
          }
          msgpack_put_str(out, "pid");
          put_undefined(out);
          return;
        }
        encode_msgpack(out, *data, attachments);
      },
      out);
}

void encode_msgpack_packet(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id,
                           const json::array& data, const std::vector<Bytes>& attachments, std::string& out) {
  encode_map(
      type, nsp, id, true, [&] { encode_msgpack(out, data, attachments); }, out);
}

}  // namespace socketio::sio
