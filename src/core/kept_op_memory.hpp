// The memory of an asynchronous operation that a connection makes again and again (an HTTP
// connection's read of the next request, a WebSocket's readiness wait or read), kept by the
// connection: bound to the operation's handler as its allocator (asio::bind_allocator), the first
// operation gets a block of exactly its size from the heap and every later one the same block,
// until the connection goes.
//
// Why (docs/reliability.md, sessions 9 and 12): an operation allocated anew each time lands
// wherever glibc has a free chunk of its size, and after a burst of connections came and went
// that is mostly in the pages the burst left. A held long-polling client makes a request every
// heartbeat, an idle WebSocket a new wait after every pong, and these blocks spread over pages
// that nothing else used, which no trim gives back. Kept, the block stays where it was made,
// beside the rest of its connection. Exactly its size: with the default allocator Asio reuses a
// block of its per-thread cache whatever its size, so a small wait armed right after a large
// operation completed (the HTTP upgrade's read, ~500 bytes) would hold that block while it waits.
//
// One operation at a time: one made while the block is taken (or a bigger one) gets ordinary
// memory, and a bigger one made while the block is free replaces it. Not thread-safe: the
// operations of one connection run on its shard. The KeptOpMemory must outlive the operation:
// keep it in the object that the handler keeps alive (Asio frees an operation's memory before
// its handler, and the handler with it, is destroyed). Pure C++: no Asio here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace socketio::core {

class KeptOpMemory {
 public:
  KeptOpMemory() = default;
  KeptOpMemory(const KeptOpMemory&) = delete;
  KeptOpMemory& operator=(const KeptOpMemory&) = delete;
  ~KeptOpMemory() { ::operator delete(block_); }

  void* allocate(std::size_t n) {
    if (in_use_) return ::operator new(n);
    if (n > size_ || n > UINT32_MAX) {
      ::operator delete(block_);
      block_ = nullptr;
      size_ = 0;
      block_ = ::operator new(n);
      size_ = static_cast<std::uint32_t>(n);
    }
    in_use_ = true;
    return block_;
  }

  void deallocate(void* p) noexcept {
    if (p == block_ && in_use_)
      in_use_ = false;
    else
      ::operator delete(p);
  }

  static void release(KeptOpMemory* memory, void* p) noexcept { memory->deallocate(p); }

  bool in_use() const noexcept { return in_use_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void* block_ = nullptr;
  std::uint32_t size_ = 0;
  bool in_use_ = false;
};

// The same for an object that a connection makes again and again and hands to other threads,
// which may release it from any thread and after the connection is gone: an HTTP request's
// Exchange, held by the layer above while a long poll waits (allocate_shared with a
// KeptSharedAllocator). Session 13: the held polls' Exchanges were 556 of the 1 785 pages the
// soak's heap profile found pinned after the load.
//
// Every block (the kept one and the ordinary ones made while it is taken) starts with a header
// whose two bits say "the owner keeps it" and "an object lives in it": whoever clears the last bit
// frees the block, so the owner may go while its object lives on, and the object's release needs
// nothing but its own pointer. allocate() is for the owner's thread only; deallocate() any thread.
class KeptSharedMemory {
 public:
  KeptSharedMemory() = default;
  KeptSharedMemory(const KeptSharedMemory&) = delete;
  KeptSharedMemory& operator=(const KeptSharedMemory&) = delete;
  ~KeptSharedMemory() {
    if (block_ && !(block_->state.fetch_and(~kKept, std::memory_order_acq_rel) & kInUse)) free(block_);
  }

  void* allocate(std::size_t n) {
    if (n > UINT32_MAX - sizeof(Header)) throw std::bad_alloc();
    if (block_ && n <= block_->size) {
      if (!(block_->state.fetch_or(kInUse, std::memory_order_acq_rel) & kInUse)) return payload(block_);
      return payload(make(n, kInUse));  // taken
    }
    if (block_ && (block_->state.load(std::memory_order_acquire) & kInUse)) return payload(make(n, kInUse));
    free(block_);  // free (or none yet) and too small: replaced
    block_ = make(n, kKept | kInUse);
    return payload(block_);
  }

  static void deallocate(void* p) noexcept {
    Header* h = reinterpret_cast<Header*>(static_cast<unsigned char*>(p) - sizeof(Header));
    if (!(h->state.fetch_and(~kInUse, std::memory_order_acq_rel) & kKept)) free(h);
  }
  static void release(KeptSharedMemory*, void* p) noexcept { deallocate(p); }

  bool in_use() const noexcept { return block_ && (block_->state.load(std::memory_order_acquire) & kInUse); }
  std::size_t size() const noexcept { return block_ ? block_->size : 0; }

 private:
  static constexpr std::uint8_t kKept = 1, kInUse = 2;
  struct alignas(std::max_align_t) Header {
    std::atomic<std::uint8_t> state;
    std::uint32_t size;
  };
  static Header* make(std::size_t n, std::uint8_t state) {
    auto* h = static_cast<Header*>(::operator new(sizeof(Header) + n));
    ::new (h) Header{{state}, static_cast<std::uint32_t>(n)};
    return h;
  }
  static void free(Header* h) noexcept {
    if (!h) return;
    h->~Header();
    ::operator delete(h);
  }
  static void* payload(Header* h) noexcept { return reinterpret_cast<unsigned char*>(h) + sizeof(Header); }

  Header* block_ = nullptr;
};

// The standard allocator interface over either memory (asio::bind_allocator, allocate_shared).
// Memory::release gives a block back; a KeptSharedMemory's needs nothing but the block, since
// the copy of the allocator that allocate_shared keeps for it may outlive the owner.
template <class T, class Memory>
class KeptAllocator {
 public:
  using value_type = T;
  explicit KeptAllocator(Memory& memory) noexcept : memory_(&memory) {}
  template <class U>
  KeptAllocator(const KeptAllocator<U, Memory>& other) noexcept : memory_(other.memory()) {}

  // KeptSharedMemory: on the owner's thread only, the owner alive then.
  T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { Memory::release(memory_, p); }
  Memory* memory() const noexcept { return memory_; }

  template <class U>
  bool operator==(const KeptAllocator<U, Memory>& o) const noexcept {
    return memory_ == o.memory();
  }

 private:
  Memory* memory_;
};

template <class T>
using KeptOpAllocator = KeptAllocator<T, KeptOpMemory>;
template <class T>
using KeptSharedAllocator = KeptAllocator<T, KeptSharedMemory>;

}  // namespace socketio::core
