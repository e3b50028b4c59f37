// Socket.IO v5 packet codec and binary-attachment reassembly. Pure: no I/O, explicit limits,
// any thread (a Decoder instance belongs to one connection, like its owner).
//
// Text form: <type>[<attachments>-][<nsp>,][<ackId>][<JSON>]; the namespace is omitted for "/".
// Binary packets (BINARY_EVENT/BINARY_ACK) keep their {"_placeholder":true,"num":i} objects in
// `data`; the i-th binary Engine.IO message that follows the text part is attachments[i]. The
// server API works on that representation directly, so nothing is reconstructed or copied.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace socketio::sio {

enum class PacketType : std::uint8_t {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

struct Packet {
  PacketType type = PacketType::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;  // ack id
  boost::json::value data;          // null when absent
  std::size_t attachments = 0;      // announced count (binary types)
};

enum class ParseError {
  ok = 0,
  empty = 1,
  unknown_type = 2,
  bad_attachments = 3,    // missing '-', not digits, or over Limits::max_attachments
  bad_namespace = 4,      // namespace without a leading '/' where one is required
  bad_ack_id = 5,         // ack id not digits or overflowing
  bad_json = 6,           // JSON does not parse, or exceeds max_depth
  invalid_payload = 7,    // payload not valid for the packet type (reference's isPayloadValid)
  unexpected_binary = 8,  // binary attachment with no packet awaiting one
  unexpected_text = 9,    // text packet while attachments are still awaited
  bad_placeholder = 10,   // placeholder num outside [0, attachments)
  too_large = 11,         // packet over Limits::max_packet_size
  bad_msgpack = 12,       // MessagePack that does not parse, exceeds a limit, or is not a packet map
};
const std::error_category& parse_category() noexcept;
std::error_code make_error_code(ParseError e) noexcept;

struct Limits {
  std::size_t max_attachments = 10;
  std::size_t max_depth = 32;
  std::size_t max_packet_size = 1'000'000;
};

// Decode the text part of one packet and validate its payload for its type.
std::error_code decode(std::string_view text, Packet& out, const Limits& limits);

// The reference's isPayloadValid: data (null pointer: absent) is valid for a packet of that type.
bool is_valid_payload(PacketType type, const boost::json::value* data) noexcept;

// Encode header + JSON (data may be null: then no JSON is written). Appends to out.
void encode(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id,
            const boost::json::value* data, std::size_t attachments, std::string& out);
inline void encode(const Packet& p, std::string& out) {
  encode(p.type, p.nsp, p.id, p.data.is_null() ? nullptr : &p.data, p.attachments, out);
}

// The JSON text of v as JavaScript's JSON.stringify writes it (what the reference puts on the wire):
// compact, and numbers held as doubles in JavaScript's shortest form ("1.5", "1e+21"; NaN and
// infinities as null). Appends to out.
void write_json(const boost::json::value& v, std::string& out);

// True when v is exactly a placeholder object; sets num.
bool is_placeholder(const boost::json::value& v, std::size_t& num) noexcept;
// A placeholder object for attachment num.
boost::json::value make_placeholder(std::size_t num);
// Every placeholder in v refers to an index < count (and count placeholders are not required
// to all appear, like the reference).
bool placeholders_valid(const boost::json::value& v, std::size_t count) noexcept;

// Reassembles packets from a stream of Engine.IO messages (text and binary).
class Decoder {
 public:
  explicit Decoder(Limits limits = {}) : limits_(limits) {}

  enum class Status { need_more, packet, error };
  struct Result {
    Status status = Status::need_more;
    std::error_code error;
  };

  Result feed_text(std::string_view text);
  Result feed_binary(std::string_view bytes);

  // Valid after Status::packet; moved out by the caller.
  Packet& packet() noexcept { return packet_; }
  std::vector<std::string>& attachments() noexcept { return attachments_; }
  void reset() noexcept;

 private:
  Limits limits_;
  Packet packet_;
  std::vector<std::string> attachments_;
  bool awaiting_ = false;
};

}  // namespace socketio::sio

template <>
struct std::is_error_code_enum<socketio::sio::ParseError> : std::true_type {};
