// Publisher backpressure, the first step of the slow-client policy (eio/outbox.hpp): a client
// whose message puts a receiver over the outbox high-water mark is not read any further (its
// WebSocket reads paused after the read in hand, its polling POST answered only then) until every
// receiver it put there is back under the mark, or stops making progress (--hold-senders-timeout,
// 1 s, without its queue shrinking: eio/outbox.hpp; then the sender goes on and that receiver
// faces the slow-client timeout alone, so one that reads nothing cannot freeze its senders for
// longer than that). So when receivers cannot keep up, the sender
// is slowed before any receiver is dropped, and what one sender makes the server hold is bounded
// by what its receivers take. Node's server has no equivalent (it buffers without bound); uWS
// drops or closes the receivers instead.
//
// The sender is the client whose message is being handled when the send happens
// (core::SenderScope, carried by ShardPool::post to the other shards of a broadcast). Sends with
// no such sender (the server's own emits, messages from other nodes through an adapter) hold
// nobody: for those the slow-client timeout and the volatile drops remain.
//
// Who holds whom is kept per shard, only while a receiver is over the mark: nothing per idle
// connection. Every function runs on the receiver's shard thread.
#pragma once

#include <cstddef>

namespace socketio::core {
class FlowSender;
}
namespace socketio::net {
class ShardPool;
}

namespace socketio::eio::flow {

// `receiver` (an identity on this shard) is over the high-water mark: holds the current sender,
// once per receiver and sender; nothing when no sender is current, or the sender is `self`
// (the receiver's own message: the transport's own backpressure covers that).
void hold_current_sender(const void* receiver, const core::FlowSender* self, net::ShardPool& pool);

// `receiver` is back under the mark, or gone: every sender it holds is released.
void release(const void* receiver, net::ShardPool& pool);

// Senders held by receivers of this shard, and the receivers holding them (tests, gauges).
std::size_t holding_receivers() noexcept;

}  // namespace socketio::eio::flow
