#include "eio/flow.hpp"

#include "core/flow_sender.hpp"
#include "net/shards.hpp"

#include <memory>
#include <unordered_map>
#include <vector>

namespace socketio::eio::flow {
namespace {

using SenderRef = std::weak_ptr<core::FlowSender>;

// The senders each receiver of this shard holds; a receiver is here only while over the mark.
std::unordered_map<const void*, std::vector<SenderRef>>& held() {
  thread_local std::unordered_map<const void*, std::vector<SenderRef>> table;
  return table;
}

bool same(const SenderRef& a, const SenderRef& b) noexcept {
  return !a.owner_before(b) && !b.owner_before(a);
}

// On the sender's shard (inline when it is this one).
void apply(const SenderRef& ref, bool hold, net::ShardPool& pool) {
  auto sender = ref.lock();
  if (!sender) return;
  pool.dispatch(sender->flow_shard(), [ref, hold] {
    if (auto s = ref.lock()) hold ? s->flow_hold() : s->flow_release();
  });
}

}  // namespace

void hold_current_sender(const void* receiver, const core::FlowSender* self, net::ShardPool& pool) {
  SenderRef sender = core::current_sender();
  const auto current = sender.lock();
  if (!current || current.get() == self) return;
  auto& senders = held()[receiver];
  for (const auto& s : senders)
    if (same(s, sender)) return;
  senders.push_back(sender);
  apply(sender, true, pool);
}

void release(const void* receiver, net::ShardPool& pool) {
  auto& table = held();
  if (table.empty()) return;
  const auto it = table.find(receiver);
  if (it == table.end()) return;
  const std::vector<SenderRef> senders = std::move(it->second);
  table.erase(it);
  for (const auto& s : senders) apply(s, false, pool);
}

std::size_t holding_receivers() noexcept {
  return held().size();
}

}  // namespace socketio::eio::flow
