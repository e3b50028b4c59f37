#include "net/loop_lag.hpp"

#include <boost/asio/steady_timer.hpp>

namespace socketio::net {

struct LoopLag::Probe : std::enable_shared_from_this<Probe> {
  Probe(boost::asio::io_context& io, std::chrono::milliseconds every) : timer(io), interval(every) {}

  void arm() {
    expected = std::chrono::steady_clock::now() + interval;
    timer.expires_at(expected);
    timer.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (ec || !self) return;
      const auto late = std::chrono::steady_clock::now() - self->expected;
      self->lag_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(late).count(),
                         std::memory_order_relaxed);
      self->arm();
    });
  }

  boost::asio::steady_timer timer;
  std::chrono::milliseconds interval;
  std::chrono::steady_clock::time_point expected;
  std::atomic<std::int64_t> lag_ns{0};  // written by the shard, read by scrapes
};

LoopLag::LoopLag(ShardPool& pool, std::chrono::milliseconds interval) : pool_(pool), interval_(interval) {
  for (std::size_t i = 0; i < pool.size(); ++i)
    probes_.push_back(std::make_shared<Probe>(pool.context(i), interval));
}

LoopLag::~LoopLag() {
  // The timers belong to the shards' io_contexts, which are stopped by now (the owner destroys
  // this after joining the pool): cancelling here touches no running thread.
  for (auto& p : probes_) p->timer.cancel();
}

void LoopLag::start() {
  for (std::size_t i = 0; i < probes_.size(); ++i) pool_.post(i, [p = probes_[i]] { p->arm(); });
}

double LoopLag::lag_seconds(std::size_t shard) const noexcept {
  if (shard >= probes_.size()) return 0;
  return static_cast<double>(probes_[shard]->lag_ns.load(std::memory_order_relaxed)) / 1e9;
}

}  // namespace socketio::net
