#include "eio/outbox.hpp"

#include <algorithm>

namespace socketio::eio {

OutboxStats::OutboxStats(Metrics& m)
    : over_high_water(m.counter("socketio_outbox_over_high_water_total",
                                "Times a client went over the outbox high-water mark (--outbox-high-water)")),
      slow_disconnects(m.counter("socketio_slow_client_disconnects_total",
                                 "Clients disconnected by the slow-client policy, by the limit they hit",
                                 {{"limit", "slow_client_timeout"}})),
      overflow_disconnects(m.counter("socketio_slow_client_disconnects_total",
                                     "Clients disconnected by the slow-client policy, by the limit they hit",
                                     {{"limit", "hard_limit"}})),
      senders_held(m.counter("socketio_senders_held_total",
                             "Times a client was not read because receivers its messages filled were over "
                             "the outbox high-water mark (--hold-senders)")) {}

OutboxPolicy::Verdict OutboxPolicy::check(std::size_t buffered, Clock::time_point now) noexcept {
  if (buffered > limits_->hard_limit) {
    slow_ = false;
    stats_->overflow_disconnects.inc();
    return Verdict::disconnect;
  }
  if (buffered <= limits_->high_water) {
    over_since_ = {};
    return Verdict::ok;
  }
  if (over_since_ == Clock::time_point{}) {
    over_since_ = now;
    hold_until_ = now + limits_->hold_timeout;
    hold_bytes_ = buffered;
    stats_->over_high_water.inc();
    return Verdict::arm_timer;
  }
  if (now >= deadline()) {
    slow_ = true;
    stats_->slow_disconnects.inc();
    return Verdict::disconnect;
  }
  return Verdict::arm_timer;
}

bool OutboxPolicy::may_hold(std::size_t buffered, Clock::time_point now) noexcept {
  if (!limits_->hold_senders || over_since_ == Clock::time_point{}) return false;
  if (now < hold_until_) {
    hold_bytes_ = std::max(hold_bytes_, buffered);  // the period's peak
    return true;
  }
  if (buffered >= hold_bytes_) return false;  // not below the last period's peak: no progress
  hold_until_ = now + limits_->hold_timeout;
  hold_bytes_ = buffered;
  return true;
}

}  // namespace socketio::eio
