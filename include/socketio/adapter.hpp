// The adapter: how a namespace reaches sockets, on this node and (for cluster adapters such as
// Redis) on the others. The interface sees the broadcast options and a LocalNamespace, the
// emitter back into this node's sockets; nothing else. The default Adapter is in-process: it
// forwards everything to the LocalNamespace. A cluster adapter overrides the virtuals, calls the
// local part and tells the other nodes. Every method may be called from any shard thread.
#pragma once

#include "socketio/args.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace socketio {

class Metrics;

// What fetch_sockets answers carry about a socket, on this node and from the other nodes asked
// (a cluster adapter sends the answer through Redis). full: like the reference (handshake with
// every header and cookie, auth, rooms, data). id_and_data: the id and socket.data only, so
// handshakes and room lists never leave the node that owns the socket.
enum class SocketDetail : std::uint8_t { full, id_and_data };

struct BroadcastFlags {
  bool volatile_ = false;
  bool compress = true;
  bool local = false;  // this node only
  std::optional<std::chrono::milliseconds> timeout;
  // fetch_sockets only; unset: the namespace's default (Namespace::set_fetch_detail).
  std::optional<SocketDetail> detail;
};

// Travels between nodes unchanged: rooms (empty = everyone), except (rooms excluded), flags.
struct BroadcastOptions {
  std::vector<std::string> rooms;
  std::vector<std::string> except;
  BroadcastFlags flags;
};

// A Socket.IO packet for a namespace, before encoding: an EVENT whose data is
// [event, ...args] with placeholders, plus the attachments.
struct OutgoingPacket {
  std::uint8_t type = 2;  // 2 EVENT (5 BINARY_EVENT is chosen at encoding when attachments exist)
  std::string nsp = "/";
  boost::json::array data;
  std::vector<Bytes> attachments;
};

struct Handshake {
  std::map<std::string, std::string> headers;  // lower-case names
  std::map<std::string, std::string> query;
  boost::json::object auth;
  std::string address;
  bool secure = false;
  std::int64_t issued = 0;  // ms since the epoch
  std::string time;         // issued, as text
  std::string url;
  bool xdomain = false;
};

// A socket seen through the adapter (possibly on another node): what fetchSockets returns.
struct SocketInfo {
  std::string id;
  Handshake handshake;
  std::vector<std::string> rooms;
  boost::json::value data;
};

using AckResponses = std::vector<Args>;

// Connection state recovery (socket.io-adapter's Session): what a socket gets back when its
// client reconnects with its private session id.
struct PersistedSession {
  std::string sid;  // the socket id, given back
  std::string pid;  // private session id: what the client presents (never broadcast)
  std::vector<std::string> rooms;
  boost::json::value data;
};

// A packet a recovered socket missed: [event, ...args, offset] and its binary parts.
struct MissedPacket {
  boost::json::array data;
  std::vector<Bytes> attachments;
};

struct RestoredSession {
  PersistedSession session;
  std::vector<std::shared_ptr<const MissedPacket>> missed;  // in order
};

// What an adapter needs to know of the server's connection state recovery options.
struct RecoverySettings {
  std::chrono::milliseconds window{2 * 60 * 1000};  // maxDisconnectionDuration
  std::size_t max_bytes = 64 * 1024 * 1024;         // of packets held for recovery, per namespace
};

class LocalNamespace {
 public:
  virtual ~LocalNamespace() = default;
  virtual const std::string& name() const noexcept = 0;
  // Encodes once, then every shard queues the same buffers to its matching sockets.
  virtual void broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) = 0;
  // Like broadcast, with an ack id: client_count(n) once the number of recipients is known,
  // on_ack(args) per response. Both called on the calling shard. (Adapter::broadcast_with_ack
  // of a cluster adapter calls client_count once, with the total of every node, and on_ack from
  // the adapter's thread for answers from other nodes.)
  virtual void broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                                  std::function<void(std::size_t)> client_count,
                                  std::function<void(Args)> on_ack) = 0;
  virtual void fetch_sockets(const BroadcastOptions& opts,
                             std::function<void(std::vector<SocketInfo>)> done) = 0;
  virtual void add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) = 0;
  virtual void del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) = 0;
  virtual void disconnect_sockets(const BroadcastOptions& opts, bool close) = 0;
  // A server-side event from another node: runs this namespace's server-side handlers.
  virtual void on_server_side_emit(const std::string& event, Args args, std::function<void(Args)> ack) = 0;
  // Every room with at least one socket of this namespace on this node.
  virtual void all_rooms(std::function<void(std::vector<std::string>)> done) = 0;
  // The server's registry, for an adapter's own series; null without one (unit tests).
  virtual Metrics* metrics() const noexcept { return nullptr; }
  // Connection state recovery's settings, nullopt when it is off.
  virtual std::optional<RecoverySettings> recovery() const { return std::nullopt; }
  // The in-process store of recovery (this node's packets and sessions), for adapters that keep
  // none of their own: persist a disconnected socket's session; restore one (nullopt: unknown or
  // expired pid, or an offset out of the window).
  virtual void persist_session(PersistedSession session) { (void)session; }
  virtual std::optional<RestoredSession> restore_session(const std::string& pid, const std::string& offset) {
    (void)pid;
    (void)offset;
    return std::nullopt;
  }
};

class Adapter {
 public:
  explicit Adapter(LocalNamespace& local) : local_(local) {}
  virtual ~Adapter() = default;

  virtual void broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) {
    local_.broadcast(packet, opts);
  }
  virtual void broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                                  std::function<void(std::size_t)> client_count,
                                  std::function<void(Args)> on_ack) {
    local_.broadcast_with_ack(packet, opts, std::move(client_count), std::move(on_ack));
  }
  virtual void fetch_sockets(const BroadcastOptions& opts,
                             std::function<void(std::vector<SocketInfo>)> done) {
    local_.fetch_sockets(opts, std::move(done));
  }
  virtual void add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
    local_.add_sockets(opts, rooms);
  }
  virtual void del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
    local_.del_sockets(opts, rooms);
  }
  virtual void disconnect_sockets(const BroadcastOptions& opts, bool close) {
    local_.disconnect_sockets(opts, close);
  }
  // To the other nodes only (none in process): done(responses) after all answered or timeout.
  virtual void server_side_emit(const std::string& event, const Args& args,
                                std::optional<std::chrono::milliseconds> timeout,
                                std::function<void(bool timed_out, AckResponses)> done) {
    (void)event;
    (void)args;
    (void)timeout;
    if (done) done(false, {});
  }
  virtual std::size_t server_count() const { return 1; }
  // A room (other than a socket's own id) appeared on / disappeared from this node: once per
  // node, on the thread of the shard that made the change. For cluster adapters that subscribe
  // per room (Redis sharded pub/sub); the in-process adapter ignores them.
  virtual void on_room_created(const std::string& room) { (void)room; }
  virtual void on_room_deleted(const std::string& room) { (void)room; }

  // Connection state recovery (socket.io-adapter's persistSession / restoreSession). By default
  // the in-process store of this node (LocalNamespace). An adapter that keeps sessions and
  // packets itself (keeps_sessions(): Redis streams) has the local store turned off, gives
  // recoverable packets their offsets, and is told of every change of a connected socket's
  // session (save_session: connected, joined, left, data changed) and of its end for good
  // (drop_session: a disconnect that is not recoverable), so that the session outlives the node.
  // restore_session's done may run on any thread, once.
  virtual bool keeps_sessions() const { return false; }
  virtual void persist_session(PersistedSession session) { local_.persist_session(std::move(session)); }
  virtual void restore_session(const std::string& pid, const std::string& offset,
                               std::function<void(std::optional<RestoredSession>)> done) {
    done(local_.restore_session(pid, offset));
  }
  virtual void save_session(const PersistedSession& session) { (void)session; }
  virtual void drop_session(const std::string& pid) { (void)pid; }

 protected:
  LocalNamespace& local_;
};

using AdapterFactory = std::function<std::unique_ptr<Adapter>(LocalNamespace&)>;

}  // namespace socketio
