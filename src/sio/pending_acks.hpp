// The ack ids a client asked this server to answer (EVENT packets with an id), oldest first.
// Bounded by --max-pending-client-acks: over it the oldest is forgotten (an unhandled event never
// answers, so without a bound a client could make the server hold ids forever).
//
// A vector with a moving head instead of std::deque: an empty deque allocates ~600 bytes at
// construction, for every socket, while most sockets never have an id pending; this holds nothing
// until the first id and stays O(1) amortised when the oldest are dropped at the bound.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace socketio::sio {

class PendingAcks {
 public:
  std::size_t size() const noexcept { return ids_.size() - head_; }

  // Adds id; true when this dropped the oldest to stay within limit.
  bool add(std::uint64_t id, std::size_t limit) {
    ids_.push_back(id);
    if (size() <= limit) return false;
    ++head_;
    // The dropped ids in front are compacted once they are half the storage.
    if (head_ * 2 >= ids_.size()) {
      ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return true;
  }

  // Removes id if pending: the usual handler answers at once, so it is searched from the back.
  bool take(std::uint64_t id) {
    const auto first = ids_.rbegin();
    const auto last = ids_.rend() - static_cast<std::ptrdiff_t>(head_);
    const auto it = std::find(first, last, id);
    if (it == last) return false;
    ids_.erase(std::next(it).base());
    if (size() == 0) {
      ids_.clear();
      head_ = 0;
    }
    return true;
  }

 private:
  std::vector<std::uint64_t> ids_;
  std::size_t head_ = 0;  // ids_[0, head_) were dropped
};

}  // namespace socketio::sio
