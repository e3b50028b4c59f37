#include "adapter/session_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <random>

namespace socketio::sio {

namespace {

// socket.io-adapter's shouldIncludePacket: the packet went to everyone or to one of the session's
// rooms, and none of its rooms was excluded.
bool for_session(const StoredPacket& p, const std::vector<std::string>& rooms) {
  auto has = [](const std::vector<std::string>& set, const std::string& r) {
    for (const auto& x : set)
      if (x == r) return true;
    return false;
  };
  bool included = p.rooms.empty();
  for (const auto& r : rooms) {
    if (has(p.except, r)) return false;
    if (!included && has(p.rooms, r)) included = true;
  }
  return included;
}

// What the heap gives for a request of n bytes (glibc: 8 bytes of header, 16-byte granules, 32 at
// least). The store counts what its packets really cost, not their payload: a 100-character text
// event holds about 600 bytes of heap, of which the characters are a sixth.
constexpr std::size_t heap(std::size_t n) noexcept {
  return n == 0 ? 0 : std::max<std::size_t>(32, (n + 8 + 15) & ~std::size_t{15});
}

// The heap a JSON value holds beyond its own 16 bytes (Boost.JSON's layouts: strings of up to 14
// characters inline, else a table with an 8-byte header; arrays and objects a table of
// capacity() entries of 16 and 32 bytes, objects past 18 entries a 4-byte bucket each, and each
// key its own characters).
std::size_t heap_of(const boost::json::value& v);

std::size_t heap_of(const boost::json::array& a) {
  std::size_t n = a.capacity() == 0 ? 0 : heap(8 + a.capacity() * 16);
  for (const auto& e : a) n += heap_of(e);
  return n;
}

std::size_t heap_of(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::string: {
      const auto n = v.get_string().size();
      return n <= 14 ? 0 : heap(8 + n + 1);
    }
    case boost::json::kind::array:
      return heap_of(v.get_array());
    case boost::json::kind::object: {
      const auto& o = v.get_object();
      const auto cap = o.capacity();
      std::size_t n = cap == 0 ? 0 : heap(16 + cap * 32 + (cap > 18 ? cap * 4 : 0));
      for (const auto& kv : o) n += heap(kv.key().size() + 1) + heap_of(kv.value());
      return n;
    }
    default:
      return 0;
  }
}

std::size_t heap_of(const std::vector<std::string>& names) {
  std::size_t n = heap(names.capacity() * sizeof(std::string));
  for (const auto& s : names) n += s.size() > 15 ? heap(s.size() + 1) : 0;
  return n;
}

}  // namespace

SessionStore::SessionStore(RecoveryOptions options, Clock clock)
    : options_(options), clock_(std::move(clock)) {
  // Offsets are decimal sequence numbers starting at a random point, so that an offset kept by a
  // client from another process almost never names a packet of this one.
  std::mt19937_64 rng{std::random_device{}()};
  next_seq_ = (std::uint64_t{1} << 40) + (rng() >> 24);
}

std::optional<std::uint64_t> SessionStore::parse_offset(const std::string& offset) const {
  std::uint64_t n = 0;
  if (offset.empty() || offset.size() > 20) return std::nullopt;
  auto [end, ec] = std::from_chars(offset.data(), offset.data() + offset.size(), n);
  if (ec != std::errc() || end != offset.data() + offset.size()) return std::nullopt;
  return n;
}

void SessionStore::expire(std::chrono::steady_clock::time_point now) {
  const auto threshold = now - options_.max_disconnection_duration;
  while (!packets_.empty() && packets_.front()->emitted < threshold) {
    bytes_ -= packets_.front()->bytes;
    packets_.pop_front();
  }
  while (!order_.empty() && order_.front().first < threshold) {
    auto it = sessions_.find(order_.front().second);
    // Only when not persisted again since (a later entry of order_ stands for it then).
    if (it != sessions_.end() && it->second.disconnected == order_.front().first) sessions_.erase(it);
    order_.pop_front();
  }
}

std::string SessionStore::store(boost::json::array& data, const std::vector<Bytes>& attachments,
                                const BroadcastOptions& opts, const std::function<void()>& deliver) {
  auto p = std::make_shared<StoredPacket>();
  p->rooms = opts.rooms;
  p->except = opts.except;
  p->attachments = attachments;
  std::size_t attached = 0;
  for (const auto& a : attachments) attached += a ? heap(a->size()) + 16 : 0;
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  expire(now);
  p->seq = next_seq_++;
  std::string offset = std::to_string(p->seq);
  data.emplace_back(offset);
  p->data = data;
  p->emitted = now;
  // The packet with make_shared's control block, its slot in packets_, its data, its rooms; each
  // attachment as if it were its own (they may be shared with the live packet meanwhile).
  p->bytes = heap(sizeof(StoredPacket) + 16) + sizeof(StoredPacketPtr) + heap_of(p->data) +
             heap_of(p->rooms) + heap_of(p->except) + attached;
  bytes_ += p->bytes;
  packets_.push_back(std::move(p));
  counters_.packets_stored.fetch_add(1, std::memory_order_relaxed);
  while (bytes_ > options_.max_bytes && packets_.size() > 1) {
    bytes_ -= packets_.front()->bytes;
    packets_.pop_front();
    // Logged the first time and then every 10 000: the window is shorter than configured.
    if (counters_.packets_evicted.fetch_add(1, std::memory_order_relaxed) % 10000 == 0)
      spdlog::warn(
          "recovery: {} bytes of packets kept (limit {}): dropping the oldest before their window ends",
          bytes_, options_.max_bytes);
  }
  deliver();
  return offset;
}

void SessionStore::persist(PersistedSession session) {
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  expire(now);
  order_.emplace_back(now, session.pid);
  auto pid = session.pid;
  sessions_[pid] = Kept{std::move(session), now};
  counters_.sessions_persisted.fetch_add(1, std::memory_order_relaxed);
  while (sessions_.size() > options_.max_sessions && !order_.empty()) {
    auto it = sessions_.find(order_.front().second);
    if (it != sessions_.end() && it->second.disconnected == order_.front().first) {
      sessions_.erase(it);
      if (counters_.sessions_evicted.fetch_add(1, std::memory_order_relaxed) % 10000 == 0)
        spdlog::warn("recovery: {} sessions kept (limit {}): dropping the oldest before their window ends",
                     sessions_.size(), options_.max_sessions);
    }
    order_.pop_front();
  }
}

std::optional<RestoredSession> SessionStore::restore(const std::string& pid, const std::string& offset) {
  std::lock_guard lock(mutex_);
  expire(clock_());
  auto it = sessions_.find(pid);
  const auto seq = parse_offset(offset);
  // The reference finds the offset among the packets it keeps: one that is not there (too old,
  // or never sent) means a fresh session.
  if (it == sessions_.end() || !seq || packets_.empty() || *seq < packets_.front()->seq ||
      *seq > packets_.back()->seq) {
    counters_.restores_failed.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  RestoredSession r;
  r.session = it->second.session;  // kept, as the reference does, until it expires
  for (auto i = static_cast<std::size_t>(*seq - packets_.front()->seq) + 1; i < packets_.size(); ++i)
    if (for_session(*packets_[i], r.session.rooms)) r.missed.push_back(packets_[i]);
  counters_.sessions_restored.fetch_add(1, std::memory_order_relaxed);
  return r;
}

std::size_t SessionStore::retained_bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::size_t SessionStore::retained_packets() const {
  std::lock_guard lock(mutex_);
  return packets_.size();
}

std::size_t SessionStore::kept_sessions() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace socketio::sio
