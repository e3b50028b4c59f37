// The in-process adapter: socket.io-adapter's in-memory Adapter. Keeps each namespace's room
// index per shard (the sockets of shard s and the rooms they are in, touched only by shard s's
// thread) and fans a broadcast out over the shards: encoded once, the same immutable buffers
// queued to every matching socket. It is the LocalNamespace every adapter drives: the default
// Adapter forwards to it, a cluster adapter (adapter/cluster/) calls it and tells the other nodes.
// It lives beside the cluster adapters but is compiled into the Socket.IO library (sio_sio),
// because it walks that layer's sockets (see docs/architecture.md).
// Threads: the LocalNamespace methods may be called from any thread (they post to the shards);
// the shard-local ones only on that shard's thread.
#pragma once

#include "adapter/session_store.hpp"
#include "core/ptr_set.hpp"
#include "socketio/adapter.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace socketio::sio {

struct ServerCore;
struct Handlers;
class SocketImpl;
class MultiEncoded;

class InMemoryAdapter final : public LocalNamespace {
 public:
  InMemoryAdapter(ServerCore& core, const std::string& name, std::shared_ptr<Handlers> handlers);
  ~InMemoryAdapter() override;

  // Where room creations/deletions are reported (the namespace's adapter); set once. An adapter
  // that keeps sessions itself (Redis streams) turns the in-process store off.
  void set_adapter(Adapter* adapter);
  // What owns this (the namespace): every task queued on another shard holds it, so that a
  // namespace removed meanwhile (cleanup_empty_child_namespaces) lives until its tasks ran.
  void set_owner(std::weak_ptr<void> owner) noexcept { owner_ = std::move(owner); }

  // LocalNamespace (any thread)
  const std::string& name() const noexcept override { return name_; }
  void broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) override;
  void broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                          std::function<void(std::size_t)> client_count,
                          std::function<void(Args)> on_ack) override;
  void fetch_sockets(const BroadcastOptions& opts,
                     std::function<void(std::vector<SocketInfo>)> done) override;
  void add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) override;
  void del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) override;
  void disconnect_sockets(const BroadcastOptions& opts, bool close) override;
  // Runs the namespace's server-side handlers on one shard (always the same for a namespace).
  void on_server_side_emit(const std::string& event, Args args, std::function<void(Args)> ack) override;
  void all_rooms(std::function<void(std::vector<std::string>)> done) override;
  Metrics* metrics() const noexcept override;
  std::optional<RecoverySettings> recovery() const override;
  void persist_session(PersistedSession session) override;
  std::optional<RestoredSession> restore_session(const std::string& pid, const std::string& offset) override;

  // Any thread: every room of this node with its size; done on the calling shard.
  void rooms(std::function<void(std::map<std::string, std::size_t>)> done);
  // Server shutdown: every socket gets DISCONNECT and closes with "server shutting down".
  void shutdown_sockets();
  std::size_t socket_count() const noexcept { return socket_count_.load(std::memory_order_relaxed); }
  std::uint64_t next_ack_id() noexcept { return next_ack_id_.fetch_add(1, std::memory_order_relaxed); }

  // Connection state recovery: the namespace's kept sessions and packets; null when it is off.
  SessionStore* sessions() noexcept { return sessions_.get(); }

  // Shard-local (called on shard s's thread).
  void add_socket(std::size_t shard, SocketImpl* s);
  void remove_socket(std::size_t shard, SocketImpl* s);
  // A room other than the socket's own while it is in that one (SocketImpl::in_own_room()): a
  // socket's own room takes no entry, found by the socket's id.
  void join(std::size_t shard, SocketImpl* s, const std::string& room);
  void leave(std::size_t shard, SocketImpl* s, const std::string& room);
  // The room entries shard s holds (own rooms are not among them).
  std::size_t room_entries(std::size_t shard) const noexcept { return shards_[shard].rooms.size(); }

 private:
  struct Shard {
    // Keyed by a view of the socket's own id: the entry goes (remove_socket) before the socket
    // does, and a copy of the id cost every connection a heap block.
    std::unordered_map<std::string_view, SocketImpl*> sockets;
    // Rooms with their members, but a socket's own room while it is in it (own_member).
    std::unordered_map<std::string, core::PtrSet<SocketImpl>> rooms;
  };
  // The socket of shard s whose own room `room` is, when it is in it (not in rooms: implicit).
  static SocketImpl* own_member(const Shard& shard, std::string_view room);
  // Sockets of shard s matching opts (rooms union, minus except).
  std::vector<SocketImpl*> targets(std::size_t s, const BroadcastOptions& opts);
  // Runs fn(shard) on every shard: inline on the calling shard, posted to the others.
  void on_each_shard(std::function<void(std::size_t)> fn);
  // Every shard queues `encoded` to the sockets matching o; posted to all of them (also the
  // calling one) when `in_order`, so that each shard delivers broadcasts in the order posted.
  void fan_out(std::shared_ptr<const MultiEncoded> encoded, std::shared_ptr<const BroadcastOptions> o,
               bool in_order);
  // A shard gained (added) or lost a room: tells the adapter when the node as a whole did.
  void room_shards_changed(const std::string& room, bool added);

  ServerCore& core_;
  const std::string& name_;  // the namespace's
  std::shared_ptr<Handlers> handlers_;
  Adapter* adapter_ = nullptr;
  std::weak_ptr<void> owner_;
  std::vector<Shard> shards_;
  std::atomic<std::uint64_t> next_ack_id_{0};
  std::atomic<std::size_t> socket_count_{0};
  std::mutex room_shards_mutex_;
  std::unordered_map<std::string, std::size_t> room_shards_;  // room -> shards holding it
  std::unique_ptr<SessionStore> sessions_;
};

}  // namespace socketio::sio
