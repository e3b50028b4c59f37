// Encoding a Socket.IO packet once into the immutable buffers every recipient shares: the text
// part and the binary attachments, each a shared byte string handed to Engine.IO as is.
#pragma once

#include "core/bytes.hpp"
#include "sio/parser/packet.hpp"
#include "socketio/args.hpp"

#include <boost/json/array.hpp>

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace socketio::sio {

struct EncodedPacket {
  core::SharedBytes text;
  std::vector<core::SharedBytes> attachments;
};
using EncodedPtr = std::shared_ptr<const EncodedPacket>;

// EVENT (or BINARY_EVENT when there are attachments) with data [event, ...args] already built.
EncodedPacket encode_event(std::string_view nsp, const boost::json::array& data,
                           const std::vector<Bytes>& attachments, std::optional<std::uint64_t> ack_id);
// ACK (or BINARY_ACK).
EncodedPacket encode_ack(std::string_view nsp, std::uint64_t id, const Args& args);
// Control packets: CONNECT reply, CONNECT_ERROR, DISCONNECT.
EncodedPacket encode_simple(PacketType type, std::string_view nsp, const boost::json::value* data);

// [event, ...args]
boost::json::array event_array(std::string_view event, const Args& args);

}  // namespace socketio::sio
