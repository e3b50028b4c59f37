// The throttle for the log line a tripped limit writes (the trips themselves are counted in
// socketio::Metrics). A TripLog belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace socketio::core {

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
