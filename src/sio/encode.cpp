#include "sio/encode.hpp"

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

}  // namespace

EncodedPacket encode_event(std::string_view nsp, const boost::json::array& data,
                           const std::vector<Bytes>& attachments, std::optional<std::uint64_t> ack_id) {
  EncodedPacket out;
  std::string text;
  boost::json::value v(data);
  std::size_t next = 0;
  if (!attachments.empty() && !(in_document_order(v, next) && next == attachments.size())) {
    std::vector<Bytes> reordered;
    renumber(v, attachments, reordered);
    out.attachments.assign(reordered.begin(), reordered.end());
  } else {
    out.attachments.assign(attachments.begin(), attachments.end());
  }
  encode(out.attachments.empty() ? PacketType::event : PacketType::binary_event, nsp, ack_id, &v,
         out.attachments.size(), text);
  out.text = core::make_bytes(std::move(text));
  return out;
}

EncodedPacket encode_ack(std::string_view nsp, std::uint64_t id, const Args& args) {
  EncodedPacket out;
  std::string text;
  boost::json::value v(args.values());
  std::size_t next = 0;
  const auto& att = args.attachments();
  if (!att.empty() && !(in_document_order(v, next) && next == att.size())) {
    std::vector<Bytes> reordered;
    renumber(v, att, reordered);
    out.attachments.assign(reordered.begin(), reordered.end());
  } else {
    out.attachments.assign(att.begin(), att.end());
  }
  encode(out.attachments.empty() ? PacketType::ack : PacketType::binary_ack, nsp, id, &v,
         out.attachments.size(), text);
  out.text = core::make_bytes(std::move(text));
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
