// Event-loop lag per shard: every interval, each shard arms a timer and measures how late it
// fires. A shard busy in a long handler (or starved of CPU) shows it here before its clients
// time out. Started with the pool; read from any thread (socketio_event_loop_lag_seconds).
#pragma once

#include "net/shards.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace socketio::net {

class LoopLag {
 public:
  LoopLag(ShardPool& pool, std::chrono::milliseconds interval);
  ~LoopLag();
  LoopLag(const LoopLag&) = delete;
  LoopLag& operator=(const LoopLag&) = delete;

  void start();  // before or after the pool runs; the first measures come one interval later
  // The last lateness measured on that shard, in seconds.
  double lag_seconds(std::size_t shard) const noexcept;

 private:
  struct Probe;
  ShardPool& pool_;
  std::chrono::milliseconds interval_;
  std::vector<std::shared_ptr<Probe>> probes_;
};

}  // namespace socketio::net
