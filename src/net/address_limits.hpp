// The per-process connection budget of a server: TCP connections in total and per peer address
// (checked at accept, before a byte is read), Engine.IO sessions per client address and a
// handshake rate per client address (a token bucket; checked at the handshake, where the client
// address is known through trusted proxies). One instance per server, shared by every shard:
// one mutex, taken once per accept, connection close, handshake and session close, never per
// message. The address table is bounded (max_addresses): idle entries are dropped first, and a
// new address is refused when every tracked one is in use. IPv6 addresses count per /64 (one
// host usually owns a whole /64). Refusals are counted in socketio::Metrics.
#pragma once

#include "net/forwarded.hpp"
#include "socketio/metrics.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace socketio::net {

struct AddressLimitOptions {
  std::size_t max_connections = 0;              // TCP connections in total; 0: no limit
  std::size_t max_connections_per_address = 0;  // TCP connections per peer address; 0: no limit
  std::size_t max_sessions_per_address = 0;     // Engine.IO sessions per client address; 0: no limit
  std::uint32_t handshake_rate = 0;             // handshakes per second per client address; 0: no limit
  std::uint32_t handshake_burst = 0;            // bucket size; 0: twice the rate
  std::size_t max_addresses = 65'536;           // addresses tracked at once
  // Peers that are trusted proxies carry many clients: exempt from the TCP per-address cap.
  ProxyTrust trust;
};

enum class Refusal : std::uint8_t {
  none,
  connections,              // max_connections
  connections_per_address,  // max_connections_per_address
  sessions_per_address,     // max_sessions_per_address
  handshake_rate,           // handshake_rate
  address_table_full,       // max_addresses, every entry in use
};
inline constexpr std::size_t kRefusalKinds = 6;

// What the refused client is told (Engine.IO error message) and the log says.
std::string_view refusal_message(Refusal r) noexcept;

class AddressLimits : public std::enable_shared_from_this<AddressLimits> {
 public:
  using Key = std::array<std::uint8_t, 16>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };

  // Holds one connection or session; destroying it gives it back (any thread).
  class Slot {
   public:
    Slot(AddressLimits& owner, Key key, bool total, bool per_address, bool session)
        : owner_(owner),
          keep_(owner.weak_from_this().lock()),
          key_(key),
          total_(total),
          per_address_(per_address),
          session_(session) {}
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    AddressLimits& owner_;
    // A connection or session may outlive the server that counted it (it is destroyed on its
    // shard after the server's teardown began): the table stays until the last slot is back.
    // Null when the table is not owned by a shared_ptr (unit tests manage its lifetime).
    std::shared_ptr<AddressLimits> keep_;
    Key key_;
    bool total_, per_address_, session_;
  };

  // Refusals are counted in metrics (socketio_connections_refused_total{limit}), per shard.
  AddressLimits(AddressLimitOptions options, Metrics& metrics);

  const AddressLimitOptions& options() const noexcept { return options_; }
  bool limits_connections() const noexcept {
    return options_.max_connections > 0 || options_.max_connections_per_address > 0;
  }
  bool limits_sessions() const noexcept {
    return options_.max_sessions_per_address > 0 || options_.handshake_rate > 0;
  }

  // A new TCP connection from peer (an IP address as text). Null when refused (why says which
  // limit; the refusal is counted).
  std::shared_ptr<Slot> open_connection(std::string_view peer, Refusal& why);
  // A new Engine.IO session of client; same contract.
  std::unique_ptr<Slot> open_session(std::string_view client, Refusal& why);

  // Refusals of one kind, summed over the shards.
  std::uint64_t refused(Refusal r) const noexcept;
  std::size_t connections() const noexcept { return connections_.load(std::memory_order_relaxed); }
  std::size_t tracked_addresses() const;

  // The key an address counts under (IPv6: its /64); all zero when it is not an address.
  static Key key_of(std::string_view address) noexcept;

 private:
  struct Entry {
    std::uint32_t connections = 0;
    std::uint32_t sessions = 0;
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled{};
  };
  Entry* find_or_add(const Key& key, std::chrono::steady_clock::time_point now);
  bool idle(const Entry& e, std::chrono::steady_clock::time_point now) const noexcept;
  void release(const Key& key, bool total, bool per_address, bool session);
  void count(Refusal why) const noexcept { refused_[static_cast<std::size_t>(why)].inc(); }

  const AddressLimitOptions options_;
  const double burst_;
  std::atomic<std::size_t> connections_{0};
  mutable std::mutex mutex_;
  std::unordered_map<Key, Entry, KeyHash> table_;
  std::chrono::steady_clock::time_point next_sweep_{};
  Metrics& metrics_;
  std::array<Metrics::Counter, kRefusalKinds> refused_;
};

}  // namespace socketio::net
