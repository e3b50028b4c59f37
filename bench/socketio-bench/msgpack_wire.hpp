// The generator's side of socket.io-msgpack-parser (what `--parser msgpack` servers speak): each
// Socket.IO packet is one MessagePack map {type, nsp, data, id} in a binary WebSocket frame
// (Engine.IO's own packets, ping/pong, stay text). Only what the scenarios send and read: CONNECT
// to "/", events with string arguments, and from the server CONNECT, ACK ids and the
// `chat message` text of a fanout delivery. Independent of the server's codec on purpose: the
// generator must not share the code it measures.
#pragma once

#include <msgpuck.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace bench::msgpack {

namespace detail {
inline void put_str(std::string& out, std::string_view s) {
  char head[8];
  const char* end = mp_encode_strl(head, static_cast<std::uint32_t>(s.size()));
  out.append(head, static_cast<std::size_t>(end - head));
  out.append(s);
}
inline void put_uint(std::string& out, std::uint64_t v) {
  char buf[9];
  const char* end = mp_encode_uint(buf, v);
  out.append(buf, static_cast<std::size_t>(end - buf));
}
inline void put_map(std::string& out, std::uint32_t n) {
  char buf[5];
  const char* end = mp_encode_map(buf, n);
  out.append(buf, static_cast<std::size_t>(end - buf));
}
inline void put_array(std::string& out, std::uint32_t n) {
  char buf[5];
  const char* end = mp_encode_array(buf, n);
  out.append(buf, static_cast<std::size_t>(end - buf));
}
}  // namespace detail

// {type: 0, nsp: "/"}
inline void connect(std::string& out) {
  out.clear();
  detail::put_map(out, 2);
  detail::put_str(out, "type");
  detail::put_uint(out, 0);
  detail::put_str(out, "nsp");
  detail::put_str(out, "/");
}

// {type: 2, nsp: "/", data: [args...], id?}: every argument a string.
inline void event(std::string& out, std::initializer_list<std::string_view> args,
                  std::optional<std::uint64_t> id) {
  out.clear();
  detail::put_map(out, id ? 4 : 3);
  detail::put_str(out, "type");
  detail::put_uint(out, 2);
  detail::put_str(out, "nsp");
  detail::put_str(out, "/");
  detail::put_str(out, "data");
  detail::put_array(out, static_cast<std::uint32_t>(args.size()));
  for (std::string_view a : args) detail::put_str(out, a);
  if (id) {
    detail::put_str(out, "id");
    detail::put_uint(out, *id);
  }
}

// What the scenarios read from a server packet.
struct Packet {
  std::int64_t type = -1;
  std::optional<std::uint64_t> id;
  std::string_view event;  // data[0] of an EVENT
  std::string_view text;   // data[1].text of an EVENT whose data[1] is a map (a chat message)
};

// False when the bytes are not one well-formed MessagePack map.
inline bool read(std::string_view bytes, Packet& p) {
  const char* pos = bytes.data();
  const char* const end = bytes.data() + bytes.size();
  const char* probe = pos;
  if (mp_check(&probe, end) != 0 || probe != end) return false;  // bounds-checks the whole value once
  if (mp_typeof(*pos) != MP_MAP) return false;
  const auto str = [](const char** at) {
    std::uint32_t len = 0;
    const char* s = mp_decode_str(at, &len);
    return std::string_view(s, len);
  };
  for (std::uint32_t n = mp_decode_map(&pos); n > 0; --n) {
    if (mp_typeof(*pos) != MP_STR) return false;
    const std::string_view key = str(&pos);
    if (key == "type" && mp_typeof(*pos) == MP_UINT) {
      p.type = static_cast<std::int64_t>(mp_decode_uint(&pos));
    } else if (key == "id" && mp_typeof(*pos) == MP_UINT) {
      p.id = mp_decode_uint(&pos);
    } else if (key == "data" && mp_typeof(*pos) == MP_ARRAY) {
      std::uint32_t items = mp_decode_array(&pos);
      if (items > 0 && mp_typeof(*pos) == MP_STR) {
        p.event = str(&pos);
        --items;
      }
      if (items > 0 && mp_typeof(*pos) == MP_MAP) {
        std::uint32_t fields = mp_decode_map(&pos);
        --items;
        for (; fields > 0; --fields) {
          bool is_text = false;
          if (mp_typeof(*pos) == MP_STR)
            is_text = str(&pos) == "text";
          else
            mp_next(&pos);
          if (is_text && mp_typeof(*pos) == MP_STR)
            p.text = str(&pos);
          else
            mp_next(&pos);
        }
      }
      for (; items > 0; --items) mp_next(&pos);
    } else {
      mp_next(&pos);
    }
  }
  return true;
}

}  // namespace bench::msgpack
