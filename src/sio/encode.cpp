#include "sio/encode.hpp"

#include "sio/parser/msgpack_packet.hpp"

namespace socketio::sio {
namespace {

// The reference numbers attachments in document order when it encodes (it walks the data and
// replaces each Buffer as met). Relayed arguments may come numbered otherwise, so renumber:
// each placeholder met gets the next number and the attachments are reordered to match.
void renumber(boost::json::value& v, const std::vector<Bytes>& in, std::vector<Bytes>& out) {
  std::size_t num = 0;
  if (is_placeholder(v, num)) {
    if (num < in.size()) {
      v.as_object()["num"] = out.size();
      out.push_back(in[num]);
    }
    return;
  }
  if (v.is_array()) {
    for (auto& e : v.as_array()) renumber(e, in, out);
  } else if (v.is_object()) {
    for (auto& kv : v.as_object()) renumber(kv.value(), in, out);
  }
}

bool in_document_order(const boost::json::value& v, std::size_t& next) {
  std::size_t num = 0;
  if (is_placeholder(v, num)) return num == next++;
  if (v.is_array()) {
    for (const auto& e : v.as_array())
      if (!in_document_order(e, next)) return false;
  } else if (v.is_object()) {
    for (const auto& kv : v.as_object())
      if (!in_document_order(kv.value(), next)) return false;
  }
  return true;
}

PacketType binary_kind(PacketType t) noexcept {
  return t == PacketType::ack ? PacketType::binary_ack : PacketType::binary_event;
}

EncodedPacket encode_json_data(PacketType type, std::string_view nsp, boost::json::value&& data,
                               const std::vector<Bytes>& attachments, std::optional<std::uint64_t> id) {
  EncodedPacket out;
  std::string text;
  std::size_t next = 0;
  if (!attachments.empty() && !(in_document_order(data, next) && next == attachments.size())) {
    std::vector<Bytes> reordered;
    renumber(data, attachments, reordered);
    out.attachments.assign(reordered.begin(), reordered.end());
  } else {
    out.attachments.assign(attachments.begin(), attachments.end());
  }
  encode(out.attachments.empty() ? type : binary_kind(type), nsp, id, &data, out.attachments.size(), text);
  out.head = core::make_bytes(std::move(text));
  return out;
}

EncodedPacket encode_msgpack(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id,
                             const boost::json::array& data, const std::vector<Bytes>& attachments) {
  EncodedPacket out;
  std::string bytes;
  encode_msgpack_packet(type, nsp, id, data, attachments, bytes);
  out.head = core::make_bytes(std::move(bytes));
  out.head_binary = true;
  return out;
}

}  // namespace

EncodedPacket encode_event(WireFormat format, std::string_view nsp, const boost::json::array& data,
                           const std::vector<Bytes>& attachments, std::optional<std::uint64_t> ack_id) {
  switch (format) {
    case WireFormat::msgpack_v5:
      return encode_msgpack(PacketType::event, nsp, ack_id, data, attachments);
    case WireFormat::json_v5:
    case WireFormat::json_v4:
    case WireFormat::count:
      break;
  }
  // The array is wrapped in a value for the JSON writer (one copy, as before formats existed).
  return encode_json_data(PacketType::event, nsp, boost::json::value(data), attachments, ack_id);
}

EncodedPacket encode_ack(WireFormat format, std::string_view nsp, std::uint64_t id, const Args& args) {
  switch (format) {
    case WireFormat::msgpack_v5:
      return encode_msgpack(PacketType::ack, nsp, id, args.values(), args.attachments());
    case WireFormat::json_v5:
    case WireFormat::json_v4:
    case WireFormat::count:
      break;
  }
  return encode_json_data(PacketType::ack, nsp, boost::json::value(args.values()), args.attachments(), id);
}

EncodedPacket encode_simple(WireFormat format, PacketType type, std::string_view nsp,
                            const boost::json::value* data) {
  EncodedPacket out;
  std::string bytes;
  switch (format) {
    case WireFormat::msgpack_v5:
      encode_msgpack_packet(type, nsp, std::nullopt, data, {}, bytes);
      out.head_binary = true;
      break;
    case WireFormat::json_v4:
      // Protocol v4: the CONNECT answer has no payload (the socket id is the Engine.IO id).
      encode(type, nsp, std::nullopt, type == PacketType::connect ? nullptr : data, 0, bytes);
      break;
    case WireFormat::json_v5:
    case WireFormat::count:
      encode(type, nsp, std::nullopt, data, 0, bytes);
      break;
  }
  out.head = core::make_bytes(std::move(bytes));
  return out;
}

MultiEncoded::MultiEncoded(WireFormatSet formats, std::string_view nsp, const boost::json::array& data,
                           const std::vector<Bytes>& attachments, std::optional<std::uint64_t> ack_id) {
  for (std::size_t i = 0; i < kWireFormats; ++i)
    if (formats & (WireFormatSet{1} << i))
      slots_[i] = encode_event(static_cast<WireFormat>(i), nsp, data, attachments, ack_id);
}

MultiEncoded::MultiEncoded(WireFormatSet formats, PacketType type, std::string_view nsp,
                           const boost::json::value* data) {
  for (std::size_t i = 0; i < kWireFormats; ++i)
    if (formats & (WireFormatSet{1} << i))
      slots_[i] = encode_simple(static_cast<WireFormat>(i), type, nsp, data);
}

boost::json::array event_array(std::string_view event, const Args& args) {
  boost::json::array a;
  a.reserve(args.size() + 1);
  a.emplace_back(boost::json::string_view(event.data(), event.size()));
  for (const auto& v : args.values()) a.push_back(v);
  return a;
}

}  // namespace socketio::sio
