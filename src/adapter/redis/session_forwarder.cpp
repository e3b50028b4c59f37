#include "adapter/redis/session_forwarder.hpp"

#include "core/bytes.hpp"
#include "core/id.hpp"
#include "sio/server_access.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace socketio::redis {

using cluster::ForwardMessage;
using cluster::ForwardType;

namespace {

net::Method method_of(std::string_view name) {
  if (name == "GET") return net::Method::get;
  if (name == "POST") return net::Method::post;
  if (name == "PUT") return net::Method::put;
  if (name == "OPTIONS") return net::Method::options;
  if (name == "HEAD") return net::Method::head;
  return net::Method::other;
}

net::HttpRequest request_of(ForwardMessage& m) {
  net::HttpRequest req;
  req.method = method_of(m.method);
  req.method_name = std::move(m.method);
  req.target = std::move(m.target);
  req.remote_address = std::move(m.remote_address);
  req.secure = m.secure;
  for (auto& [name, value] : m.headers) req.headers.push_back({std::move(name), std::move(value)});
  req.body = std::move(m.body);
  return req;
}

void put_request(ForwardMessage& m, const net::HttpRequest& req) {
  m.method = req.method_name;
  m.target = req.target;
  m.remote_address = req.remote_address;
  m.secure = req.secure;
  for (const auto& h : req.headers) m.headers.emplace_back(h.name, h.value);
}

// Headers that describe one hop's framing, not the answer: the origin's connection sets its own.
bool hop_header(std::string_view name) {
  return net::iequals(name, "Content-Length") || net::iequals(name, "Transfer-Encoding") ||
         net::iequals(name, "Connection") || net::iequals(name, "Keep-Alive");
}

// The balancer's retry status (SessionForwarder::kRetryStatusHeader): a 4xx or 5xx code, or 0 when
// the request carries none (or a malformed one: then the upgrade is bridged, as without it).
unsigned retry_status(const net::HttpRequest& req) {
  const auto value = req.header(SessionForwarder::kRetryStatusHeader);
  if (!value || value->size() != 3) return 0;
  unsigned status = 0;
  for (const char c : *value) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + static_cast<unsigned>(c - '0');
  }
  return status >= 400 && status <= 599 ? status : 0;
}

}  // namespace

// ---- owner side: the Engine.IO server answers through these -----------------------------------

class SessionForwarder::RemoteResponder final : public net::Responder {
 public:
  RemoteResponder(std::shared_ptr<SessionForwarder> fwd, std::string origin, std::uint64_t id,
                  std::size_t shard)
      : fwd_(std::move(fwd)), origin_(std::move(origin)), id_(id), shard_(shard) {}

  void respond(net::HttpResponse res) override {
    if (done_.exchange(true)) return;
    ForwardMessage m;
    m.type = ForwardType::response;
    m.id = id_;
    m.status = res.status;
    m.close = res.close;
    for (auto& h : res.headers)
      if (!hop_header(h.name)) m.headers.emplace_back(std::move(h.name), std::move(h.value));
    m.body = std::move(res.body);
    fwd_->send(origin_, std::move(m));
    fwd_->hub_->post([fwd = fwd_, origin = origin_, id = id_] { fwd->forget_remote(origin, id); });
  }

  void on_abort(net::AbortCallback callback) override {
    std::lock_guard lock(mutex_);
    on_abort_ = std::move(callback);
  }

  std::size_t shard() const noexcept override { return shard_; }
  std::string_view relayed_by() const noexcept override { return origin_; }

  void on_release(std::function<void()> callback) override {
    {
      std::lock_guard lock(mutex_);
      if (!released_) {
        on_release_ = std::move(callback);
        return;
      }
    }
    callback();  // the release came before the engine held the request
  }

  // Redis thread: the origin is stopping and wants the answer now.
  void released() {
    std::function<void()> cb;
    {
      std::lock_guard lock(mutex_);
      released_ = true;
      cb = std::move(on_release_);
    }
    if (cb && !done_) cb();
  }

  // Redis thread: the client went away at the origin.
  void aborted() {
    net::AbortCallback cb;
    {
      std::lock_guard lock(mutex_);
      cb = std::move(on_abort_);
    }
    if (cb && !done_.exchange(true)) ServerAccess::pool(fwd_->server()).post(shard_, std::move(cb));
  }

 private:
  std::shared_ptr<SessionForwarder> fwd_;
  std::string origin_;
  std::uint64_t id_;
  std::size_t shard_;
  std::atomic<bool> done_{false};
  std::mutex mutex_;
  net::AbortCallback on_abort_;
  std::function<void()> on_release_;
  bool released_ = false;
};

class SessionForwarder::RemoteWebSocket final : public net::WebSocket,
                                                public std::enable_shared_from_this<RemoteWebSocket> {
 public:
  RemoteWebSocket(std::shared_ptr<SessionForwarder> fwd, net::HttpRequest req, std::string origin,
                  std::uint64_t id, std::size_t shard)
      : fwd_(std::move(fwd)), request_(std::move(req)), origin_(std::move(origin)), id_(id), shard_(shard) {}

  const net::HttpRequest& request() const noexcept override { return request_; }
  std::size_t shard() const noexcept override { return shard_; }

  void accept(std::weak_ptr<net::WebSocketHandler> handler, std::function<void(bool)> on_done,
              std::vector<std::pair<std::string, std::string>> response_headers) override {
    {
      std::lock_guard lock(mutex_);
      handler_ = std::move(handler);
    }
    ForwardMessage m;
    m.type = ForwardType::ws_accept;
    m.id = id_;
    m.headers = std::move(response_headers);
    fwd_->send(origin_, std::move(m));
    // The origin completes the handshake; if that fails, its "closed" arrives like any close.
    ServerAccess::pool(fwd_->server()).post(shard_, [on_done = std::move(on_done)] { on_done(true); });
  }

  void reject(net::HttpResponse res) override {
    closed_ = true;
    ForwardMessage m;
    m.type = ForwardType::ws_reject;
    m.id = id_;
    m.status = res.status;
    m.close = true;
    for (auto& h : res.headers)
      if (!hop_header(h.name)) m.headers.emplace_back(std::move(h.name), std::move(h.value));
    m.body = std::move(res.body);
    fwd_->send(origin_, std::move(m));
    forget();
  }

  void send(net::WsFrame frame) override { send(std::vector<net::WsFrame>{std::move(frame)}); }

  void send(std::vector<net::WsFrame> frames) override {
    if (closed_) return;
    ForwardMessage m;
    m.type = ForwardType::ws_frames;
    m.id = id_;
    for (const auto& f : frames) {
      std::string data(f.head, f.head_len);
      if (f.body) data += *f.body;
      m.frames.emplace_back(f.binary, std::move(data));
    }
    fwd_->send(origin_, std::move(m));
  }

  void close(std::uint16_t code) override { end(code, false); }
  void abort() override { end(0, true); }
  std::size_t buffered_bytes() const noexcept override { return 0; }

  // Redis thread: from the origin.
  void deliver(std::string data, bool binary) {
    ServerAccess::pool(fwd_->server())
        .post(shard_, [self = shared_from_this(), data = std::move(data), binary] {
          if (auto h = self->handler()) h->on_ws_message(data, binary);
        });
  }
  void peer_closed(std::string reason) {
    if (closed_.exchange(true)) return;
    notify_closed(std::move(reason));
  }

 private:
  std::shared_ptr<net::WebSocketHandler> handler() {
    std::lock_guard lock(mutex_);
    return handler_.lock();
  }

  void end(std::uint16_t code, bool abort) {
    if (closed_.exchange(true)) return;
    ForwardMessage m;
    m.type = ForwardType::ws_close;
    m.id = id_;
    m.status = code;
    m.close = abort;
    fwd_->send(origin_, std::move(m));
    // The connection is ours to end: the session hears it now, whatever the origin does.
    notify_closed(abort ? "transport error" : "transport close");
  }

  void notify_closed(std::string reason) {
    ServerAccess::pool(fwd_->server()).post(shard_, [self = shared_from_this(), reason = std::move(reason)] {
      if (auto h = self->handler()) h->on_ws_closed(reason);
    });
    forget();
  }

  void forget() {
    fwd_->hub_->post([fwd = fwd_, origin = origin_, id = id_] { fwd->forget_remote(origin, id); });
  }

  std::shared_ptr<SessionForwarder> fwd_;
  net::HttpRequest request_;
  std::string origin_;
  std::uint64_t id_;
  std::size_t shard_;
  std::atomic<bool> closed_{false};
  std::mutex mutex_;
  std::weak_ptr<net::WebSocketHandler> handler_;
};

// ---- origin side: the client's real WebSocket, bridged to the owner --------------------------

class SessionForwarder::Bridge final : public net::WebSocketHandler {
 public:
  Bridge(std::shared_ptr<SessionForwarder> fwd, std::string owner, std::uint64_t id)
      : fwd_(std::move(fwd)), owner_(std::move(owner)), id_(id) {}

  void on_ws_message(std::string_view data, bool binary) override {
    ForwardMessage m;
    m.type = ForwardType::ws_message;
    m.id = id_;
    m.frames.emplace_back(binary, std::string(data));
    fwd_->send(owner_, std::move(m));
  }

  void on_ws_closed(std::string_view reason) override {
    ForwardMessage m;
    m.type = ForwardType::ws_closed;
    m.id = id_;
    m.body = reason;
    fwd_->send(owner_, std::move(m));
    fwd_->hub_->post([fwd = fwd_, id = id_] {
      if (fwd->pending_.erase(id)) fwd->open_.fetch_sub(1);
    });
  }

 private:
  std::shared_ptr<SessionForwarder> fwd_;
  std::string owner_;
  std::uint64_t id_;
};

// ---- the forwarder -----------------------------------------------------------------------------

SessionForwarder::SessionForwarder(Server& server, std::shared_ptr<RedisHub> hub, Options options)
    : server_(server), hub_(std::move(hub)), options_(options) {
  // Four characters of the session-id alphabet, random: two nodes share one with a chance of
  // one in 16.7 million per pair (checked at start, see start()).
  tag_ = core::make_random_id().substr(0, eio::kNodeTagLength);
  my_channel_ = channel(tag_);
}

SessionForwarder::~SessionForwarder() = default;

std::string SessionForwarder::channel(std::string_view tag) const {
  return hub_->config().key + "#eio#" + std::string(tag) + "#";
}

void SessionForwarder::start() {
  hub_->add(shared_from_this());
  hub_->post([self = shared_from_this()] {
    if (self->hub_->config().mode == RedisMode::sharded)
      self->hub_->ssubscribe(self->my_channel_);
    else
      self->hub_->subscribe(self->my_channel_);
    self->check_timer_ = std::make_unique<boost::asio::steady_timer>(self->hub_->io());
    self->check_owners();
  });
}

// A dead owner never answers: its exchanges would wait for the timeout (and a polling client
// with them, until its own ping timeout). Its channel has no subscriber any more; ask Redis.
void SessionForwarder::check_owners() {
  if (stopped_) return;
  std::set<std::string> owners;
  for (const auto& [id, p] : pending_) owners.insert(p.owner);
  const bool sharded = hub_->config().mode == RedisMode::sharded;
  check_origins(sharded);
  for (const std::string& owner : owners) {
    hub_->command({"PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel(owner)},
                  [weak = weak_from_this(), owner](const redisReply* r) {
                    auto self = weak.lock();
                    if (!self || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer > 0)
                      return;
                    std::vector<std::uint64_t> gone;
                    for (const auto& [id, p] : self->pending_)
                      if (p.owner == owner) gone.push_back(id);
                    self->counters_.no_owner.fetch_add(gone.size(), std::memory_order_relaxed);
                    for (const auto id : gone) self->fail(id, 400);
                  });
  }
  check_timer_->expires_after(options_.owner_check);
  check_timer_->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec) self->check_owners();
  });
}

// The other way round: a node that relayed requests to our sessions and died never says so. A
// WebSocket it bridged is gone (the session would wait for its ping timeout, its sockets in their
// rooms meanwhile). A poll it held is gone too, as when a client's connection drops, unless the
// balancer retries it elsewhere: the retry takes the held one's place (Session::supersedes), and
// may come late on a loaded machine, so polls end only when their node is seen gone twice.
void SessionForwarder::check_origins(bool sharded) {
  std::set<std::string> origins;
  for (const auto& [key, r] : remote_requests_) origins.insert(key.first);
  for (const auto& [key, ws] : remote_sockets_) origins.insert(key.first);
  std::erase_if(gone_origins_, [&](const std::string& o) { return !origins.contains(o); });
  for (const std::string& origin : origins) {
    hub_->command({"PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel(origin)},
                  [weak = weak_from_this(), origin](const redisReply* r) {
                    auto self = weak.lock();
                    if (!self || self->stopped_ || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer > 0)
                      return;
                    std::size_t lost = 0;
                    const bool seen_gone_before = !self->gone_origins_.insert(origin).second;
                    for (auto it = self->remote_requests_.lower_bound({origin, 0});
                         seen_gone_before && it != self->remote_requests_.end() && it->first.first == origin;
                         ++lost) {
                      it->second->aborted();
                      it = self->remote_requests_.erase(it);
                    }
                    std::vector<std::shared_ptr<RemoteWebSocket>> gone;
                    for (auto it = self->remote_sockets_.lower_bound({origin, 0});
                         it != self->remote_sockets_.end() && it->first.first == origin;) {
                      gone.push_back(it->second);
                      it = self->remote_sockets_.erase(it);
                    }
                    self->counters_.origins_lost.fetch_add(lost + gone.size(), std::memory_order_relaxed);
                    for (const auto& ws : gone) ws->peer_closed("transport error: the relaying node is gone");
                  });
  }
}

// Synchronous: once it returns, nothing on the Redis thread touches the server any more (the
// server goes right after). Messages being dispatched now run before the posted close.
void SessionForwarder::stop() {
  hub_->remove(shared_from_this());
  auto done = std::make_shared<std::promise<void>>();
  auto closed = done->get_future();
  hub_->post([self = shared_from_this(), done] {
    self->on_hub_closing();
    done->set_value();
  });
  closed.wait_for(std::chrono::seconds(2));
}

void SessionForwarder::on_hub_closing() {
  stopped_ = true;
  if (check_timer_) check_timer_->cancel();
  std::vector<std::uint64_t> ids;
  for (const auto& [id, p] : pending_) ids.push_back(id);
  for (const auto id : ids) fail(id, 503);
  remote_requests_.clear();
  remote_sockets_.clear();
}

void SessionForwarder::forward_request(std::string_view sid, net::HttpRequest&& req,
                                       net::ResponderPtr responder) {
  if (open_.load(std::memory_order_relaxed) >= options_.max_pending) {
    counters_.refused.fetch_add(1, std::memory_order_relaxed);
    return responder->respond(error_response(req, 503));
  }
  const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  ForwardMessage m;
  m.type = ForwardType::request;
  m.id = id;
  put_request(m, req);
  m.body = std::move(req.body);
  req.body.clear();
  Pending p;
  p.head = std::move(req);
  p.responder = responder;
  p.owner = std::string(eio::node_tag_of(sid));
  responder->on_abort([weak = weak_from_this(), id] {
    if (auto self = weak.lock()) {
      self->hub_->post([self, id] {
        const auto it = self->pending_.find(id);
        if (it == self->pending_.end()) return;
        ForwardMessage abort;
        abort.type = ForwardType::abort;
        abort.id = id;
        self->publish(it->second.owner, abort);
        self->pending_.erase(it);
        self->open_.fetch_sub(1);
      });
    }
  });
  hub_->post([self = shared_from_this(), id, p = std::move(p), m = std::move(m)]() mutable {
    self->open(id, std::move(p), std::move(m));
  });
}

void SessionForwarder::forward_upgrade(std::string_view sid, net::WebSocketPtr ws) {
  if (const unsigned status = retry_status(ws->request())) {
    // The balancer passes a request answered with this status to its next node: the upgrade goes
    // on until it reaches the owner and the WebSocket lives there, with no hop through this node
    // (whose restart would otherwise cut it). If no node owns the session any more, the client
    // gets the last node's answer and stays on polling, whose next request says the sid is unknown.
    counters_.passed_on.fetch_add(1, std::memory_order_relaxed);
    net::HttpResponse res = error_response(ws->request(), 400);
    res.status = status;
    return ws->reject(std::move(res));
  }
  if (open_.load(std::memory_order_relaxed) >= options_.max_pending) {
    counters_.refused.fetch_add(1, std::memory_order_relaxed);
    net::HttpResponse res = error_response(ws->request(), 503);
    res.close = true;
    return ws->reject(std::move(res));
  }
  const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  ForwardMessage m;
  m.type = ForwardType::ws_open;
  m.id = id;
  put_request(m, ws->request());
  Pending p;
  p.head = ws->request();
  p.ws = std::move(ws);
  p.owner = std::string(eio::node_tag_of(sid));
  hub_->post([self = shared_from_this(), id, p = std::move(p), m = std::move(m)]() mutable {
    self->open(id, std::move(p), std::move(m));
  });
}

void SessionForwarder::open(std::uint64_t id, Pending p, ForwardMessage m) {
  counters_.forwarded.fetch_add(1, std::memory_order_relaxed);
  const std::string owner = p.owner;
  p.timer = std::make_unique<boost::asio::steady_timer>(hub_->io(), options_.timeout);
  p.timer->async_wait([weak = weak_from_this(), id](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    const auto it = self->pending_.find(id);
    if (it == self->pending_.end() || it->second.bridge) return;  // answered
    self->counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
    self->fail(id, 400);
  });
  const bool poll = p.responder && p.head.method == net::Method::get;
  pending_.emplace(id, std::move(p));
  open_.fetch_add(1);
  if (stopped_) return fail(id, 503);
  // Stopping: a poll forwarded now could be answered after this node's connections are gone, and
  // the owner's packets in that answer lost without the client knowing (the balancer retries the
  // cut GET elsewhere). Refused before the owner sees it: nginx passes the GET to another node
  // (proxy_next_upstream http_503), any other client polls again after an error.
  if (draining_ && poll) {
    counters_.refused.fetch_add(1, std::memory_order_relaxed);
    return fail(id, 503);
  }
  publish(owner, m, [weak = weak_from_this(), id](bool reached) {
    auto self = weak.lock();
    if (!self || reached) return;
    self->counters_.no_owner.fetch_add(1, std::memory_order_relaxed);
    self->fail(id, 400);
  });
}

void SessionForwarder::release(std::uint64_t id, const std::string& owner) {
  ForwardMessage m;
  m.type = ForwardType::release;
  m.id = id;
  publish(owner, m);
}

bool SessionForwarder::drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  hub_->post([self = shared_from_this()] {
    self->draining_ = true;
    for (const auto& [id, p] : self->pending_)
      if (p.responder) self->release(id, p.owner);
  });
  // Polls only: a bridged WebSocket lives as long as its connection to this node.
  for (;;) {
    auto open = std::make_shared<std::promise<std::size_t>>();
    auto counted = open->get_future();
    hub_->post([self = shared_from_this(), open] {
      std::size_t n = 0;
      for (const auto& [id, p] : self->pending_) n += p.responder ? 1 : 0;
      open->set_value(n);
    });
    if (counted.wait_until(deadline) != std::future_status::ready) return false;
    if (counted.get() == 0) return true;
    if (std::chrono::steady_clock::now() + std::chrono::milliseconds(10) >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void SessionForwarder::fail(std::uint64_t id, unsigned status) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  open_.fetch_sub(1);
  if (p.responder) {
    net::HttpResponse res = error_response(p.head, status);
    res.close = draining_;  // stopping: see on_origin_message
    return p.responder->respond(std::move(res));
  }
  if (p.bridge) return p.ws->close(1011);
  // As the engine answers an upgrade it refuses: a bare 400 and the message.
  net::HttpResponse res;
  res.status = status;
  res.set("Content-Type", "text/html");
  res.body = status == 400 ? "Session ID unknown" : "Service Unavailable";
  res.close = true;
  p.ws->reject(std::move(res));
}

net::HttpResponse SessionForwarder::error_response(const net::HttpRequest& req, unsigned status) const {
  net::HttpResponse res;
  res.status = status;
  res.set("Content-Type", "application/json");
  // What the engine answers for a sid it does not know (the owner is gone or never was).
  res.body = status == 400 ? R"({"code":1,"message":"Session ID unknown"})"
             : draining_   ? R"({"code":3,"message":"This node is shutting down"})"
                           : R"({"code":3,"message":"Too many forwarded requests"})";
  if (status != 400) res.set("Retry-After", "1");
  ServerAccess::add_cors_headers(server_, req, res);
  return res;
}

void SessionForwarder::send(const std::string& to, ForwardMessage m) {
  m.from = tag_;
  hub_->post([self = shared_from_this(), to, m = std::move(m)] {
    // A bridged WebSocket's message that does not reach the other end (the publish queue full
    // while Redis is slow, Redis down, or nobody subscribed) would leave a hole in the stream:
    // the WebSocket is cut instead, and its client reconnects.
    std::function<void(bool)> done;
    if (m.type == ForwardType::ws_frames || m.type == ForwardType::ws_message)
      done = [self, type = m.type, to, id = m.id](bool reached) {
        if (!reached) self->link_lost(type, to, id);
      };
    self->publish(to, m, std::move(done));
  });
}

void SessionForwarder::link_lost(ForwardType type, const std::string& to, std::uint64_t id) {
  std::shared_ptr<net::WebSocket> ws;
  if (type == ForwardType::ws_frames) {  // we own the session; `to` relays its WebSocket
    const auto it = remote_sockets_.find({to, id});
    if (it == remote_sockets_.end()) return;
    ws = it->second;
    remote_sockets_.erase(it);
  } else {  // we relay the client's WebSocket to its owner `to`
    const auto it = pending_.find(id);
    if (it == pending_.end() || it->second.owner != to || !it->second.ws || it->second.link_lost) return;
    it->second.link_lost = true;  // the messages queued behind this one fail too: one close
    ws = it->second.ws;
  }
  counters_.link_lost.fetch_add(1, std::memory_order_relaxed);
  if (const auto n = link_lost_log_.due())
    spdlog::warn(
        "forwarding: bridged WebSocket closed: a message could not be published to node {} ({} time(s))", to,
        *n);
  ws->abort();  // the owner's side tells the relay too, if Redis takes it
}

void SessionForwarder::publish(const std::string& to, const ForwardMessage& m,
                               std::function<void(bool)> done) {
  ForwardMessage out = m;
  out.from = tag_;
  // Through the hub's bounded queue, as every publish: while Redis is slow, forwarded requests,
  // answers and bridged WebSocket frames wait within --redis-max-publish-queue with the rest; over
  // it they fail (counted as publish overflow) as when Redis is down.
  const std::string verb = hub_->config().mode == RedisMode::sharded ? "SPUBLISH" : "PUBLISH";
  const bool queued = hub_->send({verb, channel(to), cluster::encode(out)}, [done](const redisReply* r) {
    if (done) done(r && r->type == REDIS_REPLY_INTEGER && r->integer > 0);
  });
  if (!queued && done) done(false);
}

void SessionForwarder::forget_remote(const std::string& from, std::uint64_t id) {
  remote_requests_.erase({from, id});
  remote_sockets_.erase({from, id});
}

bool SessionForwarder::on_redis_message(std::string_view ch, std::string_view payload) {
  if (ch != my_channel_) return false;
  auto m = cluster::decode_forward_message(payload);
  if (!m || m->from.size() != eio::kNodeTagLength) {
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  switch (m->type) {
    case ForwardType::request:
    case ForwardType::abort:
    case ForwardType::ws_open:
    case ForwardType::ws_message:
    case ForwardType::ws_closed:
    case ForwardType::release:
      on_owner_message(*m);
      break;
    default:
      on_origin_message(*m);
  }
  return true;
}

void SessionForwarder::on_owner_message(ForwardMessage& m) {
  if (stopped_) return;
  auto& pool = ServerAccess::pool(server_);
  const RemoteKey key{m.from, m.id};
  const std::size_t shard = m.id % pool.size();
  switch (m.type) {
    case ForwardType::request: {
      counters_.served.fetch_add(1, std::memory_order_relaxed);
      auto responder = std::make_shared<RemoteResponder>(shared_from_this(), m.from, m.id, shard);
      remote_requests_[key] = responder;
      pool.post(shard, [self = shared_from_this(), req = request_of(m), responder]() mutable {
        ServerAccess::handle_forwarded(self->server_, std::move(req), responder);
      });
      break;
    }
    case ForwardType::abort:
      if (const auto it = remote_requests_.find(key); it != remote_requests_.end()) {
        it->second->aborted();
        remote_requests_.erase(it);
      }
      break;
    case ForwardType::release:
      if (const auto it = remote_requests_.find(key); it != remote_requests_.end()) it->second->released();
      break;
    case ForwardType::ws_open: {
      counters_.served.fetch_add(1, std::memory_order_relaxed);
      auto ws = std::make_shared<RemoteWebSocket>(shared_from_this(), request_of(m), m.from, m.id, shard);
      remote_sockets_[key] = ws;
      pool.post(shard,
                [self = shared_from_this(), ws] { ServerAccess::handle_forwarded(self->server_, ws); });
      break;
    }
    case ForwardType::ws_message:
      if (const auto it = remote_sockets_.find(key); it != remote_sockets_.end() && m.frames.size() == 1)
        it->second->deliver(std::move(m.frames[0].second), m.frames[0].first);
      break;
    case ForwardType::ws_closed:
      if (const auto it = remote_sockets_.find(key); it != remote_sockets_.end()) {
        auto ws = it->second;
        remote_sockets_.erase(it);
        ws->peer_closed(m.body);
      }
      break;
    default:
      break;
  }
}

void SessionForwarder::on_origin_message(ForwardMessage& m) {
  const auto it = pending_.find(m.id);
  if (it == pending_.end() || it->second.owner != m.from) return;  // over already (timed out, closed)
  Pending& p = it->second;
  switch (m.type) {
    case ForwardType::response: {
      if (!p.responder) return;
      net::HttpResponse res;
      res.status = m.status;
      res.close = m.close;
      for (auto& [name, value] : m.headers) res.headers.push_back({std::move(name), std::move(value)});
      res.body = std::move(m.body);
      // Stopping: the balancer must not reuse this connection (a request sent on it now would
      // be cut when the node goes; a new connection is refused, and retried elsewhere).
      res.close = res.close || draining_;
      auto responder = std::move(p.responder);
      pending_.erase(it);
      open_.fetch_sub(1);
      responder->respond(std::move(res));
      break;
    }
    case ForwardType::ws_accept: {
      if (!p.ws || p.bridge) return;
      p.timer.reset();
      p.bridge = std::make_shared<Bridge>(shared_from_this(), p.owner, m.id);
      // A handshake that fails gives the bridge no callback: tell the owner here.
      p.ws->accept(
          p.bridge,
          [self = shared_from_this(), id = m.id, owner = p.owner](bool ok) {
            if (ok) return;
            ForwardMessage closed;
            closed.type = ForwardType::ws_closed;
            closed.id = id;
            closed.body = "transport error";
            self->send(owner, std::move(closed));
            self->hub_->post([self, id] {
              if (self->pending_.erase(id)) self->open_.fetch_sub(1);
            });
          },
          std::move(m.headers));
      break;
    }
    case ForwardType::ws_reject: {
      if (!p.ws || p.bridge) return;
      net::HttpResponse res;
      res.status = m.status;
      res.close = true;
      for (auto& [name, value] : m.headers) res.headers.push_back({std::move(name), std::move(value)});
      res.body = std::move(m.body);
      auto ws = std::move(p.ws);
      pending_.erase(it);
      open_.fetch_sub(1);
      ws->reject(std::move(res));
      break;
    }
    case ForwardType::ws_frames: {
      if (!p.bridge) return;
      // The owner's slow-client policy cannot see this hop's queue: a client that does not read
      // is cut here past the same budget (--outbox-high-water plus one message), and the owner
      // hears it as a transport error.
      const auto& o = server_.options();
      if (p.ws->buffered_bytes() > o.outbox_high_water + o.max_http_buffer_size) {
        counters_.slow_clients.fetch_add(1, std::memory_order_relaxed);
        return p.ws->abort();
      }
      std::vector<net::WsFrame> frames;
      frames.reserve(m.frames.size());
      for (auto& [binary, data] : m.frames) {
        net::WsFrame f;
        f.binary = binary;
        f.body = core::make_bytes(std::move(data));
        frames.push_back(std::move(f));
      }
      p.ws->send(std::move(frames));
      break;
    }
    case ForwardType::ws_close:
      if (!p.bridge) return;
      if (m.close)
        p.ws->abort();
      else
        p.ws->close(static_cast<std::uint16_t>(m.status));
      break;
    default:
      break;
  }
}

}  // namespace socketio::redis
