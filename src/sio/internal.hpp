// Internals of the Socket.IO layer, shared by its .cpp files:
//  - Client: one per Engine.IO session (the session's SessionHandler); decodes packets and owns
//    the sockets of that connection, one per namespace.
//  - SocketImpl: socketio::Socket.
//  - NamespaceImpl: socketio::Namespace; its InMemoryAdapter (adapter/local_adapter.hpp) is the
//    LocalNamespace its adapter drives (the per-shard room index and the fan-out).
//  - ServerCore: what they all need from the server (pool, options, namespace registry).
// Everything here runs on the owning shard's thread unless a comment says otherwise.
#pragma once

#include "adapter/local_adapter.hpp"
#include "core/trip_log.hpp"
#include "eio/server.hpp"
#include "net/shards.hpp"
#include "net/ws_extensions.hpp"
#include "sio/counters.hpp"
#include "sio/encode.hpp"
#include "sio/parser/packet.hpp"
#include "sio/pending_acks.hpp"
#include "socketio/server.hpp"

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace socketio::sio {

class Client;
class SocketImpl;
class NamespaceImpl;

// What a socket's handshake is made of. The Handshake itself (maps of headers and query, a few
// strings: ~1 KiB) is built on first use: most sockets never ask, and an idle connection should
// cost as little as possible. The request is the Engine.IO session's, shared.
struct HandshakeSource {
  std::shared_ptr<const net::PackedRequest> request;
  boost::json::object auth;
  // The client's address and TLS flag are read from the request (and its forwarding headers,
  // as far as this trust allows) when the handshake is made, not kept per socket.
  const net::ProxyTrust* trust = nullptr;  // the server's (ServerCore::proxy_trust)
  std::chrono::system_clock::time_point issued;
};
Handshake make_handshake(const HandshakeSource& source);

struct Handlers {
  std::vector<ConnectionHandler> connection;
  std::vector<Middleware> middleware;
  std::multimap<std::string, ServerSideHandler> server_side;
  std::multimap<std::string, EventHandler, std::less<>> socket_events;  // on_socket_event
  std::vector<SocketDisconnectHandler> socket_disconnecting, socket_disconnect;
  SocketDetail fetch_detail = SocketDetail::full;
};

// The log lines of the Socket.IO layer's limits, throttled per shard (the counts are in Counters).
struct LimitLogs {
  core::TripLog rooms, acks, names;
};

// Shared by every part of one server; outlives all of them.
struct ServerCore {
  ServerOptions options;
  net::ShardPool* pool = nullptr;
  Metrics* metrics = nullptr;  // the server's registry (never null once the Server is built)
  Counters counters;           // this layer's series in it
  Limits limits;
  net::ProxyTrust proxy_trust;
  std::vector<std::unique_ptr<LimitLogs>> limit_logs;  // one per shard (+1 for other threads)
  LimitLogs& limit_logs_here();

  // guards namespaces, parents and dynamic_count (CONNECT of a new dynamic namespace, removal
  // of an empty one). Namespaces are shared: a socket, a task queued on a shard and a parent's
  // child list each hold theirs, so a removed child lives until the last of them is done.
  std::mutex ns_mutex;
  std::map<std::string, std::shared_ptr<NamespaceImpl>> namespaces;
  struct Parent {
    std::function<bool(const std::string&, const boost::json::object&)> match;
    std::shared_ptr<NamespaceImpl> nsp;
  };
  std::vector<Parent> parents;
  std::size_t dynamic_count = 0;

  NamespaceImpl& get_or_create(const std::string& name);
  enum class ConnectRefusal { none, unknown, too_many };
  // A static namespace, or a dynamic one a parent accepts (created now, within
  // max_dynamic_namespaces); null + why if none. The namespace counts one pending connect
  // (NamespaceImpl::connect_done() gives it back), so that it is not cleaned up meanwhile.
  std::shared_ptr<NamespaceImpl> find_for_connect(const std::string& name, const boost::json::object& auth,
                                                  ConnectRefusal& why);
  // cleanup_empty_child_namespaces: removes child when nothing holds it any more.
  void maybe_remove_child(NamespaceImpl& child);
  std::unique_ptr<Adapter> make_adapter(NamespaceImpl& nsp);

  // Clients per wire format (wire_format.hpp): changed when a client is created or destroyed,
  // read once per broadcast to know which formats to encode.
  std::array<std::atomic<std::size_t>, kWireFormats> clients_by_format{};
  WireFormatSet formats_in_use() const noexcept;
  // The format of a new session's client.
  WireFormat format_for(const eio::Session& session) const noexcept;
};

// The trust policy of options (throws std::invalid_argument for a bad trusted_proxies entry).
net::ProxyTrust proxy_trust(const ServerOptions& options);
// ServerOptions::per_message_deflate for the listener; std::invalid_argument when out of range.
net::ws::DeflateConfig deflate_config(const PerMessageDeflate& options);
// The connection budget of options (max_connections 0: the open-file limit minus a reserve).
std::shared_ptr<net::AddressLimits> make_address_limits(const ServerOptions& options,
                                                        const net::ProxyTrust& trust, Metrics& metrics);

// ServerOptions' Engine.IO hooks (cookie, allow_request, headers, connection_error) as the
// engine's options.
void wire_engine_hooks(const ServerOptions& o, eio::Options& eo);

class NamespaceImpl final : public Namespace, public std::enable_shared_from_this<NamespaceImpl> {
 public:
  NamespaceImpl(ServerCore& core, std::string name, std::shared_ptr<Handlers> handlers);
  ~NamespaceImpl() override;

  // Namespace
  const std::string& name() const noexcept override { return name_; }
  void set_fetch_detail(SocketDetail detail) override { handlers_->fetch_detail = detail; }
  void on_connection(ConnectionHandler handler) override {
    handlers_->connection.push_back(std::move(handler));
  }
  void use(Middleware middleware) override { handlers_->middleware.push_back(std::move(middleware)); }
  void on_socket_event(std::string event, EventHandler handler) override {
    handlers_->socket_events.emplace(std::move(event), std::move(handler));
  }
  void on_socket_disconnecting(SocketDisconnectHandler handler) override {
    handlers_->socket_disconnecting.push_back(std::move(handler));
  }
  void on_socket_disconnect(SocketDisconnectHandler handler) override {
    handlers_->socket_disconnect.push_back(std::move(handler));
  }
  void on_server_side(std::string event, ServerSideHandler handler) override {
    handlers_->server_side.emplace(std::move(event), std::move(handler));
  }
  Adapter& adapter() noexcept override { return *adapter_; }
  void server_side_emit(std::string_view event, Args args, std::function<void(bool, AckResponses)> done,
                        std::chrono::milliseconds timeout) override;
  std::size_t local_socket_count() const noexcept override { return local_.socket_count(); }
  void rooms(std::function<void(std::map<std::string, std::size_t>)> done) override {
    local_.rooms(std::move(done));
  }

  // The in-process part, which every adapter of this namespace drives.
  InMemoryAdapter& local() noexcept { return local_; }

  // For the parent of dynamic namespaces: the children it created.
  void add_child(std::shared_ptr<NamespaceImpl> child);
  void remove_child(const NamespaceImpl* child);
  std::vector<std::shared_ptr<NamespaceImpl>> children() const;
  bool is_parent() const noexcept { return parent_; }
  void set_parent() noexcept { parent_ = true; }
  NamespaceImpl* parent() const noexcept { return parent_of_; }
  void set_parent_of(NamespaceImpl* parent) noexcept { parent_of_ = parent; }
  // A CONNECT found this namespace (find_for_connect) / is done with it (connected or not).
  void connect_started() noexcept { pending_connects_.fetch_add(1, std::memory_order_relaxed); }
  void connect_done();
  bool in_use() const noexcept {
    return local_.socket_count() > 0 || pending_connects_.load(std::memory_order_relaxed) > 0;
  }
  // Also ties the tasks the in-process part queues on the shards to this namespace's life.
  void set_adapter(std::unique_ptr<Adapter> a);

  // Shard-local (called on shard s's thread).
  void add_socket(std::size_t shard, SocketImpl* s) { local_.add_socket(shard, s); }
  // The last socket of a dynamic child gone: it may be cleaned up.
  void remove_socket(std::size_t shard, SocketImpl* s);
  void join(std::size_t shard, SocketImpl* s, const std::string& room) { local_.join(shard, s, room); }
  void leave(std::size_t shard, SocketImpl* s, const std::string& room) { local_.leave(shard, s, room); }
  std::uint64_t next_ack_id() noexcept { return local_.next_ack_id(); }
  void shutdown_sockets() { local_.shutdown_sockets(); }
  const std::shared_ptr<Handlers>& handlers() const noexcept { return handlers_; }
  ServerCore& core() noexcept { return core_; }

 private:
  ServerCore& core_;
  std::string name_;
  std::shared_ptr<Handlers> handlers_;
  InMemoryAdapter local_;
  std::unique_ptr<Adapter> adapter_;
  std::atomic<std::size_t> pending_connects_{0};
  bool parent_ = false;
  NamespaceImpl* parent_of_ = nullptr;  // a dynamic child's parent (lives as long as the server)
  mutable std::mutex children_mutex_;
  std::vector<std::shared_ptr<NamespaceImpl>> children_;
};

class Client final : public eio::SessionHandler, public std::enable_shared_from_this<Client> {
 public:
  Client(ServerCore& core, const std::shared_ptr<eio::Session>& session);
  ~Client() override;

  void start();  // arms the connect timeout
  void on_message(std::string_view data, bool binary) override;
  void on_close(std::string_view reason, std::string_view description) override;

  SendResult write(const EncodedPacket& packet, bool volatile_, bool compress = true);
  WireFormat format() const noexcept { return format_; }
  void remove(const std::string& nsp);
  static void split_v4_namespace(Packet& p);
  // Every socket sends DISCONNECT and closes ("server namespace disconnect"), then the
  // connection closes.
  void disconnect_all_and_close();
  void close(std::string_view reason);
  std::size_t shard() const noexcept { return shard_; }
  std::string_view transport() const noexcept;
  const eio::Session* session() const noexcept { return session_raw_; }

 private:
  // One Engine.IO message in this client's format: true and a packet in packet/attachments when
  // one is complete; false with need_more or an error (ec set).
  bool decode(std::string_view data, bool binary, std::error_code& ec, Packet& packet,
              std::vector<Bytes>& attachments);
  void on_packet(Packet&& packet, std::vector<Bytes>&& attachments);
  void on_connect(const std::string& nsp, boost::json::value&& auth);
  // The CONNECT once the namespace is known and any session to restore was looked up.
  void create_socket(const std::shared_ptr<NamespaceImpl>& nsp, const std::string& nsp_name,
                     boost::json::object auth, std::optional<RestoredSession> restored);
  void refuse_connect(const std::string& nsp, std::string_view message);
  void run_middleware(const std::shared_ptr<SocketImpl>& socket, std::size_t index);
  void finish_connect(const std::shared_ptr<SocketImpl>& socket);
  HandshakeSource handshake_source(boost::json::object auth) const;
  // Closes every socket with reason (once: false when already closed).
  bool close_sockets(std::string_view reason);
  // The socket of a joined namespace, or null.
  const std::shared_ptr<SocketImpl>* find_socket(std::string_view nsp) const noexcept;

  ServerCore& core_;
  std::weak_ptr<eio::Session> session_;
  eio::Session* session_raw_;  // while session_ is not expired() (this shard: see SocketImpl)
  std::uint32_t shard_;
  const WireFormat format_;
  bool closed_ = false;
  // json: a packet waiting for its binary attachments; null the rest of the time (a message
  // without attachments is decoded on the stack, so an idle client holds no decoding state).
  std::unique_ptr<Decoder> decoder_;
  // Vectors searched in order, not maps: a client joins one namespace or a few (a map cost an
  // idle connection 48 bytes inline and a ~96-byte node). The joined ones in the order joined
  // (as the reference's Map), each found by its namespace's name; the ones being connected,
  // empty (no memory)
  // the rest of the time.
  std::vector<std::shared_ptr<SocketImpl>> sockets_;
  std::vector<std::string> connecting_;
  bool is_connecting(std::string_view nsp) const noexcept;
  void connecting_done(std::string_view nsp);
  std::unique_ptr<boost::asio::steady_timer> connect_timer_;  // until the first namespace joined
};

class SocketImpl final : public Socket {
 public:
  // Counts as a pending connect of nsp until on_connected() (or its end).
  SocketImpl(std::shared_ptr<NamespaceImpl> nsp, std::weak_ptr<Client> client, std::size_t shard,
             WireFormat format, std::string id, HandshakeSource handshake);
  ~SocketImpl() override;

  const std::string& id() const noexcept override { return id_; }
  const Handshake& handshake() const noexcept override;
  Namespace& nsp() noexcept override { return ns(); }
  bool connected() const noexcept override { return connected_; }
  boost::json::value& data() noexcept override {
    session_changed();  // perhaps: saved if it did change (save_session)
    return data_;
  }
  bool recovered() const noexcept override { return recovered_; }
  // Connection state recovery: a fresh private session id, or the restored session (rooms are
  // joined when the socket connects).
  void set_pid(std::string pid) { recovery().pid = std::move(pid); }
  void restore(PersistedSession session);
  const std::string& pid() const noexcept {
    static const std::string none;
    return recovery_ ? recovery_->pid : none;
  }
  std::string_view transport() const noexcept override;
  std::string client_id() const override;

  void on(std::string event, EventHandler handler) override {
    extras().handlers.emplace(std::move(event), std::move(handler));
  }
  void on_any(AnyHandler h) override { extras().any.push_back(std::move(h)); }
  void on_any_outgoing(AnyHandler h) override { extras().any_out.push_back(std::move(h)); }
  void on_disconnecting(DisconnectHandler h) override { extras().disconnecting.push_back(std::move(h)); }
  void on_disconnect(DisconnectHandler h) override { extras().disconnect.push_back(std::move(h)); }
  void use(PacketMiddleware m) override { extras().middleware.push_back(std::move(m)); }

  SendResult emit(std::string_view event, Args args) override;
  SendResult emit_volatile(std::string_view event, Args args) override;
  SendResult emit_uncompressed(std::string_view event, Args args) override;
  SendResult emit_with_ack(std::string_view event, Args args, AckCallback callback,
                           std::chrono::milliseconds timeout) override;

  bool join(const std::string& room) override;
  void leave(const std::string& room) override;
  // Its own id first (unless it left that room), then the rooms it joined.
  std::vector<std::string> rooms() const override;
  // In the room named after its own id without an entry for it (rooms_, the adapter's room
  // index): from connection until it leaves that room; the adapter finds it by id.
  bool in_own_room() const noexcept { return own_room_; }

  BroadcastOperator to(std::string room) override;
  BroadcastOperator except(std::string room) override;
  BroadcastOperator broadcast() override;
  void disconnect(bool close) override;

  // --- from Client / NamespaceImpl (same shard) ---
  void on_connected();
  void on_event(Packet&& packet, std::vector<Bytes>&& attachments);
  void on_ack(Packet&& packet, std::vector<Bytes>&& attachments);
  void on_close(const std::string& reason);
  // compress: the packet's compress flag, down to the transport (polling / permessage-deflate).
  SendResult send_encoded(const EncodedPacket& packet, bool volatile_, bool compress = true);
  // A broadcast: the slot of this socket's format (dropped when the format was not in use when
  // the broadcast was encoded: this socket's client came after it).
  SendResult send_encoded(const MultiEncoded& packet, bool volatile_, bool compress = true) {
    const EncodedPacket* p = packet.get(format_);
    return p ? send_encoded(*p, volatile_, compress) : SendResult::dropped;
  }
  WireFormat format() const noexcept { return format_; }
  void send_ack(std::uint64_t id, const Args& args);
  // An ack id of a broadcast with acks: the callback runs on this shard with the response.
  void expect_ack(std::uint64_t id, std::function<void(Args)> callback);
  SocketInfo info(SocketDetail detail) const;
  std::size_t shard() const noexcept { return shard_; }
  // An ack id the client asked for: kept until answered, the oldest dropped over the limit.
  void mark_ack_pending(std::uint64_t id);

 private:
  SendResult emit_impl(std::string_view event, Args&& args, bool volatile_, std::optional<std::uint64_t> id,
                       bool compress = true);
  SendResult emit_flagged(std::string_view event, Args&& args, bool compress);
  // Recovery with an adapter that keeps sessions: rooms or data may have changed; the session is
  // saved once the current handler returned (save_session), if it did change.
  void session_changed();
  void save_session();
  void dispatch_event(Event& ev, std::size_t middleware_index);

  struct PendingAck {
    std::function<void(bool, Args)> callback;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  // What most sockets never use (their handlers are the namespace's, on_socket_event), made on
  // first use: an idle socket should cost as little as possible.
  struct Extras {
    std::multimap<std::string, EventHandler> handlers;
    std::vector<AnyHandler> any, any_out;
    std::vector<PacketMiddleware> middleware;
    std::unordered_map<std::uint64_t, PendingAck> acks;
    std::vector<std::string> restored_rooms;
    std::vector<DisconnectHandler> disconnecting, disconnect;
  };
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  // For reading: the socket's extras, or an empty set.
  const Extras& extras_or_none() const noexcept {
    static const Extras none;
    return extras_ ? *extras_ : none;
  }

  std::shared_ptr<NamespaceImpl> nsp_keep_;  // a cleaned-up child lives as long as its sockets
  NamespaceImpl& ns() const noexcept { return *nsp_keep_; }  // never null
  std::weak_ptr<Client> client_;
  // The same client, for the send path: on the socket's shard a live client (not expired())
  // cannot go away during a call, so a send needs no lock() (two atomic read-modify-writes per
  // message and recipient).
  Client* client_raw_;
  // The small state together (each alone padded to 8 bytes).
  std::uint32_t shard_;
  WireFormat format_;
  bool connect_pending_ = true;
  bool recovered_ = false;
  bool save_posted_ = false;
  bool connected_ = false;
  bool own_room_ = false;  // see in_own_room()
  std::string id_;
  HandshakeSource handshake_source_;
  // Made on first use, from any thread (the first one made is kept); deleted with the socket.
  mutable std::atomic<Handshake*> handshake_{nullptr};
  boost::json::value data_;
  // Connection state recovery's part, made when it is on (its private id set).
  struct Recovery {
    std::string pid;
    std::size_t saved_hash = 0;  // of the session last given to save_session
  };
  std::unique_ptr<Recovery> recovery_;
  Recovery& recovery() {
    if (!recovery_) recovery_ = std::make_unique<Recovery>();
    return *recovery_;
  }
  bool has_pid() const noexcept { return recovery_ && !recovery_->pid.empty(); }
  // The rooms joined, but the own room while in_own_room() (it takes no entry: every connection
  // would pay a copy of its id here and a room in the adapter).
  std::vector<std::string> rooms_;
  std::unique_ptr<Extras> extras_;
  std::unique_ptr<PendingAcks> client_acks_;  // ids the client asked us to ack (made on the first)
};

}  // namespace socketio::sio
