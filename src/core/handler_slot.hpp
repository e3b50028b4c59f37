// Memory for the one pending operation of a kind that a connection always has (its wait for the
// next bytes), owned by the connection: bound to the operation's handler as its allocator
// (asio::bind_allocator), so the operation is allocated in the same place every time instead of
// anew after each completion. An idle connection's memory then never moves in the heap: an
// operation allocated anew each cycle lands wherever a burst of traffic left room and pins that
// page until the next cycle, so what a burst took came back only slowly.
//
// One operation at a time; a second one at once (or a bigger one) gets ordinary memory. The slot
// must outlive the operation: keep it in the object the handler keeps alive.
#pragma once

#include <cstddef>
#include <new>

namespace socketio::core {

class HandlerSlot {
 public:
  static constexpr std::size_t kSize = 256;

  HandlerSlot() = default;
  HandlerSlot(const HandlerSlot&) = delete;
  HandlerSlot& operator=(const HandlerSlot&) = delete;

  void* allocate(std::size_t n) {
    if (!used_ && n <= kSize) {
      used_ = true;
      return storage_;
    }
    return ::operator new(n);
  }
  void deallocate(void* p) noexcept {
    if (p == storage_)
      used_ = false;
    else
      ::operator delete(p);
  }
  bool in_use() const noexcept { return used_; }

 private:
  alignas(std::max_align_t) unsigned char storage_[kSize];
  bool used_ = false;
};

// The standard allocator interface over a HandlerSlot.
template <class T>
class SlotAllocator {
 public:
  using value_type = T;
  explicit SlotAllocator(HandlerSlot& slot) noexcept : slot_(&slot) {}
  template <class U>
  SlotAllocator(const SlotAllocator<U>& other) noexcept : slot_(other.slot()) {}

  T* allocate(std::size_t n) { return static_cast<T*>(slot_->allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { slot_->deallocate(p); }
  HandlerSlot* slot() const noexcept { return slot_; }

  template <class U>
  bool operator==(const SlotAllocator<U>& o) const noexcept {
    return slot_ == o.slot();
  }

 private:
  HandlerSlot* slot_;
};

}  // namespace socketio::core
