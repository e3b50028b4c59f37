#include "eio/session.hpp"

#include "eio/flow.hpp"
#include "eio/parser/jsonp.hpp"
#include "eio/server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstring>
#include <stdexcept>

namespace socketio::eio {

namespace asio = boost::asio;
using std::chrono::steady_clock;

// Forwards WebSocket callbacks to the session, on the session's shard (the WebSocket may live
// on another shard when a polling session upgrades over a connection accepted elsewhere). For
// the probe of an upgrade and the WebSocket it upgrades to; a session opened over a WebSocket is
// its own handler (Session::on_ws_message and the like below, the same rule).
class WsLink final : public net::WebSocketHandler, public std::enable_shared_from_this<WsLink> {
 public:
  WsLink(std::weak_ptr<Session> session, net::ShardPool& pool, std::size_t shard)
      : session_(std::move(session)), pool_(pool), shard_(shard) {}

  void on_ws_message(std::string_view data, bool binary) override {
    if (net::ShardPool::current() == shard_) {
      if (auto s = session_.lock()) s->on_ws_message(this, data, binary);
      return;
    }
    pool_.post(shard_, [w = session_, self = shared_from_this(), d = std::string(data), binary] {
      if (auto s = w.lock()) s->on_ws_message(self.get(), d, binary);
    });
  }

  void on_ws_closed(std::string_view reason) override {
    pool_.dispatch(shard_, [w = session_, self = shared_from_this(), r = std::string(reason)] {
      if (auto s = w.lock()) s->on_ws_closed(self.get(), r);
    });
  }

  void on_ws_drained() override {
    pool_.dispatch(shard_, [w = session_, self = shared_from_this()] {
      if (auto s = w.lock()) s->on_ws_drained(self.get());
    });
  }

 private:
  std::weak_ptr<Session> session_;
  net::ShardPool& pool_;
  std::size_t shard_;
};

// The timers a session rarely needs, made on first use, and the outbox policy's state (needed
// from the first time the client goes over the high-water mark). The heartbeat is not here: it is
// the session's place in the shard's HeartbeatQueue (eio/heartbeat.hpp).
struct SessionTimers {
  SessionTimers(const OutboxLimits& limits, const OutboxStats& stats) : outbox(limits, stats) {}
  std::unique_ptr<asio::steady_timer> upgrade;
  std::unique_ptr<asio::steady_timer> slow;  // made when the client first goes over the high water
  OutboxPolicy outbox;
};

// Long-polling, JSONP and the upgrade (Session::polling_).
struct Session::Polling {
  std::optional<std::string> jsonp;  // the JSONP callback index
  net::ResponderPtr pending_get;
  // The request of pending_get when there is a headers hook (for it), released with its answer.
  std::unique_ptr<net::HttpRequest> pending_get_request;
  net::ContentCoding pending_coding = net::ContentCoding::identity;  // what pending_get accepts
  bool handshake_answered = false;  // the first polling response (the handshake's) went out
  bool probe_answered = false;
  std::shared_ptr<WsLink> ws_link;  // the handler of the WebSocket upgraded to (ws_)
  std::shared_ptr<WsLink> probe_link;
  net::WebSocketPtr probe;
};

namespace {
// The heartbeat's lists in the shard's HeartbeatQueue: within each, every deadline is "now" (or the
// ping's due time, itself in order) plus the same option, so each list is ordered by construction.
constexpr std::size_t kPhasePing = 0;      // waiting to send the next ping: + pingInterval
constexpr std::size_t kPhasePong = 1;      // waiting for the pong: the ping's due time + pingTimeout
constexpr std::size_t kPhasePongMore = 2;  // a packet came meanwhile: + pingTimeout from then
constexpr std::size_t kPhaseV3 = 3;        // v3: waiting for the client's next ping: + both
static_assert(kPhaseV3 < HeartbeatQueue::kLists);

}  // namespace

Session::Session(Server& server, std::string id, std::size_t shard, int protocol, bool supports_binary,
                 const net::HttpRequest& handshake)
    : server_(server),
      request_(net::PackedRequest::make_shared(handshake)),
      issued_(std::chrono::system_clock::now()),
      shard_(static_cast<std::uint32_t>(shard)),
      protocol_(static_cast<std::uint8_t>(protocol)),
      id_size_(static_cast<std::uint8_t>(id.size())),
      supports_binary_(supports_binary) {
  if (id.size() > kIdCapacity) throw std::length_error("eio::Session: id too long");
  std::memcpy(id_, id.data(), id.size());
}

std::string Session::client_address() const {
  return net::client_address(request_->remote_address(), request_->header("X-Forwarded-For"),
                             server_.options().trust_proxy);
}

bool Session::client_secure() const noexcept {
  return net::client_secure(request_->secure(), request_->remote_address(),
                            request_->header("X-Forwarded-Proto"), server_.options().trust_proxy);
}

void Session::use_jsonp(std::string index) {
  polling().jsonp = std::move(index);
  supports_binary_ = false;
}

Session::Polling& Session::polling() {
  if (!polling_) polling_ = std::make_unique<Polling>();
  return *polling_;
}

bool Session::probing(const net::WebSocketHandler* link) const noexcept {
  return link != nullptr && polling_ && link == polling_->probe_link.get();
}

bool Session::has_pending_get() const noexcept {
  return polling_ && polling_->pending_get;
}

const net::WebSocketHandler* Session::ws_link() const noexcept {
  if (!ws_) return nullptr;
  return polling_ ? polling_->ws_link.get() : as_ws_handler();
}

// --- net::WebSocketHandler: a session opened over a WebSocket (as WsLink does for the others) ---

void Session::on_ws_message(std::string_view data, bool binary) {
  if (net::ShardPool::current() == shard_) return on_ws_message(as_ws_handler(), data, binary);
  server_.pool().post(shard_, [w = weak_from_this(), d = std::string(data), binary] {
    if (auto s = w.lock()) s->on_ws_message(s->as_ws_handler(), d, binary);
  });
}

void Session::on_ws_closed(std::string_view reason) {
  server_.pool().dispatch(shard_, [w = weak_from_this(), r = std::string(reason)] {
    if (auto s = w.lock()) s->on_ws_closed(s->as_ws_handler(), r);
  });
}

void Session::on_ws_drained() {
  server_.pool().dispatch(shard_, [w = weak_from_this()] {
    if (auto s = w.lock()) s->on_ws_drained(s->as_ws_handler());
  });
}

struct Session::Flow {
  std::uint32_t holds = 0;     // receivers over the mark it put there, plus its own pipeline
  bool pipeline_held = false;  // one of the holds: kHoldAt posts in flight to other shards
  std::shared_ptr<core::FlowToken> token;
  // A POST answered once the holds are gone (the client sends its next one after the answer).
  std::optional<std::pair<net::ResponderPtr, net::HttpResponse>> held_post;
};

Session::~Session() = default;

SessionTimers& Session::timers() {
  if (!timers_)
    timers_ = std::make_unique<SessionTimers>(server_.options().outbox, server_.counters().outbox);
  return *timers_;
}

const OutboxLimits& Session::outbox_limits() const noexcept {
  return server_.options().outbox;
}

OutboxPolicy& Session::outbox() {
  return timers().outbox;
}

bool Session::over_high_water() const noexcept {
  return buffered_bytes() > outbox_limits().high_water;
}

std::string_view Session::transport_name() const noexcept {
  return transport_ == TransportKind::websocket ? "websocket" : "polling";
}

std::size_t Session::buffered_bytes() const noexcept {
  return buffer_bytes_ + (ws_ ? ws_->buffered_bytes() : 0);
}

static std::string open_payload(const Options& o, std::string_view sid, int protocol, bool upgrades) {
  std::string s = "{\"sid\":\"";
  s += sid;
  s += "\",\"upgrades\":[";
  if (upgrades) s += "\"websocket\"";
  s += "],\"pingInterval\":" + std::to_string(o.ping_interval.count()) +
       ",\"pingTimeout\":" + std::to_string(o.ping_timeout.count());
  if (protocol >= 4) s += ",\"maxPayload\":" + std::to_string(o.max_http_buffer_size);
  s += "}";
  return s;
}

void Session::start(net::ResponderPtr handshake_get) {
  const auto& o = server_.options();
  transport_ = TransportKind::polling;
  counted_open();
  const bool upgrades = o.allow_upgrades && o.allow_websocket;
  push(PacketType::open, false, core::make_bytes(open_payload(o, id_view(), protocol_, upgrades)));
  auto& p = polling();
  p.pending_get = std::move(handshake_get);
  p.pending_coding = net::negotiate_coding(request_->header("Accept-Encoding"));
  std::weak_ptr<Session> w = weak_from_this();
  auto raw = p.pending_get.get();
  p.pending_get->on_abort([w, raw] {
    if (auto s = w.lock()) s->on_get_aborted(raw);
  });
  flush();
  schedule_ping();
}

void Session::start(net::WebSocketPtr ws) {
  const auto& o = server_.options();
  transport_ = TransportKind::websocket;
  upgrade_ = Upgrade::upgraded;
  counted_open();
  ws_ = std::move(ws);
  push(PacketType::open, false, core::make_bytes(open_payload(o, id_view(), protocol_, false)));
  std::weak_ptr<Session> w = weak_from_this();
  // The WebSocket holds this session weakly, as its handler (aliasing: the session's own count).
  ws_->accept(
      std::shared_ptr<net::WebSocketHandler>(shared_from_this(), static_cast<net::WebSocketHandler*>(this)),
      [w, pool = &server_.pool(), shard = shard_](bool ok) {
        if (ok) return;
        pool->dispatch(shard, [w] {
          if (auto s = w.lock()) s->on_close("transport error", "websocket handshake failed");
        });
      },
      server_.extra_headers(ws_->request(), true, {}));
  flush();
  schedule_ping();
}

// --- heartbeat ---------------------------------------------------------------------------

steady_clock::time_point Session::ping_due() const noexcept {
  return list() == kPhasePing ? deadline() : steady_clock::time_point::max();
}

steady_clock::time_point Session::pong_deadline() const noexcept {
  return list() != kPhasePing ? deadline() : steady_clock::time_point::max();
}

// One deadline per session, in the shard's queue: arming again replaces it, on_close cancels it,
// and the queue calls on_heartbeat_due (on this shard) once it has passed.
void Session::arm_heartbeat(std::size_t phase, steady_clock::time_point deadline) {
  if (state_ == State::closed) return;  // a closed session stays out of the queue
  server_.heartbeat(shard_).arm(*this, phase, deadline);
}

void Session::on_heartbeat_due(HeartbeatQueue::Entry& entry) {
  auto& session = static_cast<Session&>(entry);
  if (session.state_ == State::closed) return;
  const auto self = session.shared_from_this();  // what follows may let go of the session
  if (entry.list() == kPhasePing) {
    session.push(PacketType::ping, false, nullptr);
    session.flush();
    session.await_pong();
  } else {
    session.on_close("ping timeout");
  }
}

void Session::schedule_ping() {
  const auto& o = server_.options();
  if (protocol_ == 3) {
    reset_pong_deadline();
    return;
  }
  deadline_extended_ = false;
  arm_heartbeat(kPhasePing, steady_clock::now() + o.ping_interval);
}

void Session::await_pong() {
  arm_heartbeat(kPhasePong, ping_due() + server_.options().ping_timeout);
}

void Session::reset_pong_deadline() {
  const auto& o = server_.options();
  const auto timeout = protocol_ == 3 ? o.ping_interval + o.ping_timeout : o.ping_timeout;
  arm_heartbeat(protocol_ == 3 ? kPhaseV3 : kPhasePongMore, steady_clock::now() + timeout);
}

bool Session::heartbeat_expired() {
  if (state_ == State::closed) return false;
  auto deadline = pong_deadline();
  if (deadline == steady_clock::time_point::max() && ping_due() != steady_clock::time_point::max())
    deadline = ping_due() + server_.options().ping_timeout;  // the ping timer is running late
  if (steady_clock::now() <= deadline) return false;
  on_close("ping timeout");
  return true;
}

// --- sending -----------------------------------------------------------------------------

void Session::counted_open() {
  const auto& c = server_.counters();
  c.handshake(transport_, request_->secure()).inc();
  c.clients(transport_).inc();
}

void Session::drop_buffer_bytes() {
  server_.counters().outbox_bytes.sub(static_cast<std::int64_t>(buffer_bytes_));
  buffer_bytes_ = 0;
}

void Session::push(PacketType type, bool binary, core::SharedBytes data, bool compress) {
  const std::size_t size = 1 + (data ? data->size() : 0);
  const auto& c = server_.counters();
  c.packets_out.inc();
  c.bytes_out.inc(size);
  c.outbox_bytes.add(static_cast<std::int64_t>(size));
  buffer_bytes_ += size;
  buffer_.push_back(OutPacket{type, binary, std::move(data), compress});
}

void Session::send(const core::SharedBytes& data, bool binary, bool compress) {
  if (state_ != State::open) return;
  if (transport_ == TransportKind::websocket && ws_ && buffer_.empty()) {
    // What push() + flush() would do, without the buffer in between (a broadcast reaches
    // every recipient this way: no vector to fill and clear, one reference count less).
    const auto& c = server_.counters();
    c.packets_out.inc();
    c.bytes_out.inc(1 + (data ? data->size() : 0));
    ws_->send(to_frame(PacketType::message, binary, data, compress));
    check_outbox();
    return;
  }
  push(PacketType::message, binary, data, compress);
  flush();
}

void Session::send_many(const core::SharedBytes* data, const bool* binary, std::size_t n, bool compress) {
  if (state_ != State::open) return;
  for (std::size_t i = 0; i < n; ++i) push(PacketType::message, binary[i], data[i], compress);
  flush();
}

net::WsFrame Session::to_frame(PacketType type, bool binary, core::SharedBytes data, bool compress) const {
  net::WsFrame f;
  f.body = std::move(data);
  f.compress = compress;  // permessage-deflate honours the packet's compress flag
  if (binary) {
    f.binary = true;
    if (protocol_ == 3) {
      f.head[0] = '\x04';
      f.head_len = 1;
    }
  } else {
    f.head[0] = static_cast<char>('0' + static_cast<int>(type));
    f.head_len = 1;
  }
  return f;
}

void Session::send_ws(const net::WebSocketPtr& ws, std::vector<OutPacket>& packets) {
  if (packets.size() == 1) {
    auto& p = packets.front();
    ws->send(to_frame(p.type, p.binary, std::move(p.data), p.compress));
  } else {
    std::vector<net::WsFrame> frames;
    frames.reserve(packets.size());
    for (auto& p : packets) frames.push_back(to_frame(p.type, p.binary, std::move(p.data), p.compress));
    ws->send(std::move(frames));
  }
  packets.clear();
}

void Session::flush() {
  if (state_ == State::closed || buffer_.empty()) return;
  if (transport_ == TransportKind::websocket) {
    if (!ws_) return;
    send_ws(ws_, buffer_);
    // Over a WebSocket the buffer only holds what goes out with the next flush (a ping, the open
    // packet): no capacity is kept for an idle connection.
    std::vector<OutPacket>().swap(buffer_);
    drop_buffer_bytes();
  } else if (has_pending_get()) {
    flush_polling();
  }
  check_outbox();
}

// --- the slow-client policy (eio/outbox.hpp) ----------------------------------------------

void Session::check_outbox() {
  const std::size_t buffered = buffered_bytes();
  const auto& limits = outbox_limits();
  if (buffered <= limits.high_water && buffered <= limits.hard_limit) {
    // What OutboxPolicy::check says under the mark (ok, and the stretch over it ended), without
    // making the policy's state for a client that never went over.
    if (timers_) timers_->outbox.check(buffered);
    return;
  }
  auto& outbox = this->outbox();
  switch (outbox.check(buffered)) {
    case OutboxPolicy::Verdict::ok:
      break;
    case OutboxPolicy::Verdict::arm_timer:
      arm_slow_timer();
      break;
    case OutboxPolicy::Verdict::disconnect:
      // Deferred: flush() runs inside the caller's send(), which must not see the session vanish.
      server_.pool().post(shard_, [w = weak_from_this()] {
        if (auto s = w.lock()) s->drop_slow_client();
      });
      return;
  }
  // Over the mark because of a client's message: that client waits until this one drains, or
  // until this one has been over for --hold-senders-timeout.
  if (outbox.over_high_water(buffered) && limits.hold_senders) {
    if (outbox.may_hold(buffered, steady_clock::now()))
      flow::hold_current_sender(this, this, server_.pool());
    else
      release_senders();
  }
}

void Session::release_senders() {
  flow::release(this, server_.pool());
}

void Session::on_ws_drained(const net::WebSocketHandler* link) {
  if (state_ == State::closed || link == nullptr || link != ws_link() || over_high_water()) return;
  release_senders();
}

// --- this session as a sender (eio/flow.hpp) -----------------------------------------------

Session::Flow& Session::flow() {
  if (!flow_) flow_ = std::make_unique<Flow>();
  return *flow_;
}

bool Session::held() const noexcept {
  return flow_ && flow_->holds > 0;
}

void Session::flow_hold() {
  if (flow().holds++ > 0) return;
  server_.counters().outbox.senders_held.inc();
  if (ws_) ws_->hold_reading(true);
}

void Session::flow_release() {
  if (!held() || --flow_->holds > 0) return;
  if (ws_) ws_->hold_reading(false);
  answer_held_post();
}

const std::shared_ptr<core::FlowToken>& Session::flow_token() {
  auto& f = flow();
  if (!f.token) f.token = std::make_shared<core::FlowToken>(weak_from_this());
  return f.token;
}

void Session::flow_pipeline_full() {
  auto& f = flow();
  if (f.pipeline_held) return;
  f.pipeline_held = true;
  flow_hold();
}

void Session::flow_pipeline_drained() {
  server_.pool().post(shard_, [w = weak_from_this()] {
    if (auto s = w.lock()) s->pipeline_check();
  });
}

void Session::pipeline_check() {
  if (!flow_ || !flow_->pipeline_held ||
      flow_->token->in_flight.load(std::memory_order_acquire) > core::FlowToken::kReleaseAt)
    return;
  flow_->pipeline_held = false;
  flow_release();
}

void Session::answer_held_post() {
  if (!flow_ || !flow_->held_post) return;
  auto [res, ok] = std::move(*flow_->held_post);
  flow_->held_post.reset();
  res->respond(std::move(ok));
}

// Time-driven: the client is let go at the deadline even if nothing more is sent to it.
void Session::arm_slow_timer() {
  if (slow_timer_armed_ || state_ == State::closed) return;
  auto& t = timers();
  if (!t.slow) t.slow = std::make_unique<asio::steady_timer>(server_.pool().context(shard_));
  slow_timer_armed_ = true;
  t.slow->expires_at(t.outbox.next_deadline(steady_clock::now()));
  t.slow->async_wait([w = weak_from_this()](boost::system::error_code ec) {
    auto s = w.lock();
    if (!s) return;
    s->slow_timer_armed_ = false;
    if (!ec && s->state_ != State::closed) s->check_outbox();
  });
}

void Session::drop_slow_client() {
  if (state_ == State::closed) return;
  const auto& limits = outbox_limits();
  const bool slow = outbox().slow();
  if (slow)
    spdlog::warn("eio {}: slow client {}: {} bytes queued, over {} for {} ms: disconnected", id_view(),
                 request_->remote_address(), buffered_bytes(), limits.high_water,
                 limits.slow_timeout.count());
  else
    spdlog::warn("eio {}: client {}: {} bytes queued, over the hard limit {}: disconnected", id_view(),
                 request_->remote_address(), buffered_bytes(), limits.hard_limit);
  // No closing handshake for a peer that does not read: its connection goes now.
  if (ws_) ws_->abort();
  ws_.reset();
  on_close("transport error", slow ? "slow client" : "send buffer full");
}

void Session::respond_get(net::ResponderPtr res, std::string body, bool binary_body,
                          net::ContentCoding coding) {
  net::HttpResponse r;
  r.status = 200;
  r.set("Content-Type", binary_body ? "application/octet-stream" : "text/plain; charset=UTF-8");
  r.set("Cache-Control", "no-store");
  auto& p = *polling_;  // a GET was held
  if (p.jsonp) {
    body = jsonp_wrap(*p.jsonp, body);  // a text script either way; compressed below like any body
    r.set("Content-Type", "text/plain; charset=UTF-8");
  }
  const auto& o = server_.options();
  // As engine.io's polling transport: at least the threshold, and a coding the GET accepts (the
  // caller passes identity when no packet of the payload asked for compression). Capped at
  // maxHttpBufferSize so that one response cannot stall the shard in zlib.
  if (coding != net::ContentCoding::identity && o.http_compression &&
      body.size() >= o.http_compression_threshold && body.size() <= o.max_http_buffer_size) {
    std::string packed;
    if (net::compress_body(coding, body, packed)) {
      server_.counters().polling_compressed.inc();
      server_.counters().polling_compressed_saved.inc(
          body.size() > packed.size() ? body.size() - packed.size() : 0);
      r.set("Content-Encoding", std::string(net::coding_name(coding)));
      body = std::move(packed);
    }
  }
  r.body = std::move(body);
  server_.add_cors_headers(request_->header("Origin"), r);
  // The first answer is the handshake's: the cookie and the initial headers go on it.
  const bool initial = !p.handshake_answered;
  p.handshake_answered = true;
  // The GET's own request goes with its answer: a session that upgraded keeps none.
  const auto get_request = std::move(p.pending_get_request);
  const auto cookie_sid = initial ? id_view() : std::string_view();
  if (!initial && get_request) {
    server_.add_extra_headers(r, *get_request, initial, cookie_sid);
  } else if (initial ? server_.has_extra_headers() : static_cast<bool>(server_.options().headers)) {
    server_.add_extra_headers(r, request_->unpack(), initial, cookie_sid);
  }
  res->respond(std::move(r));
}

void Session::flush_polling() {
  std::vector<PacketView> views;
  views.reserve(buffer_.size());
  bool has_close = false, compress = false;
  for (const auto& p : buffer_) {
    views.push_back(PacketView{p.type, p.binary, p.data ? std::string_view(*p.data) : std::string_view{}});
    has_close = has_close || p.type == PacketType::close;
    compress = compress || p.compress;
  }
  std::string body;
  bool binary_body = false;
  if (protocol_ == 3)
    binary_body = encode_payload_v3(views, supports_binary_, body);
  else
    encode_payload(views, body);
  buffer_.clear();
  drop_buffer_bytes();
  auto res = std::move(polling_->pending_get);
  respond_get(std::move(res), std::move(body), binary_body,
              compress ? polling_->pending_coding : net::ContentCoding::identity);
  release_senders();  // the buffer is on its way: whoever filled it may go on
  if (has_close && state_ == State::closing) on_close("forced close");
}

void Session::close() {
  if (state_ != State::open) return;
  state_ = State::closing;
  if (transport_ == TransportKind::websocket) {
    flush();
    on_close("forced close");
    return;
  }
  push(PacketType::close, false, nullptr);
  if (has_pending_get()) flush_polling();
  // Otherwise the next GET takes the buffer and the close packet; the heartbeat bounds the wait.
}

void Session::shutdown(std::string_view reason) {
  on_close(reason);
}

// --- closing -----------------------------------------------------------------------------

void Session::on_close(std::string_view reason, std::string_view description) {
  if (state_ == State::closed) return;
  state_ = State::closed;
  server_.counters().clients(transport_).dec();
  server_.counters().closed(reason).inc();
  HeartbeatQueue::cancel(*this);
  if (timers_ && timers_->upgrade) timers_->upgrade->cancel();
  if (timers_ && timers_->slow) timers_->slow->cancel();
  buffer_.clear();
  drop_buffer_bytes();
  if (has_pending_get()) {
    // A POSTed close packet releases the pending GET with a noop; every other cause with close.
    const bool noop = reason == "transport close";
    auto res = std::move(polling_->pending_get);
    const std::string body = noop ? "6" : "1";
    respond_get(std::move(res), protocol_ == 3 ? std::to_string(body.size()) + ":" + body : body, false);
  }
  if (ws_) ws_->close(0);
  if (polling_) {
    if (polling_->probe) polling_->probe->close(0);
    polling_->probe.reset();
    polling_->probe_link.reset();
  }
  limit_slot_.reset();
  release_senders();
  answer_held_post();
  auto self = shared_from_this();  // the registry may hold the last reference
  server_.remove(*this);
  if (auto h = std::move(handler_)) h->on_close(reason, description);
}

void Session::on_get_aborted(const net::Responder* res) {
  if (state_ == State::closed || !has_pending_get() || polling_->pending_get.get() != res) return;
  polling_->pending_get.reset();
  on_close("transport error", "poll connection closed prematurely");
}

// Engine.IO lets a session hold one GET; a second one is a client error (the reference closes the
// session: "overlap from client"). A held GET that another node relayed is the exception when the
// new one comes by another way (directly, or relayed by a third node): a client has one poll open,
// so the held one's way is gone. The relaying node died (the balancer retried the GET elsewhere:
// nginx's proxy_next_upstream) or gave the client up. The held one is answered with a noop, which
// loses nothing (if it still reaches a client, a noop is valid there), and the new one is held.
// Two GETs by the same way, or both direct, stay an overlap.
bool Session::supersedes(const net::Responder& next) const {
  const auto held_by = polling_->pending_get->relayed_by();
  return !held_by.empty() && next.relayed_by() != held_by;
}

// The node relaying this GET is stopping: the poll is answered now (what is buffered, or a noop),
// so that the client's next one goes to a node that stays. The session is not touched otherwise.
void Session::release_poll(const net::Responder* res) {
  if (state_ == State::closed || !has_pending_get() || polling_->pending_get.get() != res) return;
  server_.counters().relayed_released.inc();
  if (!buffer_.empty()) return flush();
  auto r = std::move(polling_->pending_get);
  respond_get(std::move(r), protocol_ == 3 ? "1:6" : "6", false);
}

// --- incoming ----------------------------------------------------------------------------

void Session::on_polling_request(net::HttpRequest&& req, net::ResponderPtr res) {
  if (heartbeat_expired() || state_ == State::closed) {
    res->respond(server_.error_response(req, ErrorCode::unknown_sid, {}, {{"sid", id_view()}}));
    return;
  }
  if (transport_ != TransportKind::polling) {
    res->respond(server_.error_response(
        req, ErrorCode::bad_request, {},
        {{"name", "TRANSPORT_MISMATCH"}, {"transport", "polling"}, {"previousTransport", transport_name()}}));
    return;
  }
  auto& pl = polling();
  if (req.method == net::Method::get) {
    if (pl.pending_get) {
      if (!supersedes(*res)) {
        net::HttpResponse r;  // the reference answers the overlapping GET with a bare 400
        r.status = 400;
        server_.add_cors_headers(req, r);
        res->respond(std::move(r));
        on_close("transport error", "overlap from client");
        return;
      }
      server_.counters().relayed_superseded.inc();
      auto stale = std::move(pl.pending_get);
      respond_get(std::move(stale), protocol_ == 3 ? "1:6" : "6", false);
    }
    pl.pending_get = std::move(res);
    pl.pending_coding = net::negotiate_coding(req.header("Accept-Encoding"));
    // Kept only for a headers hook (add_extra_headers reads it with the answer): a held poll's
    // request is ~1 KiB in 3 blocks, made again by every poll, that would otherwise land
    // wherever the last burst left room and pin that page (docs/reliability.md, session 9).
    if (server_.options().headers)
      pl.pending_get_request = std::make_unique<net::HttpRequest>(std::move(req));
    auto raw = pl.pending_get.get();
    pl.pending_get->on_abort([w = weak_from_this(), raw, pool = &server_.pool(), shard = shard_] {
      pool->dispatch(shard, [w, raw] {
        if (auto s = w.lock()) s->on_get_aborted(raw);
      });
    });
    if (!pl.pending_get->relayed_by().empty()) {
      // Posted, never run inline: the callback may come at once, from inside this function.
      pl.pending_get->on_release([w = weak_from_this(), raw, pool = &server_.pool(), shard = shard_] {
        pool->post(shard, [w, raw] {
          if (auto s = w.lock()) s->release_poll(raw);
        });
      });
    }
    if (upgrade_ == Upgrade::probing && pl.probe_answered) {
      // The client is moving to WebSocket: release this poll at once with a noop. What is buffered
      // (a ping that fell due meanwhile, messages) waits for the WebSocket, in order; it goes to
      // the next poll if the upgrade fails.
      auto r = std::move(pl.pending_get);
      respond_get(std::move(r), protocol_ == 3 ? "1:6" : "6", false);
      return;
    }
    flush();
    return;
  }
  if (req.method != net::Method::post) {
    net::HttpResponse r;  // the reference: 500 with an empty body for other methods on a session
    r.status = 500;
    server_.add_cors_headers(req, r);
    res->respond(std::move(r));
    return;
  }
  const auto& o = server_.options();
  if (protocol_ != 3 && !pl.jsonp) {
    if (auto ct = req.header("Content-Type"); ct && ct->starts_with("application/octet-stream")) {
      net::HttpResponse r;  // v4 polling is text only
      r.status = 400;
      server_.add_cors_headers(req, r);
      res->respond(std::move(r));
      on_close("transport error", "binary POST on a v4 session");
      return;
    }
  }
  if (req.body_too_large || req.body.size() > o.max_http_buffer_size) {
    server_.counters().bodies_too_large.inc();
    if (const auto n = server_.body_limit_log(shard_).due())
      spdlog::warn(
          "limits: polling body over {} bytes (--max-http-buffer-size): 413 and the session closed, {} "
          "time(s)",
          o.max_http_buffer_size, *n);
    net::HttpResponse r;
    r.status = 413;
    r.close = true;
    server_.add_cors_headers(req, r);
    res->respond(std::move(r));
    on_close("transport error", "payload too large");
    return;
  }
  std::vector<Packet> packets;
  Limits limits{o.max_http_buffer_size, 100'000};
  std::error_code ec;
  std::optional<std::string> form;  // JSONP: the payload inside the form
  if (pl.jsonp) form = jsonp_unwrap_post(req.body);
  const std::string_view body = form ? std::string_view(*form) : std::string_view(req.body);
  if (pl.jsonp && !form) {
    // no single `d` field: the reference ignores the data and still answers ok
  } else if (protocol_ == 3) {
    const auto ct = req.header("Content-Type");
    const bool binary_body = !pl.jsonp && ct && ct->starts_with("application/octet-stream");
    ec = decode_payload_v3(body, binary_body, packets, limits);
  } else {
    ec = decode_payload(body, packets, limits);
  }
  net::HttpResponse ok;
  ok.status = 200;
  ok.set("Content-Type", "text/html");
  ok.set("Cache-Control", "no-store");
  ok.body = "ok";
  server_.add_cors_headers(req, ok);
  server_.add_extra_headers(ok, req, false, {});
  auto self = shared_from_this();
  if (ec) {
    res->respond(std::move(ok));
    on_close("parse error", ec.message());
    return;
  }
  for (auto& p : packets) {
    if (state_ == State::closed) break;
    if (p.type == PacketType::close) {
      on_close("transport close");
      break;
    }
    on_packet(std::move(p));
  }
  if (held() && state_ != State::closed) {
    // Held (eio/flow.hpp): the answer waits, and with it the client's next POST.
    answer_held_post();  // a client has one POST in flight; an earlier one goes now
    flow_->held_post.emplace(std::move(res), std::move(ok));
    return;
  }
  res->respond(std::move(ok));
}

void Session::on_packet(Packet&& p) {
  server_.counters().packets_in.inc();
  server_.counters().bytes_in.inc(1 + p.data.size());
  if (heartbeat_expired()) return;
  // Any packet while a pong is awaited proves the client alive: the deadline moves once by a
  // full pingTimeout (the reference since engine.io 6.6.2), so a busy link is not cut.
  if (protocol_ != 3 && p.type != PacketType::pong && pong_deadline() != steady_clock::time_point::max() &&
      !deadline_extended_) {
    deadline_extended_ = true;
    reset_pong_deadline();
  }
  switch (p.type) {
    case PacketType::message:
      // A copy: the handler may close the session, which lets go of it, while it still runs.
      if (auto h = handler_) {
        // What the handler sends to others is this client's doing (publisher backpressure).
        core::SenderScope sender(this);
        h->on_message(p.data, p.binary);
      }
      break;
    case PacketType::ping:
      if (protocol_ != 3) {
        on_close("transport error", "invalid heartbeat direction");
        return;
      }
      push(PacketType::pong, false, p.data.empty() ? nullptr : core::make_bytes(std::move(p.data)));
      reset_pong_deadline();
      flush();
      break;
    case PacketType::pong:
      if (protocol_ == 3) {
        on_close("transport error", "invalid heartbeat direction");
        return;
      }
      if (pong_deadline() != steady_clock::time_point::max()) schedule_ping();
      break;
    case PacketType::close:
      on_close("transport close");
      break;
    case PacketType::open:
    case PacketType::upgrade:
    case PacketType::noop:
      break;
  }
}

void Session::on_upgrade_request(net::WebSocketPtr ws) {
  const auto& o = server_.options();
  if (state_ != State::open || heartbeat_expired()) {
    ws->reject(server_.error_response(ws->request(), ErrorCode::unknown_sid, {}, {{"sid", id_view()}}));
    return;
  }
  if (transport_ != TransportKind::polling || upgrade_ != Upgrade::none) {
    // Already upgrading or upgraded: like the reference (engine.io's onWebSocket), complete this
    // WebSocket handshake and close it at once; the session and its transport are not touched.
    // (A refused upgrade makes browser-like clients report an error instead of a close.)
    ws->accept({}, [weak = std::weak_ptr<net::WebSocket>(ws)](bool ok) {
      if (auto w = weak.lock(); w && ok) w->close(0);
    });
    return;
  }
  if (!o.allow_upgrades) {
    ws->reject(
        server_.error_response(ws->request(), ErrorCode::bad_request, {}, {{"name", "UPGRADE_REFUSED"}}));
    return;
  }
  upgrade_ = Upgrade::probing;
  auto& pl = polling();
  pl.probe_answered = false;
  pl.probe = ws;
  pl.probe_link = std::make_shared<WsLink>(weak_from_this(), server_.pool(), shard_);
  auto& t = timers();
  if (!t.upgrade) t.upgrade = std::make_unique<asio::steady_timer>(server_.pool().context(shard_));
  t.upgrade->expires_after(o.upgrade_timeout);
  t.upgrade->async_wait([w = weak_from_this(), link = pl.probe_link.get()](boost::system::error_code ec) {
    if (ec) return;
    if (auto s = w.lock(); s && s->probing(link)) s->cancel_upgrade("upgrade timeout");
  });
  auto link = pl.probe_link.get();
  ws->accept(
      pl.probe_link,
      [w = weak_from_this(), link, pool = &server_.pool(), shard = shard_](bool ok) {
        if (ok) return;
        pool->dispatch(shard, [w, link] {
          if (auto s = w.lock(); s && s->probing(link)) s->cancel_upgrade("handshake failed");
        });
      },
      server_.extra_headers(ws->request(), false, {}));
}

void Session::cancel_upgrade(std::string_view why) {
  spdlog::debug("eio {}: upgrade cancelled: {}", id_view(), why);
  if (polling_) {
    if (polling_->probe) polling_->probe->close(0);
    polling_->probe.reset();
    polling_->probe_link.reset();
  }
  if (timers_ && timers_->upgrade) timers_->upgrade->cancel();
  if (upgrade_ == Upgrade::probing) upgrade_ = Upgrade::none;
}

void Session::on_ws_message(const net::WebSocketHandler* link, std::string_view data, bool binary) {
  if (state_ == State::closed) return;
  Packet p;
  const auto ec = binary ? decode_binary_frame(data, protocol_, p) : decode_packet(data, p);
  if (probing(link)) {
    auto& pl = *polling_;
    if (!ec && p.type == PacketType::ping && p.data == "probe" && !binary) {
      net::WsFrame f;
      f.head[0] = '3';
      f.head_len = 1;
      f.body = core::make_bytes(std::string_view("probe"));
      pl.probe->send(std::move(f));
      pl.probe_answered = true;
      if (pl.pending_get && buffer_.empty()) {
        auto r = std::move(pl.pending_get);
        respond_get(std::move(r), protocol_ == 3 ? "1:6" : "6", false);
      }
      return;
    }
    if (!ec && p.type == PacketType::upgrade && pl.probe_answered) {
      if (timers_ && timers_->upgrade) timers_->upgrade->cancel();
      server_.counters().clients(TransportKind::polling).dec();
      server_.counters().clients(TransportKind::websocket).inc();
      server_.counters().upgrades.inc();
      transport_ = TransportKind::websocket;
      upgrade_ = Upgrade::upgraded;
      ws_ = std::move(pl.probe);
      pl.ws_link = std::move(pl.probe_link);
      if (held()) ws_->hold_reading(true);
      if (pl.pending_get) {
        auto r = std::move(pl.pending_get);
        respond_get(std::move(r), protocol_ == 3 ? "1:6" : "6", false);
      }
      if (state_ == State::closing) {
        flush();
        on_close("forced close");
        return;
      }
      flush();
      return;
    }
    cancel_upgrade("unexpected packet during upgrade");
    return;
  }
  if (link != ws_link() || link == nullptr) return;
  if (ec) {
    on_close("parse error", ec.message());
    return;
  }
  on_packet(std::move(p));
}

void Session::on_ws_closed(const net::WebSocketHandler* link, std::string_view reason) {
  if (probing(link)) {
    polling_->probe.reset();
    polling_->probe_link.reset();
    if (timers_ && timers_->upgrade) timers_->upgrade->cancel();
    if (upgrade_ == Upgrade::probing) upgrade_ = Upgrade::none;
    return;
  }
  if (link == ws_link() && link != nullptr) {
    ws_.reset();
    on_close(reason.starts_with("transport error") ? "transport error" : "transport close", reason);
  }
}

}  // namespace socketio::eio
