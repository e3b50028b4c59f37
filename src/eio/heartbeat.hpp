// The heartbeat deadlines of every Engine.IO session of one shard, served by one timer. Why: memory
// per idle connection. A session used to own an asio::steady_timer (120 bytes) and, while idle, a
// pending wait (~210 bytes of operation memory, allocated anew at every ping); here it carries one
// 32-byte Entry, and the shard one timer. Every session of a shard has the same ping interval and
// ping timeout (server options), so within one kind of deadline a new one is never earlier than
// those armed before it: each kind gets its own list, ordered by construction (arming appends to the
// tail, cancelling unlinks in O(1)), and the timer waits for the earliest head. A deadline earlier
// than its list's tail is still placed in order (walking back from the tail): correct for any caller,
// fast for the heartbeat's.
//
// Owned by eio::Server, one per shard. Every call, and the destruction of an armed Entry, on that
// shard's thread only (no locks). An Entry may outlive its queue: the queue unlinks all on its way.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace socketio::eio {

class HeartbeatQueue {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kLists = 4;

  // A place in one list: the owner derives from it (a Session). Not copyable: the lists point at it.
  class Entry {
   public:
    Entry() noexcept = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry() { unlink(); }  // a session destroyed while armed leaves no dangling neighbour

    bool armed() const noexcept { return next_ != nullptr; }
    // The deadline and the list it was last armed with, kept once it expired or was cancelled
    // (the owner may read its own state from them); before the first arm: max and list 0.
    Clock::time_point deadline() const noexcept { return deadline_; }
    std::size_t list() const noexcept { return list_; }

   private:
    friend class HeartbeatQueue;
    void unlink() noexcept {
      if (!next_) return;
      prev_->next_ = next_;
      next_->prev_ = prev_;
      prev_ = next_ = nullptr;
    }
    Entry* prev_ = nullptr;
    Entry* next_ = nullptr;
    Clock::time_point deadline_ = Clock::time_point::max();
    std::uint8_t list_ = 0;
  };

  // Called for an entry whose deadline passed, already unlinked. It may arm or cancel any entry
  // (this one included) or destroy its owner.
  using Expired = void (*)(Entry&);

  HeartbeatQueue(boost::asio::io_context& io, Expired on_expired);
  ~HeartbeatQueue();
  HeartbeatQueue(const HeartbeatQueue&) = delete;
  HeartbeatQueue& operator=(const HeartbeatQueue&) = delete;

  // Arms `e` in `list` (< kLists) for `deadline`; an entry already armed is moved (its previous
  // deadline is gone). Equal deadlines expire in the order they were armed.
  void arm(Entry& e, std::size_t list, Clock::time_point deadline);
  static void cancel(Entry& e) noexcept { e.unlink(); }

  // Runs on_expired for every entry due at `now` (deadline <= now), earliest first, including
  // entries armed meanwhile that are due too; then sets the timer once for the earliest deadline
  // left. The timer calls it with Clock::now(); tests with a time of their own. Returns how many ran.
  std::size_t expire(Clock::time_point now);

  bool empty() const noexcept;
  Clock::time_point next_deadline() const noexcept;                  // Clock::time_point::max() when empty
  Clock::time_point timer_at() const noexcept { return timer_at_; }  // ::max(): no wait pending

 private:
  struct Timer;
  void schedule(Clock::time_point at);
  void on_timer();

  std::array<Entry, kLists> lists_;  // sentinels: a list is circular through its sentinel
  Expired on_expired_;
  std::shared_ptr<Timer> timer_;  // its pending wait holds a weak reference
  Clock::time_point timer_at_ = Clock::time_point::max();
  std::uint64_t generation_ = 0;  // of the wait in flight: an older one that completes is stale
  bool expiring_ = false;         // inside expire(): the timer is set once, at its end
};

}  // namespace socketio::eio
