// Counters kept per shard and summed on scrape, and the throttle for the log line a tripped
// limit writes. A Counter is written by one thread only (its shard) and read by any: a relaxed
// load and store, no locked instruction, clean under TSan. TripLog belongs to one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace socketio::core {

struct Counter {
  std::atomic<std::uint64_t> n{0};
  void add(std::uint64_t k = 1) noexcept {
    n.store(n.load(std::memory_order_relaxed) + k, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return n.load(std::memory_order_relaxed); }
};

// Under a flood a limit trips thousands of times a second; the log gets the first trip, then at
// most one line per interval saying how many trips it stands for.
class TripLog {
 public:
  // The number of trips to report now (this one included), or nothing while throttled.
  std::optional<std::uint64_t> due(std::chrono::steady_clock::duration interval = std::chrono::seconds(10)) {
    ++pending_;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return std::nullopt;
    next_ = now + interval;
    const auto n = pending_;
    pending_ = 0;
    return n;
  }

 private:
  std::chrono::steady_clock::time_point next_{};
  std::uint64_t pending_ = 0;
};

}  // namespace socketio::core
