// A set of pointers kept in one array, for sets walked far more often than changed: the members
// of a room are walked once per broadcast and changed once per join or leave. A walk over an
// array reads memory in order; over a hash set it chases one node per member (the room walk was
// 6 % of the server's time in a fan-out to 1 000 receivers). Order: insertion order, except that
// an erase moves the last element into the hole. Small sets are searched linearly; larger ones
// keep an index from pointer to position, so that insert and erase stay O(1) at any size. A set
// of one member (every socket's own room) costs one small array. Not thread-safe (the in-process
// adapter's index is shard-local).
#pragma once

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

namespace socketio::core {

template <class T>
class PtrSet {
 public:
  using const_iterator = typename std::vector<T*>::const_iterator;

  // False when p is in already.
  bool insert(T* p) {
    if (find(p) != npos) return false;
    items_.push_back(p);
    if (index_) {
      index_->emplace(p, items_.size() - 1);
    } else if (items_.size() > kLinear) {
      index_ = std::make_unique<std::unordered_map<T*, std::size_t>>();
      index_->reserve(items_.size() * 2);
      for (std::size_t i = 0; i < items_.size(); ++i) index_->emplace(items_[i], i);
    }
    return true;
  }

  // False when p is not in.
  bool erase(T* p) {
    const std::size_t at = find(p);
    if (at == npos) return false;
    T* last = items_.back();
    items_[at] = last;
    items_.pop_back();
    if (index_) {
      (*index_)[last] = at;
      index_->erase(p);
      if (items_.size() <= kLinear / 2) index_.reset();
    }
    if (items_.capacity() > 4 * items_.size() + 8) items_.shrink_to_fit();
    return true;
  }

  bool contains(T* p) const { return find(p) != npos; }
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  const_iterator begin() const noexcept { return items_.begin(); }
  const_iterator end() const noexcept { return items_.end(); }

 private:
  static constexpr std::size_t kLinear = 16;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  std::size_t find(T* p) const {
    if (index_) {
      auto it = index_->find(p);
      return it == index_->end() ? npos : it->second;
    }
    for (std::size_t i = 0; i < items_.size(); ++i)
      if (items_[i] == p) return i;
    return npos;
  }

  std::vector<T*> items_;
  std::unique_ptr<std::unordered_map<T*, std::size_t>> index_;  // only above kLinear members
};

}  // namespace socketio::core
