// The wire format of `@socket.io/redis-adapter` 8.3's classic adapter (createAdapter), as
// ClusterMessages: broadcasts ([uid, packet, opts] in MessagePack, on `<key>#<nsp>#[<room>#]`),
// requests (`<key>-request#<nsp>#`, JSON, BROADCAST in MessagePack) and responses
// (`<key>-response#<nsp>#`, JSON, BROADCAST_ACK in MessagePack). Pure; decoding treats its
// input as hostile (nullopt for anything malformed). Any thread.
#pragma once

#include "adapter/cluster/cluster_message.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace socketio::redis {

// A broadcast without acks: the payload for the broadcast channel.
std::string encode_classic_broadcast(const cluster::ClusterMessage& m);
// Any other message this node sends unprompted: the payload for the request channel.
std::string encode_classic_request(const cluster::ClusterMessage& m);
// An answer: the payload for the response channel.
std::string encode_classic_response(const cluster::ClusterMessage& m);

std::optional<cluster::ClusterMessage> decode_classic_broadcast(std::string_view payload);
std::optional<cluster::ClusterMessage> decode_classic_request(std::string_view payload, std::string_view nsp);
std::optional<cluster::ClusterMessage> decode_classic_response(std::string_view payload,
                                                               std::string_view nsp);

}  // namespace socketio::redis
