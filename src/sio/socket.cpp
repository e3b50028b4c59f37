#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/serialize.hpp>

#include "sio/internal.hpp"

namespace socketio {

void Event::ack(Args response) const {
  if (!ack_id || !socket) return;
  static_cast<sio::SocketImpl&>(*socket).send_ack(*ack_id, response);
}

}  // namespace socketio

namespace socketio::sio {

SocketImpl::SocketImpl(std::shared_ptr<NamespaceImpl> nsp, std::weak_ptr<Client> client, std::size_t shard,
                       WireFormat format, std::string id, HandshakeSource handshake)
    : nsp_keep_(std::move(nsp)),
      client_(std::move(client)),
      client_raw_(client_.lock().get()),
      shard_(static_cast<std::uint32_t>(shard)),
      format_(format),
      id_(std::move(id)),
      handshake_source_(std::move(handshake)) {}

const Handshake& SocketImpl::handshake() const noexcept {
  if (const auto* h = handshake_.load(std::memory_order_acquire)) return *h;
  auto made = std::make_unique<Handshake>(make_handshake(handshake_source_));
  Handshake* first = nullptr;
  if (handshake_.compare_exchange_strong(first, made.get(), std::memory_order_acq_rel))
    return *made.release();
  return *first;  // another thread's, made meanwhile
}

SocketImpl::~SocketImpl() {
  if (connect_pending_) ns().connect_done();  // refused by middleware, or the client left first
  delete handshake_.load(std::memory_order_acquire);
}

std::string_view SocketImpl::transport() const noexcept {
  auto c = client_.lock();
  return c ? c->transport() : std::string_view("polling");
}

std::string SocketImpl::client_id() const {
  auto c = client_.lock();
  const auto* session = c ? c->session() : nullptr;
  return session ? session->id() : std::string();
}

void SocketImpl::on_connected() {
  connected_ = true;
  ns().core().counters.connections.inc();
  ns().add_socket(shard_, this);
  connect_pending_ = false;
  ns().connect_done();
  own_room_ = true;  // joins its own room: the adapter finds it by its id (no room entry)
  if (extras_) {
    for (const auto& r : std::exchange(extras_->restored_rooms, {})) join(r);
  }
  session_changed();
}

void SocketImpl::session_changed() {
  if (!has_pid() || !connected_ || save_posted_ || !ns().adapter().keeps_sessions()) return;
  // Once per turn of the shard's loop, however many rooms the handler joined.
  save_posted_ = true;
  ns().core().pool->post(shard_, [w = weak_from_this()] {
    auto self = std::static_pointer_cast<SocketImpl>(w.lock());
    if (!self) return;
    self->save_posted_ = false;
    if (self->connected_) self->save_session();
  });
}

void SocketImpl::save_session() {
  // data() may have been asked for without a change: nothing is written then.
  auto rooms = this->rooms();
  std::string state = boost::json::serialize(data_);
  for (const auto& r : rooms) (state += '\0') += r;
  const auto hash = std::hash<std::string>{}(state);
  if (hash == recovery_->saved_hash) return;
  recovery_->saved_hash = hash;
  ns().adapter().save_session({id_, recovery_->pid, std::move(rooms), data_});
}

std::vector<std::string> SocketImpl::rooms() const {
  std::vector<std::string> out;
  out.reserve(rooms_.size() + (own_room_ ? 1 : 0));
  if (own_room_) out.push_back(id_);
  out.insert(out.end(), rooms_.begin(), rooms_.end());
  return out;
}

void SocketImpl::restore(PersistedSession session) {
  recovery().pid = std::move(session.pid);
  data_ = std::move(session.data);
  extras().restored_rooms = std::move(session.rooms);
  recovered_ = true;
}

namespace {

// socket.io's RECOVERABLE_DISCONNECT_REASONS: a session is kept only when the connection was lost
// (or the server went down), never when either side meant to disconnect.
bool recoverable(const std::string& reason) {
  return reason == "transport error" || reason == "transport close" || reason == "forced close" ||
         reason == "ping timeout" || reason == "server shutting down" || reason == "forced server close";
}

}  // namespace

SendResult SocketImpl::send_encoded(const EncodedPacket& packet, bool volatile_, bool compress) {
  if (!connected_ || client_.expired()) return SendResult::dropped;
  return client_raw_->write(packet, volatile_, compress);
}

SendResult SocketImpl::emit_impl(std::string_view event, Args&& args, bool volatile_,
                                 std::optional<std::uint64_t> id, bool compress) {
  if (!connected_) return SendResult::dropped;
  for (auto& h : extras_or_none().any_out) h(std::string(event), args);
  ns().core().counters.events_sent.inc();
  const auto data = event_array(event, args);
  return send_encoded(encode_event(format_, ns().name(), data, args.attachments(), id), volatile_, compress);
}

SendResult SocketImpl::emit(std::string_view event, Args args) {
  return emit_flagged(event, std::move(args), true);
}

SendResult SocketImpl::emit_uncompressed(std::string_view event, Args args) {
  return emit_flagged(event, std::move(args), false);
}

SendResult SocketImpl::emit_flagged(std::string_view event, Args&& args, bool compress) {
  if (has_pid()) {
    // With connection state recovery, as the reference: through the adapter to the socket's own
    // room, so that the packet gets an offset and is kept for a reconnection (also once the
    // socket is disconnected: it is then only kept, for its session).
    for (auto& h : extras_or_none().any_out) h(std::string(event), args);
    ns().core().counters.events_sent.inc();
    OutgoingPacket p;
    p.nsp = ns().name();
    p.data = event_array(event, args);
    p.attachments = std::move(args.attachments());
    BroadcastOptions o;
    o.rooms.push_back(id_);
    o.flags.compress = compress;
    ns().adapter().broadcast(p, o);
    return SendResult::sent;
  }
  return emit_impl(event, std::move(args), false, std::nullopt, compress);
}

SendResult SocketImpl::emit_volatile(std::string_view event, Args args) {
  return emit_impl(event, std::move(args), true, std::nullopt);
}

SendResult SocketImpl::emit_with_ack(std::string_view event, Args args, AckCallback callback,
                                     std::chrono::milliseconds timeout) {
  if (!connected_) {
    if (callback) callback(true, {});
    return SendResult::dropped;
  }
  const auto id = ns().next_ack_id();
  PendingAck pending{std::move(callback), nullptr};
  if (timeout.count() > 0) {
    pending.timer = std::make_unique<boost::asio::steady_timer>(ns().core().pool->context(shard_), timeout);
    pending.timer->async_wait([w = weak_from_this(), id](boost::system::error_code ec) {
      if (ec) return;
      auto self = std::static_pointer_cast<SocketImpl>(w.lock());
      if (!self) return;
      auto& acks = self->extras().acks;
      auto it = acks.find(id);
      if (it == acks.end()) return;
      auto cb = std::move(it->second.callback);
      acks.erase(it);
      if (cb) cb(true, {});
    });
  }
  extras().acks.emplace(id, std::move(pending));
  return emit_impl(event, std::move(args), false, id);
}

void SocketImpl::expect_ack(std::uint64_t id, std::function<void(Args)> callback) {
  extras().acks.emplace(id, PendingAck{[cb = std::move(callback)](bool timed_out, Args a) {
                                         if (!timed_out) cb(std::move(a));
                                       },
                                       nullptr});
}

void SocketImpl::send_ack(std::uint64_t id, const Args& args) {
  if (!connected_) return;
  // At most once per id.
  if (!client_acks_ || !client_acks_->take(id)) return;
  send_encoded(encode_ack(format_, ns().name(), id, args), false);
}

void SocketImpl::mark_ack_pending(std::uint64_t id) {
  const auto limit = ns().core().options.max_pending_client_acks;
  if (!client_acks_) client_acks_ = std::make_unique<PendingAcks>();
  if (!client_acks_->add(id, limit)) return;
  ns().core().counters.client_acks_dropped.inc();
  if (const auto n = ns().core().limit_logs_here().acks.due()) {
    spdlog::warn(
        "limits: socket {}: more than {} acks pending (--max-pending-client-acks): forgot the oldest, {} "
        "time(s)",
        id_, limit, *n);
  }
}

bool SocketImpl::join(const std::string& room) {
  if (!connected_) return false;
  if (own_room_ && room == id_) return true;
  for (const auto& r : rooms_)
    if (r == room) return true;
  // The socket's own room does not count (joining it once left takes an entry, as any room).
  const auto limit = ns().core().options.max_rooms_per_socket;
  if (limit > 0 && rooms_.size() + (own_room_ ? 1 : 0) > limit && room != id_) {
    ns().core().counters.rooms_refused.inc();
    if (const auto n = ns().core().limit_logs_here().rooms.due()) {
      spdlog::warn(
          "limits: socket {}: join refused, already in {} rooms (--max-rooms-per-socket), {} time(s)", id_,
          limit, *n);
    }
    return false;
  }
  rooms_.push_back(room);
  ns().join(shard_, this, room);
  session_changed();
  return true;
}

void SocketImpl::leave(const std::string& room) {
  if (own_room_ && room == id_) {
    // Not reachable by its id any more (the adapter reads in_own_room()); joining it again
    // takes an entry, after the other rooms.
    own_room_ = false;
    session_changed();
    return;
  }
  for (auto it = rooms_.begin(); it != rooms_.end(); ++it) {
    if (*it == room) {
      rooms_.erase(it);
      ns().leave(shard_, this, room);
      session_changed();
      return;
    }
  }
}

BroadcastOperator SocketImpl::to(std::string room) {
  BroadcastOptions o;
  o.rooms.push_back(std::move(room));
  o.except.push_back(id_);
  return BroadcastOperator(ns(), std::move(o));
}

BroadcastOperator SocketImpl::except(std::string room) {
  BroadcastOptions o;
  o.except.push_back(std::move(room));
  o.except.push_back(id_);
  return BroadcastOperator(ns(), std::move(o));
}

BroadcastOperator SocketImpl::broadcast() {
  BroadcastOptions o;
  o.except.push_back(id_);
  return BroadcastOperator(ns(), std::move(o));
}

void SocketImpl::disconnect(bool close) {
  if (!connected_) return;
  auto c = client_.lock();
  if (close && c) {
    c->disconnect_all_and_close();
    return;
  }
  send_encoded(encode_simple(format_, PacketType::disconnect, ns().name(), nullptr), false);
  on_close("server namespace disconnect");
}

void SocketImpl::on_close(const std::string& reason) {
  if (!connected_) return;
  auto self = shared_from_this();
  ns().core().counters.disconnected(reason).inc();
  // The socket's own handlers (copied: a handler may add another), then the namespace's.
  if (extras_)
    for (auto handlers = extras_->disconnecting; auto& h : handlers) h(reason);
  // The namespace's (on_socket_disconnecting): registered before serving, they live as long as
  // the namespace, which this socket keeps.
  const Handlers& common = *ns().handlers();
  for (auto& h : common.socket_disconnecting) h(*this, reason);
  if (has_pid()) {
    if (recoverable(reason))
      ns().adapter().persist_session({id_, recovery_->pid, rooms(), data_});
    else if (ns().adapter().keeps_sessions())
      ns().adapter().drop_session(recovery_->pid);  // saved while connected: it must not be restored now
  }
  connected_ = false;
  own_room_ = false;
  for (const auto& r : rooms_) ns().leave(shard_, this, r);
  rooms_.clear();
  ns().remove_socket(shard_, this);
  decltype(Extras::acks) pending;
  if (extras_) pending = std::exchange(extras_->acks, {});
  for (auto& [id, p] : pending) {
    if (p.timer) p.timer->cancel();
    if (p.callback) p.callback(true, {});
  }
  if (auto c = client_.lock()) c->remove(ns().name());
  if (extras_)
    for (auto handlers = extras_->disconnect; auto& h : handlers) h(reason);
  for (auto& h : common.socket_disconnect) h(*this, reason);
}

void SocketImpl::on_event(Packet&& packet, std::vector<Bytes>&& attachments) {
  // Like the reference, an EVENT without data is accepted and dispatches nothing.
  ns().core().counters.events_received.inc();
  if (!packet.data.is_array() || packet.data.as_array().empty()) return;
  auto& arr = packet.data.as_array();
  Event ev;
  if (arr[0].is_string())
    ev.name = std::string(arr[0].get_string());
  else
    ev.name = boost::json::serialize(arr[0]);
  arr.erase(arr.begin());
  ev.args = Args(std::move(arr), std::move(attachments));
  ev.socket = shared_from_this();
  ev.ack_id = packet.id;
  if (packet.id) mark_ack_pending(*packet.id);
  for (auto& h : extras_or_none().any) h(ev.name, ev.args);
  dispatch_event(ev, 0);
}

void SocketImpl::dispatch_event(Event& ev, std::size_t index) {
  const auto& mine = extras_or_none();
  if (index < mine.middleware.size()) {
    auto ev_copy = std::make_shared<Event>(ev);
    mine.middleware[index](
        *ev_copy, [self = shared_from_this(), ev_copy, index](std::optional<std::string> err) {
          // next() may come from any thread (asynchronous middleware): back to the socket's shard.
          auto s = std::static_pointer_cast<SocketImpl>(self);
          s->ns().core().pool->dispatch(s->shard_, [s, ev_copy, index, err = std::move(err)] {
            if (err) {
              spdlog::debug("socket {}: packet refused by middleware: {}", s->id_, *err);
              return;
            }
            if (!s->connected_) return;
            s->dispatch_event(*ev_copy, index + 1);
          });
        });
    return;
  }
  auto range = mine.handlers.equal_range(ev.name);
  for (auto it = range.first; it != range.second && connected_; ++it) it->second(ev);
  // Then the namespace's (on_socket_event): registered before serving, they live as long as the
  // namespace, which this socket keeps.
  auto common = ns().handlers()->socket_events.equal_range(ev.name);
  for (auto it = common.first; it != common.second && connected_; ++it) it->second(ev);
}

void SocketImpl::on_ack(Packet&& packet, std::vector<Bytes>&& attachments) {
  if (!packet.id || !extras_) return;
  auto it = extras_->acks.find(*packet.id);
  if (it == extras_->acks.end()) return;
  auto p = std::move(it->second);
  extras_->acks.erase(it);
  if (p.timer) p.timer->cancel();
  Args args(packet.data.is_array() ? std::move(packet.data.as_array()) : boost::json::array{},
            std::move(attachments));
  if (p.callback) p.callback(false, std::move(args));
}

SocketInfo SocketImpl::info(SocketDetail detail) const {
  SocketInfo i;
  i.id = id_;
  i.data = data_;
  if (detail == SocketDetail::full) {
    i.handshake = handshake();
    i.rooms = rooms();
  }
  return i;
}

}  // namespace socketio::sio
