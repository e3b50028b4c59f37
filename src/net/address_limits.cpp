#include "net/address_limits.hpp"

#include <algorithm>
#include <cstring>

namespace socketio::net {

namespace {
using Clock = std::chrono::steady_clock;
// When the table is full of addresses in use, a sweep frees nothing: do not sweep on every
// new address of a flood, at most this often.
constexpr auto kSweepBackoff = std::chrono::milliseconds(100);
}  // namespace

std::string_view refusal_message(Refusal r) noexcept {
  switch (r) {
    case Refusal::none:
      return "";
    case Refusal::connections:
      return "Too many connections";
    case Refusal::connections_per_address:
      return "Too many connections from this address";
    case Refusal::sessions_per_address:
      return "Too many sessions from this address";
    case Refusal::handshake_rate:
      return "Too many handshakes from this address";
    case Refusal::address_table_full:
      return "Too many client addresses";
  }
  return "";
}

AddressLimits::Slot::~Slot() {
  owner_.release(key_, total_, per_address_, session_);
}

namespace {
constexpr std::string_view kRefusedName = "socketio_connections_refused_total";
// The `limit` label of each Refusal (none is never counted).
constexpr std::array<std::string_view, kRefusalKinds> kRefusalLabel = {
    "none",           "connections",     "connections_per_address", "sessions_per_address",
    "handshake_rate", "client_addresses"};
}  // namespace

AddressLimits::AddressLimits(AddressLimitOptions options, Metrics& metrics)
    : options_(std::move(options)),
      burst_(options_.handshake_burst > 0 ? options_.handshake_burst : 2.0 * options_.handshake_rate),
      metrics_(metrics) {
  for (std::size_t i = 1; i < kRefusalKinds; ++i)
    refused_[i] = metrics_.counter(
        kRefusedName, "Connections closed at accept and handshakes refused by a limit (docs/reliability.md)",
        {{"limit", std::string(kRefusalLabel[i])}});
}

std::size_t AddressLimits::KeyHash::operator()(const Key& k) const noexcept {
  std::uint64_t a = 0, b = 0;
  std::memcpy(&a, k.data(), 8);
  std::memcpy(&b, k.data() + 8, 8);
  return std::hash<std::uint64_t>()(a * 0x9e3779b97f4a7c15ULL ^ b);
}

AddressLimits::Key AddressLimits::key_of(std::string_view address) noexcept {
  auto ip = parse_ip(address);
  if (!ip) return Key{};
  if (!is_v4(*ip)) std::fill(ip->begin() + 8, ip->end(), 0);  // the /64
  return *ip;
}

std::uint64_t AddressLimits::refused(Refusal r) const noexcept {
  return static_cast<std::uint64_t>(
      metrics_.value(kRefusedName, {{"limit", std::string(kRefusalLabel[static_cast<std::size_t>(r)])}}));
}

std::size_t AddressLimits::tracked_addresses() const {
  std::lock_guard lock(mutex_);
  return table_.size();
}

bool AddressLimits::idle(const Entry& e, Clock::time_point now) const noexcept {
  if (e.connections > 0 || e.sessions > 0) return false;
  if (options_.handshake_rate == 0) return true;
  const double seconds = std::chrono::duration<double>(now - e.refilled).count();
  return e.tokens + seconds * options_.handshake_rate >= burst_;  // a fresh entry would be the same
}

AddressLimits::Entry* AddressLimits::find_or_add(const Key& key, Clock::time_point now) {
  if (auto it = table_.find(key); it != table_.end()) return &it->second;
  if (table_.size() >= options_.max_addresses) {
    if (now < next_sweep_) return nullptr;
    // Entries whose bucket is full again carry nothing; then any entry not in use (its bucket
    // starts over, which favours the client, never the server's memory).
    std::erase_if(table_, [&](const auto& kv) { return idle(kv.second, now); });
    if (table_.size() >= options_.max_addresses) {
      std::erase_if(table_,
                    [](const auto& kv) { return kv.second.connections == 0 && kv.second.sessions == 0; });
    }
    if (table_.size() >= options_.max_addresses) {
      next_sweep_ = now + kSweepBackoff;
      return nullptr;
    }
  }
  Entry& e = table_[key];
  e.tokens = burst_;
  e.refilled = now;
  return &e;
}

std::shared_ptr<AddressLimits::Slot> AddressLimits::open_connection(std::string_view peer, Refusal& why) {
  why = Refusal::none;
  const bool total = options_.max_connections > 0;
  if (total && connections_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
    connections_.fetch_sub(1, std::memory_order_relaxed);
    why = Refusal::connections;
    count(why);
    return nullptr;
  }
  bool per_address = false;
  const Key key = key_of(peer);
  if (options_.max_connections_per_address > 0) {
    const auto ip = parse_ip(peer);
    per_address = !(ip && options_.trust.trusts(0, *ip));
  }
  if (per_address) {
    std::lock_guard lock(mutex_);
    Entry* e = find_or_add(key, Clock::now());
    if (!e || e->connections >= options_.max_connections_per_address) {
      why = e ? Refusal::connections_per_address : Refusal::address_table_full;
    } else {
      ++e->connections;
    }
  }
  if (why != Refusal::none) {
    if (total) connections_.fetch_sub(1, std::memory_order_relaxed);
    count(why);
    return nullptr;
  }
  return std::make_shared<Slot>(*this, key, total, per_address, false);
}

std::unique_ptr<AddressLimits::Slot> AddressLimits::open_session(std::string_view client, Refusal& why) {
  why = Refusal::none;
  if (!limits_sessions()) return nullptr;
  const Key key = key_of(client);
  const auto now = Clock::now();
  {
    std::lock_guard lock(mutex_);
    Entry* e = find_or_add(key, now);
    if (!e) {
      why = Refusal::address_table_full;
    } else if (options_.max_sessions_per_address > 0 && e->sessions >= options_.max_sessions_per_address) {
      why = Refusal::sessions_per_address;
    } else if (options_.handshake_rate > 0) {
      const double seconds = std::chrono::duration<double>(now - e->refilled).count();
      e->tokens = std::min(burst_, e->tokens + seconds * options_.handshake_rate);
      e->refilled = now;
      if (e->tokens < 1.0)
        why = Refusal::handshake_rate;
      else
        e->tokens -= 1.0;
    }
    if (why == Refusal::none) ++e->sessions;
  }
  if (why != Refusal::none) {
    count(why);
    return nullptr;
  }
  return std::make_unique<Slot>(*this, key, false, false, true);
}

void AddressLimits::release(const Key& key, bool total, bool per_address, bool session) {
  if (total) connections_.fetch_sub(1, std::memory_order_relaxed);
  if (!per_address && !session) return;
  std::lock_guard lock(mutex_);
  const auto it = table_.find(key);
  if (it == table_.end()) return;
  Entry& e = it->second;
  if (per_address && e.connections > 0) --e.connections;
  if (session && e.sessions > 0) --e.sessions;
  // Without a rate there is nothing to remember about an address not in use.
  if (e.connections == 0 && e.sessions == 0 && options_.handshake_rate == 0) table_.erase(it);
}

}  // namespace socketio::net
