// Namespaces and the broadcast operator. A Namespace is created by Server::of() (or on demand
// for a dynamic namespace) and lives as long as the server. Register handlers and middleware
// before Server::listen(); after that, the broadcast methods (emit, to(), fetch_sockets, ...)
// are safe from any thread: they go through the adapter, which posts to every shard.
//
// Which thread runs what:
//   Middleware (use)            the connecting client's shard; next() may be called later from
//                               any thread (it is handed back to that shard)
//   ConnectionHandler           the new socket's shard
//   on_socket_event, on_socket_disconnecting, on_socket_disconnect handlers
//                               the socket's shard, like the socket's own (Socket::on)
//   ServerSideHandler           a shard, always the same one for a namespace (so the events of
//                               one node run in order); never the cluster adapter's thread;
//                               never for this node's own server_side_emit. Its ack may be
//                               called from any thread, once
//   emit_with_ack, fetch_sockets, rooms, server_side_emit callbacks
//                               the calling shard, once every shard (and node) answered or the
//                               timeout fired; called from a thread that is not a shard (main,
//                               a timer thread of yours): shard 0
//   emit, sockets_join, sockets_leave, disconnect_sockets
//                               return at once; the calling shard's sockets are handled before
//                               they return, the other shards' soon after (posted in order)
#pragma once

#include "socketio/adapter.hpp"
#include "socketio/socket.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace socketio {

struct ConnectError {
  std::string message;
  boost::json::value data;  // null: not sent
};

using ConnectionHandler = std::function<void(const SocketPtr&)>;
// Namespace middleware: next() accepts, next(error) refuses with CONNECT_ERROR. May be called
// later (asynchronously), on the socket's shard.
using Middleware =
    std::function<void(const SocketPtr&, std::function<void(std::optional<ConnectError>)> next)>;
using ServerSideHandler = std::function<void(const Args& args, std::function<void(Args)> ack)>;
// A disconnecting / disconnect handler held by the namespace for every one of its sockets.
using SocketDisconnectHandler = std::function<void(Socket& socket, const std::string& reason)>;
// Responses to a broadcast with acks: timed_out is true if not every client answered in time.
using BroadcastAckCallback = std::function<void(bool timed_out, std::vector<Args> responses)>;

class Namespace;

// Immutable, like the reference: every modifier returns a new operator, so one can be kept and
// reused. to(a).to(b) is the union of the rooms (each socket once); except() removes rooms;
// an operator from a Socket (socket->to(r), socket->broadcast()) also excludes that socket.
// volatile_(): may be dropped for a client that is slow (over its outbox high-water mark).
// compress(false): sent uncompressed (no gzip/deflate polling response for it alone, no
// permessage-deflate); travels to other nodes with the adapter. local(): this node only (cluster
// adapters do not publish it).
class BroadcastOperator {
 public:
  BroadcastOperator(Namespace& nsp, BroadcastOptions opts) : nsp_(&nsp), opts_(std::move(opts)) {}

  BroadcastOperator to(std::string room) const;
  BroadcastOperator in(std::string room) const { return to(std::move(room)); }
  BroadcastOperator except(std::string room) const;
  BroadcastOperator volatile_() const;
  BroadcastOperator compress(bool on) const;
  BroadcastOperator local() const;
  BroadcastOperator timeout(std::chrono::milliseconds t) const;
  // What fetch_sockets answers carry (SocketDetail), here and on the C++ nodes asked.
  BroadcastOperator detail(SocketDetail d) const;

  void emit(std::string_view event, Args args = {}) const;
  // One Args per recipient that answered: callback(false, responses) once every recipient
  // answered (at once when there are none), or callback(true, the responses so far) when
  // timeout() expires first. Use timeout(): without it, a recipient that disconnects without
  // answering leaves the callback pending (as in the reference). Runs on the calling shard.
  void emit_with_ack(std::string_view event, Args args, BroadcastAckCallback callback) const;
  // Across the cluster; done runs on the calling shard (shard 0 when called from another thread).
  void fetch_sockets(std::function<void(std::vector<SocketInfo>)> done) const;
  void sockets_join(std::vector<std::string> rooms) const;
  void sockets_leave(std::vector<std::string> rooms) const;
  void disconnect_sockets(bool close = false) const;

  const BroadcastOptions& options() const noexcept { return opts_; }

 private:
  Namespace* nsp_;
  BroadcastOptions opts_;
};

class Namespace {
 public:
  virtual ~Namespace() = default;
  virtual const std::string& name() const noexcept = 0;

  // What fetch_sockets answers carry when the request does not say (BroadcastOperator::detail()):
  // requests from Node nodes never do. Set before listen(); the children of a dynamic namespace
  // follow their parent.
  virtual void set_fetch_detail(SocketDetail detail) = 0;

  virtual void on_connection(ConnectionHandler handler) = 0;
  virtual void use(Middleware middleware) = 0;
  virtual void on_server_side(std::string event, ServerSideHandler handler) = 0;
  // An event handler for every socket of this namespace (and of its dynamic children), held
  // once: the same handler given to each socket with Socket::on in on_connection costs every
  // connection memory for its whole life. It runs after the socket's own handlers for the
  // event, in registration order, while the socket is connected; ev.socket is the socket.
  virtual void on_socket_event(std::string event, EventHandler handler) = 0;
  // The same for the socket's disconnection, at the points of Socket::on_disconnecting and
  // Socket::on_disconnect and after the socket's own handlers: `disconnecting` while the socket
  // still has its rooms, `disconnect` once it has left them.
  virtual void on_socket_disconnecting(SocketDisconnectHandler handler) = 0;
  virtual void on_socket_disconnect(SocketDisconnectHandler handler) = 0;

  virtual Adapter& adapter() noexcept = 0;

  BroadcastOperator to(std::string room) { return all().to(std::move(room)); }
  BroadcastOperator in(std::string room) { return to(std::move(room)); }
  BroadcastOperator except(std::string room) { return all().except(std::move(room)); }
  BroadcastOperator volatile_() { return all().volatile_(); }
  BroadcastOperator local() { return all().local(); }
  BroadcastOperator timeout(std::chrono::milliseconds t) { return all().timeout(t); }
  BroadcastOperator all() { return BroadcastOperator(*this, {}); }

  void emit(std::string_view event, Args args = {}) { all().emit(event, std::move(args)); }
  void fetch_sockets(std::function<void(std::vector<SocketInfo>)> done) {
    all().fetch_sockets(std::move(done));
  }
  void sockets_join(std::vector<std::string> rooms) { all().sockets_join(std::move(rooms)); }
  void sockets_leave(std::vector<std::string> rooms) { all().sockets_leave(std::move(rooms)); }
  void disconnect_sockets(bool close = false) { all().disconnect_sockets(close); }
  // To the other nodes of the cluster (none with the in-process adapter). done gets one answer
  // per other node (timed_out if some did not answer in time), on the calling shard.
  virtual void server_side_emit(std::string_view event, Args args = {},
                                std::function<void(bool timed_out, AckResponses)> done = nullptr,
                                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) = 0;

  // Sockets of this namespace connected to this node (approximate while running).
  virtual std::size_t local_socket_count() const noexcept = 0;
  // This node's rooms of this namespace with the number of sockets in each, every socket's own
  // room included: the reference's nsp.adapter.rooms (as sizes). Asks every shard; done runs on
  // the calling shard (on shard 0 when called from a thread that is not a shard) once all have
  // answered. A room's size alone: to(room).fetch_sockets(...), or this map's entry.
  virtual void rooms(std::function<void(std::map<std::string, std::size_t>)> done) = 0;
};

}  // namespace socketio
