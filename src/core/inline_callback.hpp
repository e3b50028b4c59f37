// A void() callable kept inside the object that holds it: like std::function<void()>, but the
// callable is stored in a fixed buffer, never on the heap (a callable that does not fit is a
// compile error, not an allocation).
//
// Why (docs/reliability.md, session 13): std::function stores on the heap any callable that is not
// trivially copyable, so one that captures a weak_ptr is a block of its own. A held long poll
// registers such a callback with every request (Responder::on_abort), and after a burst of
// connections those blocks, made anew every heartbeat, landed in the pages the burst freed and kept
// them (613 of the 1 785 pinned pages of the soak's heap profile). Inline, the callback is part of
// the object that waits for the abort. Pure C++.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace socketio::core {

template <std::size_t Capacity>
class InlineCallback {
 public:
  InlineCallback() noexcept = default;
  InlineCallback(std::nullptr_t) noexcept {}

  template <class F, class Fn = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<Fn, InlineCallback> &&
                                     !std::is_same_v<Fn, std::nullptr_t> && std::is_invocable_r_v<void, Fn&>>>
  InlineCallback(F&& f) {  // NOLINT: converting, like std::function
    static_assert(sizeof(Fn) <= Capacity, "the callable does not fit: capture less, or raise the capacity");
    static_assert(alignof(Fn) <= alignof(std::max_align_t));
    static_assert(std::is_nothrow_move_constructible_v<Fn> && std::is_copy_constructible_v<Fn>);
    ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
    ops_ = &kOps<Fn>;
  }

  InlineCallback(const InlineCallback& other) : ops_(other.ops_) {
    if (ops_) ops_->copy(other.storage_, storage_);
  }
  InlineCallback(InlineCallback&& other) noexcept : ops_(other.ops_) {
    if (ops_) ops_->move(other.storage_, storage_);
    other.ops_ = nullptr;
  }
  InlineCallback& operator=(const InlineCallback& other) {
    if (this != &other) *this = InlineCallback(other);
    return *this;
  }
  InlineCallback& operator=(InlineCallback&& other) noexcept {
    if (this == &other) return *this;
    reset();
    if (other.ops_) other.ops_->move(other.storage_, storage_);
    ops_ = std::exchange(other.ops_, nullptr);
    return *this;
  }
  InlineCallback& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }
  ~InlineCallback() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  void operator()() { ops_->call(storage_); }

 private:
  struct Ops {
    void (*call)(void*);
    void (*copy)(const void* from, void* to);
    void (*move)(void* from, void* to) noexcept;  // leaves `from` destroyed
    void (*destroy)(void*) noexcept;
  };
  template <class Fn>
  static constexpr Ops kOps{
      [](void* p) { (*static_cast<Fn*>(p))(); },
      [](const void* from, void* to) { ::new (to) Fn(*static_cast<const Fn*>(from)); },
      [](void* from, void* to) noexcept {
        ::new (to) Fn(std::move(*static_cast<Fn*>(from)));
        static_cast<Fn*>(from)->~Fn();
      },
      [](void* p) noexcept { static_cast<Fn*>(p)->~Fn(); },
  };

  void reset() noexcept {
    if (ops_) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char storage_[Capacity];
  const Ops* ops_ = nullptr;
};

}  // namespace socketio::core
