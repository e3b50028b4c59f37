// What connection state recovery keeps for one namespace on this node (socket.io-adapter's
// SessionAwareAdapter): the recoverable packets of the last max_disconnection_duration, each
// stored once however many sockets it went to, with the offset the clients saw appended to it;
// and the sessions ({sid, pid, rooms, data}) of sockets that disconnected for a recoverable reason.
// Bounded: past max_bytes of packets or max_sessions sessions the oldest are dropped (counted),
// besides everything older than the window. Thread-safe (one mutex; locked once per packet,
// never per recipient). No I/O (a log line when a bound trips); the clock is passed in for tests.
#pragma once

#include "socketio/adapter.hpp"
#include "socketio/server.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace socketio::sio {

// One recoverable packet: [event, ...args, offset] and its binary parts (MissedPacket), and who
// it was for.
struct StoredPacket : MissedPacket {
  std::uint64_t seq = 0;
  std::vector<std::string> rooms, except;
  std::chrono::steady_clock::time_point emitted;
  std::size_t bytes = 0;  // what it counts against max_bytes
};
using StoredPacketPtr = std::shared_ptr<const StoredPacket>;

struct RecoveryCounters {
  std::atomic<std::uint64_t> packets_stored{0};
  std::atomic<std::uint64_t> packets_evicted{0};  // dropped for max_bytes before their window ended
  std::atomic<std::uint64_t> sessions_persisted{0};
  std::atomic<std::uint64_t> sessions_evicted{0};  // dropped for max_sessions before their window ended
  std::atomic<std::uint64_t> sessions_restored{0};
  std::atomic<std::uint64_t> restores_failed{0};  // unknown or expired pid, offset out of the window
};

class SessionStore {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit SessionStore(RecoveryOptions options, Clock clock = &std::chrono::steady_clock::now);

  // Appends a fresh offset to `data` and keeps the packet; then, still under the store's lock (so
  // that every shard sees packets in offset order), calls deliver(). The offset is returned.
  std::string store(boost::json::array& data, const std::vector<Bytes>& attachments,
                    const BroadcastOptions& opts, const std::function<void()>& deliver);
  void persist(PersistedSession session);
  // The session of pid and the packets for it after `offset`, or nullopt: unknown or expired
  // pid, or an offset that is not one of the window's (as the reference: a fresh session then).
  std::optional<RestoredSession> restore(const std::string& pid, const std::string& offset);

  const RecoveryCounters& counters() const noexcept { return counters_; }
  std::size_t retained_bytes() const;
  std::size_t retained_packets() const;
  std::size_t kept_sessions() const;

 private:
  struct Kept {
    PersistedSession session;
    std::chrono::steady_clock::time_point disconnected;
  };
  void expire(std::chrono::steady_clock::time_point now);  // under mutex_
  std::optional<std::uint64_t> parse_offset(const std::string& offset) const;

  RecoveryOptions options_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::uint64_t next_seq_;
  std::deque<StoredPacketPtr> packets_;  // by seq, consecutive
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, Kept> sessions_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> order_;  // persist order
  RecoveryCounters counters_;
};

}  // namespace socketio::sio
