#include "adapter/local_adapter.hpp"

#include "sio/internal.hpp"

namespace socketio::sio {

InMemoryAdapter::InMemoryAdapter(ServerCore& core, const std::string& name,
                                 std::shared_ptr<Handlers> handlers)
    : core_(core), name_(name), handlers_(std::move(handlers)), shards_(core.pool->size()) {
  if (core.options.connection_state_recovery.enabled)
    sessions_ = std::make_unique<SessionStore>(core.options.connection_state_recovery);
}

InMemoryAdapter::~InMemoryAdapter() = default;

void InMemoryAdapter::set_adapter(Adapter* adapter) {
  adapter_ = adapter;
  if (adapter && adapter->keeps_sessions()) sessions_.reset();
}

std::optional<RecoverySettings> InMemoryAdapter::recovery() const {
  const auto& o = core_.options.connection_state_recovery;
  if (!o.enabled) return std::nullopt;
  return RecoverySettings{o.max_disconnection_duration, o.max_bytes};
}

void InMemoryAdapter::persist_session(PersistedSession session) {
  if (sessions_) sessions_->persist(std::move(session));
}

std::optional<RestoredSession> InMemoryAdapter::restore_session(const std::string& pid,
                                                                const std::string& offset) {
  if (!sessions_) return std::nullopt;
  return sessions_->restore(pid, offset);
}

void InMemoryAdapter::on_each_shard(std::function<void(std::size_t)> fn) {
  const auto n = core_.pool->size();
  const auto here = net::ShardPool::current();
  for (std::size_t s = 0; s < n; ++s)
    if (s != here) core_.pool->post(s, [fn, s, keep = owner_.lock()] { fn(s); });
  if (here < n) fn(here);
}

SocketImpl* InMemoryAdapter::own_member(const Shard& shard, std::string_view room) {
  auto it = shard.sockets.find(room);
  return it != shard.sockets.end() && it->second->in_own_room() ? it->second : nullptr;
}

std::vector<SocketImpl*> InMemoryAdapter::targets(std::size_t s, const BroadcastOptions& opts) {
  auto& shard = shards_[s];
  std::vector<SocketImpl*> out;
  std::unordered_set<SocketImpl*> excluded;
  for (const auto& room : opts.except) {
    if (auto* own = own_member(shard, room)) excluded.insert(own);
    auto it = shard.rooms.find(room);
    if (it != shard.rooms.end()) excluded.insert(it->second.begin(), it->second.end());
  }
  if (opts.rooms.empty()) {
    out.reserve(shard.sockets.size());
    for (auto& [id, sock] : shard.sockets)
      if (!excluded.count(sock)) out.push_back(sock);
    return out;
  }
  if (opts.rooms.size() == 1) {
    // A socket is never both in its own room implicitly and among the room's entries.
    auto* own = own_member(shard, opts.rooms.front());
    if (own && !excluded.count(own)) out.push_back(own);
    auto it = shard.rooms.find(opts.rooms.front());
    if (it == shard.rooms.end()) return out;
    if (!own && excluded.empty()) return {it->second.begin(), it->second.end()};  // one copy of an array
    out.reserve(out.size() + it->second.size());
    for (auto* sock : it->second)
      if (!excluded.count(sock)) out.push_back(sock);
    return out;
  }
  std::unordered_set<SocketImpl*> seen;
  for (const auto& room : opts.rooms) {
    if (auto* own = own_member(shard, room); own && !excluded.count(own) && seen.insert(own).second)
      out.push_back(own);
    auto it = shard.rooms.find(room);
    if (it == shard.rooms.end()) continue;
    for (auto* sock : it->second)
      if (!excluded.count(sock) && seen.insert(sock).second) out.push_back(sock);
  }
  return out;
}

void InMemoryAdapter::add_socket(std::size_t shard, SocketImpl* s) {
  shards_[shard].sockets.emplace(s->id(), s);
  socket_count_.fetch_add(1, std::memory_order_relaxed);
}

void InMemoryAdapter::remove_socket(std::size_t shard, SocketImpl* s) {
  if (shards_[shard].sockets.erase(s->id()) > 0) socket_count_.fetch_sub(1, std::memory_order_relaxed);
}

void InMemoryAdapter::join(std::size_t shard, SocketImpl* s, const std::string& room) {
  auto& sh = shards_[shard];
  auto [it, created] = sh.rooms.try_emplace(room);
  it->second.insert(s);
  // The shard had the room already when a socket is in it as its own room.
  if (created && room != s->id() && !own_member(sh, room)) room_shards_changed(room, true);
}

void InMemoryAdapter::leave(std::size_t shard, SocketImpl* s, const std::string& room) {
  auto& sh = shards_[shard];
  auto it = sh.rooms.find(room);
  if (it == sh.rooms.end()) return;
  it->second.erase(s);
  if (it->second.empty()) {
    sh.rooms.erase(it);
    // Still there while a socket is in it as its own room.
    if (room != s->id() && !own_member(sh, room)) room_shards_changed(room, false);
  }
}

void InMemoryAdapter::room_shards_changed(const std::string& room, bool added) {
  // Only when a shard's room set gains or loses a room, never per message.
  std::lock_guard lock(room_shards_mutex_);
  if (added) {
    if (room_shards_[room]++ == 0 && adapter_) adapter_->on_room_created(room);
    return;
  }
  auto it = room_shards_.find(room);
  if (it == room_shards_.end()) return;
  if (--it->second == 0) {
    room_shards_.erase(it);
    if (adapter_) adapter_->on_room_deleted(room);
  }
}

void InMemoryAdapter::broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) {
  auto o = std::make_shared<const BroadcastOptions>(opts);
  // Recoverable (an EVENT without ack, not volatile): the offset is appended once to the packet
  // and it is kept once, before it is encoded once per wire format in use.
  if (sessions_ && packet.type == 2 && !opts.flags.volatile_) {
    boost::json::array data = packet.data;
    sessions_->store(data, packet.attachments, opts, [&] {
      fan_out(std::make_shared<const MultiEncoded>(core_.formats_in_use(), name_, data, packet.attachments,
                                                   std::nullopt),
              o, true);
    });
    return;
  }
  // Encoded once per wire format in use; every shard queues the same immutable buffers.
  fan_out(std::make_shared<const MultiEncoded>(core_.formats_in_use(), name_, packet.data, packet.attachments,
                                               std::nullopt),
          o, false);
}

void InMemoryAdapter::fan_out(std::shared_ptr<const MultiEncoded> encoded,
                              std::shared_ptr<const BroadcastOptions> o, bool in_order) {
  auto deliver = [this, encoded, o](std::size_t s) {
    const auto to = targets(s, *o);
    core_.counters.broadcast_deliveries.inc(to.size());
    for (auto* sock : to) sock->send_encoded(*encoded, o->flags.volatile_, o->flags.compress);
  };
  if (!in_order) return on_each_shard(deliver);
  for (std::size_t s = 0; s < core_.pool->size(); ++s) core_.pool->post(s, [deliver, s] { deliver(s); });
}

void InMemoryAdapter::broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                                         std::function<void(std::size_t)> client_count,
                                         std::function<void(Args)> on_ack) {
  const auto id = next_ack_id();
  auto encoded = std::make_shared<const MultiEncoded>(core_.formats_in_use(), name_, packet.data,
                                                      packet.attachments, id);
  auto o = std::make_shared<const BroadcastOptions>(opts);
  const auto here = net::ShardPool::current();
  const std::size_t origin = here < core_.pool->size() ? here : 0;
  struct Count {
    std::size_t shards_left;
    std::size_t total = 0;
    std::function<void(std::size_t)> done;
  };
  auto count = std::make_shared<Count>(Count{core_.pool->size(), 0, std::move(client_count)});
  auto pool = core_.pool;
  on_each_shard([this, encoded, o, id, origin, count, on_ack, pool](std::size_t s) {
    std::size_t n = 0;
    for (auto* sock : targets(s, *o)) {
      sock->expect_ack(id, [pool, origin, on_ack](Args a) {
        pool->dispatch(origin, [on_ack, a = std::move(a)]() mutable { on_ack(std::move(a)); });
      });
      core_.counters.broadcast_deliveries.inc();
      if (sock->send_encoded(*encoded, o->flags.volatile_, o->flags.compress) != SendResult::dropped) ++n;
    }
    pool->dispatch(origin, [count, n] {
      count->total += n;
      if (--count->shards_left == 0 && count->done) count->done(count->total);
    });
  });
}

void InMemoryAdapter::fetch_sockets(const BroadcastOptions& opts,
                                    std::function<void(std::vector<SocketInfo>)> done) {
  const auto here = net::ShardPool::current();
  const std::size_t origin = here < core_.pool->size() ? here : 0;
  struct Acc {
    std::size_t shards_left;
    std::vector<SocketInfo> all;
    std::function<void(std::vector<SocketInfo>)> done;
  };
  auto acc = std::make_shared<Acc>(Acc{core_.pool->size(), {}, std::move(done)});
  auto o = std::make_shared<const BroadcastOptions>(opts);
  auto pool = core_.pool;
  on_each_shard([this, o, acc, origin, pool](std::size_t s) {
    std::vector<SocketInfo> part;
    const auto detail = o->flags.detail.value_or(handlers_->fetch_detail);
    for (auto* sock : targets(s, *o)) part.push_back(sock->info(detail));
    pool->dispatch(origin, [acc, part = std::move(part)]() mutable {
      for (auto& i : part) acc->all.push_back(std::move(i));
      if (--acc->shards_left == 0 && acc->done) acc->done(std::move(acc->all));
    });
  });
}

void InMemoryAdapter::add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
  auto o = std::make_shared<const BroadcastOptions>(opts);
  on_each_shard([this, o, rooms](std::size_t s) {
    for (auto* sock : targets(s, *o))
      for (const auto& r : rooms) sock->join(r);
  });
}

void InMemoryAdapter::del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
  auto o = std::make_shared<const BroadcastOptions>(opts);
  on_each_shard([this, o, rooms](std::size_t s) {
    for (auto* sock : targets(s, *o))
      for (const auto& r : rooms) sock->leave(r);
  });
}

void InMemoryAdapter::disconnect_sockets(const BroadcastOptions& opts, bool close) {
  auto o = std::make_shared<const BroadcastOptions>(opts);
  on_each_shard([this, o, close](std::size_t s) {
    std::vector<std::shared_ptr<Socket>> keep;
    for (auto* sock : targets(s, *o)) keep.push_back(sock->shared_from_this());
    for (auto& sock : keep) sock->disconnect(close);
  });
}

void InMemoryAdapter::shutdown_sockets() {
  on_each_shard([this](std::size_t s) {
    std::vector<std::shared_ptr<SocketImpl>> keep;
    for (auto& [id, sock] : shards_[s].sockets)
      keep.push_back(std::static_pointer_cast<SocketImpl>(sock->shared_from_this()));
    const MultiEncoded packet(core_.formats_in_use(), PacketType::disconnect, name_, nullptr);
    for (auto& sock : keep) {
      // The client is told (it sees "io server disconnect" and does not reconnect); the
      // server-side reason is the reference's.
      sock->send_encoded(packet, false);
      sock->on_close("server shutting down");
    }
  });
}

void InMemoryAdapter::on_server_side_emit(const std::string& event, Args args,
                                          std::function<void(Args)> ack) {
  // Called on a cluster adapter's thread (under its lock): user handlers run on a shard instead,
  // like every other callback. Always the same shard for a namespace, so that server-side events
  // from one node run in the order they were sent.
  const std::size_t shard = std::hash<std::string>{}(name_) % core_.pool->size();
  core_.pool->dispatch(shard, [handlers = handlers_, event, args = std::move(args), ack = std::move(ack)] {
    auto range = handlers->server_side.equal_range(event);
    for (auto it = range.first; it != range.second; ++it)
      it->second(
          args, ack ? ack : [](Args) {});
  });
}

Metrics* InMemoryAdapter::metrics() const noexcept {
  return core_.metrics;
}

void InMemoryAdapter::all_rooms(std::function<void(std::vector<std::string>)> done) {
  const auto here = net::ShardPool::current();
  const std::size_t origin = here < core_.pool->size() ? here : 0;
  struct Acc {
    std::size_t shards_left;
    std::unordered_set<std::string> rooms;
    std::function<void(std::vector<std::string>)> done;
  };
  auto acc = std::make_shared<Acc>(Acc{core_.pool->size(), {}, std::move(done)});
  auto pool = core_.pool;
  on_each_shard([this, acc, origin, pool](std::size_t s) {
    std::vector<std::string> part;
    for (auto& [room, members] : shards_[s].rooms) part.push_back(room);
    for (auto& [id, sock] : shards_[s].sockets)
      if (sock->in_own_room()) part.emplace_back(id);
    pool->dispatch(origin, [acc, part = std::move(part)] {
      acc->rooms.insert(part.begin(), part.end());
      if (--acc->shards_left == 0 && acc->done)
        acc->done(std::vector<std::string>(acc->rooms.begin(), acc->rooms.end()));
    });
  });
}

void InMemoryAdapter::rooms(std::function<void(std::map<std::string, std::size_t>)> done) {
  const auto here = net::ShardPool::current();
  const std::size_t origin = here < core_.pool->size() ? here : 0;
  struct Acc {
    std::size_t shards_left;
    std::map<std::string, std::size_t> sizes;
    std::function<void(std::map<std::string, std::size_t>)> done;
  };
  auto acc = std::make_shared<Acc>(Acc{core_.pool->size(), {}, std::move(done)});
  auto pool = core_.pool;
  on_each_shard([this, acc, origin, pool](std::size_t s) {
    std::vector<std::pair<std::string, std::size_t>> part;
    part.reserve(shards_[s].rooms.size() + shards_[s].sockets.size());
    for (const auto& [room, members] : shards_[s].rooms) part.emplace_back(room, members.size());
    for (const auto& [id, sock] : shards_[s].sockets)
      if (sock->in_own_room()) part.emplace_back(id, 1);
    pool->dispatch(origin, [acc, part = std::move(part)] {
      for (const auto& [room, n] : part) acc->sizes[room] += n;
      if (--acc->shards_left == 0 && acc->done) acc->done(std::move(acc->sizes));
    });
  });
}

}  // namespace socketio::sio
