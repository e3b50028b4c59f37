#include "eio/heartbeat.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace socketio::eio {

namespace asio = boost::asio;

struct HeartbeatQueue::Timer {
  Timer(asio::io_context& io, HeartbeatQueue& q) : timer(io), queue(q) {}
  asio::steady_timer timer;
  HeartbeatQueue& queue;
};

HeartbeatQueue::HeartbeatQueue(asio::io_context& io, Expired on_expired)
    : on_expired_(on_expired), timer_(std::make_shared<Timer>(io, *this)) {
  for (auto& s : lists_) s.prev_ = s.next_ = &s;
}

HeartbeatQueue::~HeartbeatQueue() {
  // Entries still armed (their sessions outlive the server) are let go, so that they do not
  // unlink themselves from freed sentinels later.
  for (auto& s : lists_) {
    for (Entry* e = s.next_; e != &s;) {
      Entry* next = e->next_;
      e->prev_ = e->next_ = nullptr;
      e = next;
    }
    s.prev_ = s.next_ = nullptr;
  }
}

void HeartbeatQueue::arm(Entry& e, std::size_t list, Clock::time_point deadline) {
  e.unlink();
  e.deadline_ = deadline;
  e.list_ = static_cast<std::uint8_t>(list);
  Entry& s = lists_[list];
  Entry* after = s.prev_;
  while (after != &s && after->deadline_ > deadline) after = after->prev_;  // not taken for heartbeats
  e.prev_ = after;
  e.next_ = after->next_;
  after->next_->prev_ = &e;
  after->next_ = &e;
  if (!expiring_ && deadline < timer_at_) schedule(deadline);
}

bool HeartbeatQueue::empty() const noexcept {
  for (const auto& s : lists_)
    if (s.next_ != &s) return false;
  return true;
}

HeartbeatQueue::Clock::time_point HeartbeatQueue::next_deadline() const noexcept {
  auto next = Clock::time_point::max();
  for (const auto& s : lists_)
    if (s.next_ != &s && s.next_->deadline_ < next) next = s.next_->deadline_;
  return next;
}

std::size_t HeartbeatQueue::expire(Clock::time_point now) {
  struct Flag {
    bool& f;
    explicit Flag(bool& b) : f(b) { f = true; }
    ~Flag() { f = false; }
  };
  std::size_t n = 0;
  {
    Flag expiring(expiring_);
    for (;;) {
      // The heads are read again after every callback: it may have unlinked, re-armed or destroyed
      // any entry. The earliest due head first, so that deadlines run in time order across lists.
      Entry* due = nullptr;
      for (auto& s : lists_) {
        Entry* head = s.next_;
        if (head != &s && head->deadline_ <= now && (!due || head->deadline_ < due->deadline_)) due = head;
      }
      if (!due) break;
      due->unlink();
      ++n;
      on_expired_(*due);
    }
  }
  if (const auto next = next_deadline(); next < timer_at_) schedule(next);
  return n;
}

void HeartbeatQueue::schedule(Clock::time_point at) {
  timer_at_ = at;
  const auto gen = ++generation_;
  timer_->timer.expires_at(at);  // the wait in flight, if any, completes as aborted
  timer_->timer.async_wait([w = std::weak_ptr<Timer>(timer_), gen](boost::system::error_code ec) {
    if (ec) return;
    const auto t = w.lock();  // null: the queue is gone
    if (!t || t->queue.generation_ != gen) return;
    t->queue.on_timer();
  });
}

void HeartbeatQueue::on_timer() {
  timer_at_ = Clock::time_point::max();
  expire(Clock::now());
}

}  // namespace socketio::eio
