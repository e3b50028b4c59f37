#include "adapter/cluster/node_picker.hpp"

#include <algorithm>

namespace socketio::cluster {

NodePicker::NodePicker(std::uint64_t seed) : rng_(seed) {}

void NodePicker::update(std::vector<NodeRecord> nodes) {
  std::lock_guard lock(mutex_);
  std::vector<Entry> next;
  next.reserve(nodes.size());
  for (NodeRecord& r : nodes) {
    const auto old = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
      return e.record.id == r.id && e.record.updated == r.updated;
    });
    const std::uint64_t picked = old != entries_.end() ? old->picked : 0;
    next.push_back({std::move(r), picked});
  }
  entries_ = std::move(next);
}

std::vector<NodeRecord> NodePicker::nodes() const {
  std::lock_guard lock(mutex_);
  std::vector<NodeRecord> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(e.record);
  return out;
}

std::optional<std::string> NodePicker::pick(const std::vector<std::string_view>& exclude) {
  std::lock_guard lock(mutex_);
  if (auto url = pick_locked(exclude, true)) return url;
  return pick_locked(exclude, false);
}

std::optional<std::string> NodePicker::pick_locked(const std::vector<std::string_view>& exclude,
                                                   bool honour_exclude) {
  // (clients + picked + 1) / weight compared as cross products: exact, no floating point.
  std::vector<Entry*> best;
  std::uint64_t best_num = 0;
  std::uint64_t best_den = 1;
  for (Entry& e : entries_) {
    if (e.record.weight == 0) continue;
    if (honour_exclude && std::find(exclude.begin(), exclude.end(), e.record.url) != exclude.end()) continue;
    const std::uint64_t num = e.record.clients + e.picked + 1;
    const std::uint64_t den = e.record.weight;
    if (best.empty() || num * best_den < best_num * den) {
      best.assign(1, &e);
      best_num = num;
      best_den = den;
    } else if (num * best_den == best_num * den) {
      best.push_back(&e);
    }
  }
  if (best.empty()) return std::nullopt;
  Entry* chosen = best[std::uniform_int_distribution<std::size_t>(0, best.size() - 1)(rng_)];
  ++chosen->picked;
  return chosen->record.url;
}

}  // namespace socketio::cluster
