#include "eio/outbox.hpp"

namespace socketio::eio {

OutboxStats::OutboxStats(Metrics& m)
    : over_high_water(m.counter("socketio_outbox_over_high_water_total",
                                "Times a client went over the outbox high-water mark (--outbox-high-water)")),
      slow_disconnects(m.counter("socketio_slow_client_disconnects_total",
                                 "Clients disconnected by the slow-client policy, by the limit they hit",
                                 {{"limit", "slow_client_timeout"}})),
      overflow_disconnects(m.counter("socketio_slow_client_disconnects_total",
                                     "Clients disconnected by the slow-client policy, by the limit they hit",
                                     {{"limit", "hard_limit"}})) {}

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

}  // namespace socketio::eio
