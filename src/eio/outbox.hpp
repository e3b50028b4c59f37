// The slow-client policy, in one place: how much may be queued for one client, and for how long,
// before what it is sent is thinned out or it is let go. Everything queued for a session counts
// (the Engine.IO buffer, the WebSocket's queue and its pending pong); the network layer adds its
// own backpressure at the same high-water mark (net::ServerOptions::backpressure_bytes: a
// WebSocket peer is not read while that much waits to be written to it).
//
//   buffered <= high_water             fine
//   buffered >  high_water             the client whose message put it there is not read until it
//                                      is back under (eio/flow.hpp); volatile packets are dropped
//                                      (counted), emits report SendResult::buffered, and the slow
//                                      timer starts
//   over high_water for slow_timeout   disconnected ("transport error"), counted, logged; checked
//                                      by a timer, so a client is let go even when nothing more
//                                      is sent to it
//   buffered >  hard_limit             disconnected at once (a burst faster than the timer)
//
// One OutboxPolicy per Engine.IO session, used on the session's shard thread; its counters are
// series of the server's metrics registry (eio::Counters::outbox). Pure: the session owns the
// timer. The volatile packets dropped are counted where the decision is taken, by sio
// (socketio_packets_dropped_total{reason="volatile"}).
#pragma once

#include "socketio/metrics.hpp"

#include <chrono>
#include <cstddef>

namespace socketio::eio {

struct OutboxLimits {
  std::size_t high_water = 1024 * 1024;            // --outbox-high-water
  std::chrono::milliseconds slow_timeout{10'000};  // --slow-client-timeout
  std::size_t hard_limit = 64 * 1024 * 1024;       // never above this, however briefly
  bool hold_senders = true;                        // --hold-senders (eio/flow.hpp)
  std::chrono::milliseconds hold_timeout{1'000};   // --hold-senders-timeout
};

struct OutboxStats {
  OutboxStats() = default;  // no registry: not counted
  explicit OutboxStats(Metrics& m);
  Metrics::Counter over_high_water;       // times a client went over the high-water mark
  Metrics::Counter slow_disconnects;      // over it for slow_timeout: disconnected
  Metrics::Counter overflow_disconnects;  // over hard_limit: disconnected at once
  Metrics::Counter senders_held;          // a sender's reads held by receivers over the mark (eio/flow.hpp)
};

class OutboxPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict {
    ok,          // nothing to do (or the slow timer is already set)
    arm_timer,   // over the high-water mark: check again at deadline()
    disconnect,  // let the client go (why: slow() or overflow)
  };

  OutboxPolicy(const OutboxLimits& limits, const OutboxStats& stats) : limits_(&limits), stats_(&stats) {}

  // After something was queued, and when the slow timer fires: what to do about `buffered`.
  Verdict check(std::size_t buffered, Clock::time_point now) noexcept;
  // The same, reading the clock only when over the high-water mark (not once per message).
  Verdict check(std::size_t buffered) noexcept {
    if (buffered <= limits_->high_water && buffered <= limits_->hard_limit) {
      over_since_ = {};
      return Verdict::ok;
    }
    return check(buffered, Clock::now());
  }

  bool over_high_water(std::size_t buffered) const noexcept { return buffered > limits_->high_water; }
  // When the client, over the high-water mark since over_since, times out.
  Clock::time_point deadline() const noexcept { return over_since_ + limits_->slow_timeout; }
  // Over the mark, this client may hold its senders (eio/flow.hpp) while it makes progress: for
  // hold_timeout from the start of the stretch, then for another hold_timeout each time its
  // outbox is below the last period's peak. A client that reads nothing holds nobody longer than
  // hold_timeout, and faces the slow-client timeout alone.
  bool may_hold(std::size_t buffered, Clock::time_point now) noexcept;
  // When the timer must look next: the end of the current hold period, or the slow deadline.
  Clock::time_point next_deadline(Clock::time_point now) const noexcept {
    const bool holding = limits_->hold_senders && over_since_ != Clock::time_point{} && now < hold_until_;
    return holding && hold_until_ < deadline() ? hold_until_ : deadline();
  }
  // The last disconnect verdict was for the slow timeout (else for the hard limit).
  bool slow() const noexcept { return slow_; }
  const OutboxLimits& limits() const noexcept { return *limits_; }

 private:
  const OutboxLimits* limits_;
  const OutboxStats* stats_;
  Clock::time_point over_since_{};  // epoch: not over the high-water mark
  Clock::time_point hold_until_{};  // the end of the current hold period
  std::size_t hold_bytes_ = 0;      // the most it saw queued
  bool slow_ = false;
};

}  // namespace socketio::eio
