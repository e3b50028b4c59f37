// Encoding a Socket.IO packet into the immutable buffers every recipient shares, in a client's
// WireFormat (wire_format.hpp): a head message (JSON text, or the whole MessagePack packet as a
// binary message) and, for JSON, the binary attachments that follow it. Each part is a shared
// byte string handed to Engine.IO as is. Pure functions; MultiEncoded is immutable once built, so
// any thread may read it.
#pragma once

#include "core/bytes.hpp"
#include "sio/parser/packet.hpp"
#include "sio/wire_format.hpp"
#include "socketio/args.hpp"

#include <boost/json/array.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace socketio::sio {

struct EncodedPacket {
  core::SharedBytes head;  // null: not encoded (a MultiEncoded slot of a format not in use)
  bool head_binary = false;
  std::vector<core::SharedBytes> attachments;  // binary messages after head (JSON formats)
};

// EVENT (or BINARY_EVENT when there are attachments) with data [event, ...args] already built.
EncodedPacket encode_event(WireFormat format, std::string_view nsp, const boost::json::array& data,
                           const std::vector<Bytes>& attachments, std::optional<std::uint64_t> ack_id);
// ACK (or BINARY_ACK).
EncodedPacket encode_ack(WireFormat format, std::string_view nsp, std::uint64_t id, const Args& args);
// Control packets: CONNECT reply, CONNECT_ERROR, DISCONNECT.
EncodedPacket encode_simple(WireFormat format, PacketType type, std::string_view nsp,
                            const boost::json::value* data);

// One packet encoded once in each format of a set (the formats with clients when it was built):
// what a broadcast hands every recipient on every shard.
class MultiEncoded {
 public:
  // An EVENT (broadcast).
  MultiEncoded(WireFormatSet formats, std::string_view nsp, const boost::json::array& data,
               const std::vector<Bytes>& attachments, std::optional<std::uint64_t> ack_id);
  // A control packet.
  MultiEncoded(WireFormatSet formats, PacketType type, std::string_view nsp, const boost::json::value* data);

  // The packet in format f; null when f was not in the set.
  const EncodedPacket* get(WireFormat f) const noexcept {
    const auto& slot = slots_[index_of(f)];
    return slot.head ? &slot : nullptr;
  }

 private:
  std::array<EncodedPacket, kWireFormats> slots_;
};
using MultiEncodedPtr = std::shared_ptr<const MultiEncoded>;

// [event, ...args]
boost::json::array event_array(std::string_view event, const Args& args);

}  // namespace socketio::sio
