// The sender of the message being handled on this thread, for publisher backpressure (the policy
// is eio/flow.hpp): while a client's message is handled, what it makes the server send to others
// (a broadcast, an emit to one socket) is known to come from it, so a receiver that goes over its
// outbox high-water mark can hold the sender's reads instead of being dropped later.
//
// Kept in core, with no Asio, because net::ShardPool carries the sender along with the work
// posted while it is current: a broadcast's deliveries on the other shards know who sent it too.
// All of it is per thread; a FlowSender itself is only touched on its own shard (flow_shard()).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace socketio::core {

class FlowSender;

// What a sender has posted to other shards and they have not run yet. A sender that reads
// faster than another shard delivers for it would otherwise pile up work there without bound
// (and slow receivers over there would notice too late): at kHoldAt posts in flight the sender
// holds itself, and the shard that brings the count back down to kReleaseAt tells it.
struct FlowToken {
  static constexpr std::uint32_t kHoldAt = 64;
  static constexpr std::uint32_t kReleaseAt = 16;
  explicit FlowToken(std::weak_ptr<FlowSender> s) : sender(std::move(s)) {}
  std::weak_ptr<FlowSender> sender;
  std::atomic<std::uint32_t> in_flight{0};
};

class FlowSender {
 public:
  virtual ~FlowSender() = default;
  virtual std::size_t flow_shard() const noexcept = 0;
  virtual std::weak_ptr<FlowSender> flow_ref() = 0;
  // On flow_shard()'s thread. Every hold is released once.
  virtual void flow_hold() = 0;
  virtual void flow_release() = 0;
  // On flow_shard()'s thread: the sender's token (made on first use), and the news that
  // kHoldAt posts are in flight (the sender holds itself until they are down to kReleaseAt).
  virtual const std::shared_ptr<FlowToken>& flow_token() = 0;
  virtual void flow_pipeline_full() = 0;
  // Any thread: the posts in flight came down to kReleaseAt (the sender checks on its shard).
  virtual void flow_pipeline_drained() = 0;
};

// Marks `sender` (on its own shard) as the sender of what the current thread does until the
// scope ends. Scopes nest (a handler that handles another client's message inline).
class SenderScope {
 public:
  explicit SenderScope(FlowSender* sender) noexcept;
  ~SenderScope();
  SenderScope(const SenderScope&) = delete;
  SenderScope& operator=(const SenderScope&) = delete;

 private:
  FlowSender* prev_local_;
  const std::weak_ptr<FlowSender>* prev_remote_;
};

// The sender current on this thread (empty when none).
std::weak_ptr<FlowSender> current_sender();

// For net::ShardPool::post: fn, run with the current sender (if any) current again.
std::function<void()> carry_sender(std::function<void()> fn);

}  // namespace socketio::core
