// An allocator for the operation of an asynchronous wait that may stay pending for a connection's
// whole idle life (a socket's readiness wait). Asio allocates an operation with
// the handler's associated allocator; for the default one (std::allocator) it reuses blocks from
// a per-thread cache, whatever their size, so a small wait armed right after a large operation
// completed (the HTTP upgrade's read, ~500 bytes) holds that large block for as long as it waits.
// Bound to such a handler (asio::bind_allocator), this type is not std::allocator, so the
// operation gets a block of exactly its size from the heap. Pure C++: no Asio here.
#pragma once

#include <cstddef>
#include <new>

namespace socketio::core {

template <class T>
struct ExactAllocator {
  using value_type = T;

  ExactAllocator() noexcept = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }

  template <class U>
  bool operator==(const ExactAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace socketio::core
