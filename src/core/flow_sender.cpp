#include "core/flow_sender.hpp"

#include <utility>

namespace socketio::core {
namespace {

// A sender on this shard (a raw pointer: no reference count per message), or one of another
// shard whose posted work runs here (a weak reference, carried by the post).
thread_local FlowSender* t_local = nullptr;
thread_local const std::weak_ptr<FlowSender>* t_remote = nullptr;

// Runs posted work with the sender that was current when it was posted.
class RemoteScope {
 public:
  explicit RemoteScope(const std::weak_ptr<FlowSender>& sender) noexcept
      : prev_local_(t_local), prev_(t_remote) {
    t_local = nullptr;
    t_remote = &sender;
  }
  ~RemoteScope() {
    t_local = prev_local_;
    t_remote = prev_;
  }
  RemoteScope(const RemoteScope&) = delete;
  RemoteScope& operator=(const RemoteScope&) = delete;

 private:
  FlowSender* prev_local_;
  const std::weak_ptr<FlowSender>* prev_;
};

}  // namespace

SenderScope::SenderScope(FlowSender* sender) noexcept : prev_local_(t_local), prev_remote_(t_remote) {
  t_local = sender;
  t_remote = nullptr;
}

SenderScope::~SenderScope() {
  t_local = prev_local_;
  t_remote = prev_remote_;
}

std::weak_ptr<FlowSender> current_sender() {
  if (t_local) return t_local->flow_ref();
  if (t_remote) return *t_remote;
  return {};
}

std::function<void()> carry_sender(std::function<void()> fn) {
  if (t_remote) {
    // Posted again from another shard's delivery: the sender travels on, not counted.
    return [sender = *t_remote, fn = std::move(fn)] {
      RemoteScope scope(sender);
      fn();
    };
  }
  if (!t_local) return fn;
  std::shared_ptr<FlowToken> token = t_local->flow_token();
  if (token->in_flight.fetch_add(1, std::memory_order_relaxed) + 1 == FlowToken::kHoldAt)
    t_local->flow_pipeline_full();
  return [token = std::move(token), fn = std::move(fn)] {
    {
      RemoteScope scope(token->sender);
      fn();
    }
    if (token->in_flight.fetch_sub(1, std::memory_order_acq_rel) == FlowToken::kReleaseAt + 1)
      if (auto s = token->sender.lock()) s->flow_pipeline_drained();
  };
}

}  // namespace socketio::core
