#include "sio/encode.hpp"

namespace socketio::sio {

EncodedPacket encode_event(std::string_view nsp, const boost::json::array& data, const std::vector<Bytes>& attachments,
                           std::optional<std::uint64_t> ack_id) {
  EncodedPacket out;
  std::string text;
  const boost::json::value v(data);
  encode(attachments.empty() ? PacketType::event : PacketType::binary_event, nsp, ack_id, &v, attachments.size(),
         text);
  out.text = core::make_bytes(std::move(text));
  out.attachments.assign(attachments.begin(), attachments.end());
  return out;
}

EncodedPacket encode_ack(std::string_view nsp, std::uint64_t id, const Args& args) {
  EncodedPacket out;
  std::string text;
  const boost::json::value v(args.values());
  encode(args.attachments().empty() ? PacketType::ack : PacketType::binary_ack, nsp, id, &v,
         args.attachments().size(), text);
  out.text = core::make_bytes(std::move(text));
  out.attachments.assign(args.attachments().begin(), args.attachments().end());
  return out;
}

EncodedPacket encode_simple(PacketType type, std::string_view nsp, const boost::json::value* data) {
  EncodedPacket out;
  std::string text;
  encode(type, nsp, std::nullopt, data, 0, text);
  out.text = core::make_bytes(std::move(text));
  return out;
}

boost::json::array event_array(std::string_view event, const Args& args) {
  boost::json::array a;
  a.reserve(args.size() + 1);
  a.emplace_back(boost::json::string_view(event.data(), event.size()));
  for (const auto& v : args.values()) a.push_back(v);
  return a;
}

}  // namespace socketio::sio
