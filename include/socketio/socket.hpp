// A Socket.IO socket: one client connected to one namespace. Created by the server on the
// client's shard; every method must be called on that shard's thread, which is where all of its
// handlers run. To reach a socket from elsewhere, use a broadcast operator on its id
// (nsp.to(id).emit(...)), which is thread-safe.
//
// Which thread runs what (the "socket's shard" is the worker thread that owns its connection):
//   on(), on_any(), on_any_outgoing(), on_disconnecting(), on_disconnect() handlers
//                                   the socket's shard
//   use() packet middleware         the socket's shard; its next() may be called later from any
//                                   thread (it is handed back to the socket's shard)
//   emit_with_ack() callback        the socket's shard (the answer, the timeout, or the
//                                   disconnect, whichever comes first; exactly once)
//   Event::ack()                    call it on the socket's shard: in the handler, or later from
//                                   a callback that runs there (a fetch_sockets / emit_with_ack /
//                                   rooms callback started on that shard comes back to it)
// Handlers are stored in the socket: capture a std::weak_ptr<Socket> (or use Event::socket),
// never the SocketPtr itself, or the socket never dies.
#pragma once

#include "socketio/adapter.hpp"
#include "socketio/args.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socketio {

class Socket;
class Namespace;
class BroadcastOperator;
using SocketPtr = std::shared_ptr<Socket>;

// What emit() tells the caller.
enum class SendResult : std::uint8_t {
  sent,      // queued for the transport
  buffered,  // queued, but the client is over its high-water mark (slow reader)
  dropped,   // not queued: volatile and the client is slow, or the socket is disconnected
};

// An incoming event. ack() answers the client's acknowledgement callback (once; later calls and
// calls when the client asked for no ack are ignored). Copyable: keep a copy to answer later,
// on the socket's shard.
struct Event {
  std::string name;
  Args args;
  SocketPtr socket;
  std::optional<std::uint64_t> ack_id;

  bool has_ack() const noexcept { return ack_id.has_value(); }
  void ack(Args response = {}) const;
};

using EventHandler = std::function<void(Event&)>;
using AnyHandler = std::function<void(const std::string& event, const Args& args)>;
using DisconnectHandler = std::function<void(const std::string& reason)>;
// Socket middleware for incoming packets (socket.use in the reference): may change ev.args;
// call next() to continue, next(error) to drop the packet (logged at debug level; tell the
// client yourself if it should know). Any thread may call next().
using PacketMiddleware = std::function<void(Event&, std::function<void(std::optional<std::string>)> next)>;
// Acknowledgement of a server-to-client emit: timed_out, or the client's arguments.
using AckCallback = std::function<void(bool timed_out, Args response)>;

class Socket : public std::enable_shared_from_this<Socket> {
 public:
  virtual ~Socket() = default;

  virtual const std::string& id() const noexcept = 0;
  virtual const Handshake& handshake() const noexcept = 0;
  virtual Namespace& nsp() noexcept = 0;
  virtual bool connected() const noexcept = 0;
  // socket.data: free for the application; copied by fetchSockets. With recovery across nodes
  // (Redis streams), a change made through this reference is saved to Redis once the handler
  // that made it has returned.
  virtual boost::json::value& data() noexcept = 0;
  // True when this socket is a recovered session (connection state recovery): same id, rooms
  // and data as before the client lost its connection, the missed packets replayed. The
  // reference's socket.recovered.
  virtual bool recovered() const noexcept = 0;
  // "polling" or "websocket" (the current Engine.IO transport).
  virtual std::string_view transport() const noexcept = 0;
  // The Engine.IO session id of the client this socket belongs to (one per connection; several
  // sockets of one client, one per namespace, share it). Empty once the client is gone.
  virtual std::string client_id() const = 0;

  virtual void on(std::string event, EventHandler handler) = 0;
  virtual void on_any(AnyHandler handler) = 0;
  virtual void on_any_outgoing(AnyHandler handler) = 0;
  virtual void on_disconnecting(DisconnectHandler handler) = 0;
  virtual void on_disconnect(DisconnectHandler handler) = 0;
  virtual void use(PacketMiddleware middleware) = 0;

  virtual SendResult emit(std::string_view event, Args args = {}) = 0;
  virtual SendResult emit_volatile(std::string_view event, Args args = {}) = 0;
  // The reference's socket.compress(false).emit(...): this packet is never compressed (no
  // permessage-deflate, no gzip/deflate polling response for it alone).
  virtual SendResult emit_uncompressed(std::string_view event, Args args = {}) = 0;
  // With an acknowledgement: callback(false, response) when the client answers, or
  // callback(true, {}) after timeout (zero: no timer) or when the socket disconnects first.
  virtual SendResult emit_with_ack(std::string_view event, Args args, AckCallback callback,
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) = 0;

  // False when refused: the socket is in ServerOptions::max_rooms_per_socket rooms already
  // (counted and logged), or it is disconnected.
  virtual bool join(const std::string& room) = 0;
  virtual void leave(const std::string& room) = 0;
  // The socket's rooms, its own id first unless it left that room (as the
  // reference's socket.rooms); a copy.
  virtual std::vector<std::string> rooms() const = 0;

  // Broadcasts from this socket: to(room) excludes the socket itself, like the reference.
  virtual BroadcastOperator to(std::string room) = 0;
  virtual BroadcastOperator except(std::string room) = 0;
  virtual BroadcastOperator broadcast() = 0;

  // Sends DISCONNECT for this namespace; close=true also closes the underlying connection.
  virtual void disconnect(bool close = false) = 0;
};

}  // namespace socketio
