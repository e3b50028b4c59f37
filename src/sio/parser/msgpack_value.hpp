// MessagePack <-> JSON value codec with notepack.io's conventions (what socket.io-msgpack-parser and
// @socket.io/redis-adapter put on the wire): maps with string keys in insertion order, the smallest
// integer encoding, float64 for non-integral numbers, binary as `bin` where a Socket.IO placeholder
// {"_placeholder":true,"num":i} stands in the JSON value. Pure functions over bytes with explicit
// limits, no I/O; any thread. Shared by the msgpack client parser (msgpack_packet.hpp) and the Redis
// adapter's codec.
#pragma once

#include "socketio/args.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socketio::sio {

struct MsgpackLimits {
  std::size_t max_depth = 32;         // nesting of arrays and maps
  std::size_t max_attachments = 256;  // bin values turned into attachments
  // A map that looks like a placeholder would be taken for binary when the value is encoded again:
  // refuse such input (client packets) rather than let a peer forge attachments.
  bool refuse_placeholder_maps = false;
};

// Appends the MessagePack form of v; a placeholder with a valid num becomes `bin` with that
// attachment's bytes (any other placeholder-looking object stays a map).
void encode_msgpack(std::string& out, const boost::json::value& v, const std::vector<Bytes>& attachments);
// The same for an array (what packet data is), without building a json::value around it.
void encode_msgpack(std::string& out, const boost::json::array& a, const std::vector<Bytes>& attachments);

// Headers and scalars, for codecs that write an outer structure themselves (smallest encodings).
void msgpack_put_array(std::string& out, std::uint32_t n);
void msgpack_put_map(std::string& out, std::uint32_t n);
void msgpack_put_str(std::string& out, std::string_view s);
void msgpack_put_int(std::string& out, std::int64_t n);

// Decodes exactly one MessagePack value spanning all of `in`. `bin` values, and notepack's
// ArrayBuffer extension (ext 8/16/32 of type 0), become placeholders numbered in
// order of appearance, their bytes appended to attachments. Other extensions (notepack's
// `undefined` and Date) decode as null. nullopt on malformed input (strings and keys must be
// valid UTF-8), trailing bytes or a limit hit.
std::optional<boost::json::value> decode_msgpack(std::string_view in, std::vector<Bytes>& attachments,
                                                 const MsgpackLimits& limits = {});

// True when `in` is exactly one well-formed MessagePack value (structure and lengths only).
// Use this, not msgpuck's mp_check: that one overflows on maps claiming 2^31 entries or more.
bool msgpack_well_formed(std::string_view in) noexcept;

// True when the well-formed value at p decodes to binary (bin, or notepack's ArrayBuffer).
bool msgpack_is_binary(const char* p) noexcept;

// Decodes one value at p (advanced past it) from input already validated by msgpack_well_formed; false when
// a limit is hit. For codecs that walk an outer structure themselves.
bool decode_msgpack_checked(const char*& p, boost::json::value& out, std::vector<Bytes>& attachments,
                            const MsgpackLimits& limits, std::size_t depth = 0);

}  // namespace socketio::sio
