// WebSocket sessions over plain and TLS streams (one template, instantiated for both). The 101
// answer is Beast's, built by ws::switching_protocols() and written by the session with its
// first frames (Engine.IO's open packet: one send); what Beast answers otherwise (a refused
// upgrade) it writes itself. After the opening handshake the session frames the stream itself
// (RFC 6455, server side), because Beast writes one message per operation: here every frame
// queued while the shard ran its current handlers goes out in one gathered write (one syscall,
// one TLS record batch), with each frame's bytes shared with every other recipient of the same
// broadcast. Dropping Beast's stream after the handshake also returns its per-connection
// buffers. One write in flight and a queue of shared frames; callbacks to the handler on the
// owning shard; send/close from any thread are posted there.
//
// What a peer can make a session hold is bounded: pongs are coalesced (at most one waits, with
// the latest ping's payload, as RFC 6455 §5.5.3 allows), and while a write is in flight with a
// pong or more than ServerOptions::backpressure_bytes queued behind it the peer is not read, so
// that what it sends cannot outrun what it reads (uWS does the same). A session that must close
// is destroyed within ServerOptions::close_timeout whether or not the peer reads.
//
// permessage-deflate (RFC 7692), when enabled and offered: negotiated before Beast answers the
// upgrade (ws_extensions.hpp), then frames are compressed as they are queued (in queue order, so
// a connection's own deflate stream, with context takeover, sees its messages in wire order) and
// compressed messages are inflated whole once their last frame is in, never beyond the message
// limit. Without context takeover (the default) the shard's streams are borrowed for one message
// and a broadcast's compression is shared by its recipients (ws_deflate.hpp, DeflateShard).
#include "core/kept_op_memory.hpp"
#include "core/utf8.hpp"
#include "net/detail/streams.hpp"
#include "net/ws_frame.hpp"
#include "net/ws_handshake.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

namespace socketio::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// Read buffers start small, grow for a large message and give the memory back afterwards so
// that idle connections stay small.
constexpr std::size_t kInitialReadBuffer = 512;
constexpr std::size_t kKeepReadBuffer = 16 * 1024;
// The shard's read buffer for plain connections (see WsSession::read_now).
constexpr std::size_t kShardReadBuffer = 64 * 1024;

// One per shard thread: a plain connection reads into it and parses from it, and keeps bytes of
// its own only when a frame is left incomplete (uWS does the same), so an idle connection holds
// no read buffer. `lent` guards against a nested read on the same thread (none is known).
struct ShardReadBuffer {
  std::vector<char> buf = std::vector<char>(kShardReadBuffer);
  bool lent = false;
};
ShardReadBuffer& shard_read_buffer() {
  thread_local ShardReadBuffer b;
  return b;
}
// One gathered write being staged or in flight: frame headers and small bodies copied into
// `stage`, larger bodies referenced where they are (`marks`), `bufs` what is written.
struct WriteStage {
  std::string stage;
  std::vector<boost::asio::const_buffer> bufs;
  std::vector<std::pair<std::size_t, const WsFrame*>> marks;
  // What the batch takes off the queue once written: its frames, their bytes, the pong's.
  std::size_t frames = 0, bytes = 0, pong = 0;
};
// One per shard thread: a plain connection stages a batch in it and keeps it only when the
// kernel does not take the whole batch at once (the write then stays in flight), so an idle
// connection holds no write state at all (a pointer) whatever it wrote last.
std::unique_ptr<WriteStage>& shard_write_stage() {
  thread_local std::unique_ptr<WriteStage> s;
  return s;
}
// One gathered write: at most this many frames / bytes (frames with small bodies are copied into
// one staging buffer; larger bodies are referenced where they are).
constexpr std::size_t kMaxBatchFrames = 1024;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;
constexpr std::size_t kCopyBelow = 1024;
// The shard's list of connections to flush keeps its memory up to this many entries.
constexpr std::size_t kKeepFlushList = 64 * 1024;
// How long a closing connection waits for the peer's end of the closing handshake once its own
// close frame is written (never beyond the close timeout).
constexpr auto kCloseLinger = std::chrono::seconds(2);
// The longest payload of a control frame (RFC 6455 §5.5).
constexpr std::size_t kMaxControlPayload = 125;

using ws::kBinary;
using ws::kClose;
using ws::kContinuation;
using ws::kPing;
using ws::kPong;
using ws::kText;

template <class Stream>
class WsSession final : public UpgradedWebSocket, public std::enable_shared_from_this<WsSession<Stream>> {
  static constexpr bool kPlain = std::is_same_v<Stream, PlainStream>;
  // After the opening handshake a plain connection is the bare socket: Beast's tcp_stream adds a
  // timer and its own state to every pending operation (~1 KiB per idle connection), and the
  // session bounds its time itself (close timer, Engine.IO heartbeat). TLS keeps its stream.
  using RawStream = std::conditional_t<kPlain, ShardSocket, Stream>;

 public:
  WsSession(Stream&& stream, BeastRequest&& beast_req, HttpRequest&& req, const ConnContext& ctx,
            std::size_t shard)
      : opening_(std::make_unique<Opening>(
            Opening{websocket::stream<Stream>(std::move(stream)), std::move(beast_req), std::move(req)})),
        ctx_(ctx),
        shard_(static_cast<std::uint32_t>(shard)) {
    corked_ = true;  // until upgrade_handled()
  }

  // The upgrade request until the opening handshake is done (Engine.IO keeps its own copy).
  const HttpRequest& request() const noexcept override {
    static const HttpRequest none;
    return opening_ ? opening_->req : none;
  }
  std::size_t shard() const noexcept override { return shard_; }

  // The upgrade handler returned (the session was corked from its construction): what it
  // queued goes out now, the 101 answer with it (open_now), and reading starts after that write.
  void upgrade_handled() override {
    corked_ = false;
    if (write_on_uncork_) {
      write_on_uncork_ = false;
      maybe_write();
    }
    resume_reading();
  }

  void accept(std::weak_ptr<WebSocketHandler> handler, std::function<void(bool)> on_done,
              std::vector<std::pair<std::string, std::string>> response_headers) override {
    run([self = this->shared_from_this(), handler = std::move(handler), on_done = std::move(on_done),
         headers = std::move(response_headers)]() mutable {
      self->do_accept(std::move(handler), std::move(on_done), std::move(headers));
    });
  }

  void reject(HttpResponse response) override {
    run([self = this->shared_from_this(), response = std::move(response)]() mutable {
      self->do_reject(std::move(response));
    });
  }

  // On the shard (the usual case: the Engine.IO session lives there) the frame is queued at
  // once, without a task or a reference count per message; from elsewhere it is posted there.
  void send(WsFrame frame) override {
    if (ShardPool::current() == shard_) {
      if (closed_ || close_queued_) return;
      buffered_.fetch_add(frame.size(), std::memory_order_relaxed);
      enqueue(std::move(frame));
      return schedule_write();
    }
    buffered_.fetch_add(frame.size(), std::memory_order_relaxed);
    asio::post(executor(), [self = this->shared_from_this(), frame = std::move(frame)]() mutable {
      if (self->closed_ || self->close_queued_) {
        self->buffered_.fetch_sub(frame.size(), std::memory_order_relaxed);
        return;
      }
      self->enqueue(std::move(frame));
      self->schedule_write();
    });
  }

  void send(std::vector<WsFrame> frames) override {
    std::size_t n = 0;
    for (const auto& f : frames) n += f.size();
    if (ShardPool::current() == shard_) {
      if (closed_ || close_queued_) return;
      buffered_.fetch_add(n, std::memory_order_relaxed);
      for (auto& f : frames) enqueue(std::move(f));
      return schedule_write();
    }
    buffered_.fetch_add(n, std::memory_order_relaxed);
    asio::post(executor(), [self = this->shared_from_this(), frames = std::move(frames), n]() mutable {
      if (self->closed_ || self->close_queued_) {
        self->buffered_.fetch_sub(n, std::memory_order_relaxed);
        return;
      }
      for (auto& f : frames) self->enqueue(std::move(f));
      self->schedule_write();
    });
  }

  void close(std::uint16_t code) override {
    run([self = this->shared_from_this(), code] { self->start_close(code, "forced close"); });
  }

  void abort() override {
    run([self = this->shared_from_this()] {
      if (self->closed_) return;
      self->stats().ws_aborted.inc();
      self->drop_queued();
      self->finish("transport error");
    });
  }

  std::size_t buffered_bytes() const noexcept override { return buffered_.load(std::memory_order_relaxed); }

  // Publisher backpressure (eio/flow.hpp): while held, the peer is not read past the read in hand.
  // Called on the Engine.IO session's shard, which is not this connection's when the upgrade came
  // in on another shard: the flag is this thread's alone, like the reads it gates.
  void hold_reading(bool held) override {
    run([self = this->shared_from_this(), held] {
      self->held_ = held;
      if (!held) self->resume_reading();
    });
  }

 private:
  template <class F>
  void run(F&& f) {
    if (ShardPool::current() == shard_)
      f();
    else
      asio::post(executor(), std::forward<F>(f));
  }

  void do_accept(std::weak_ptr<WebSocketHandler> handler, std::function<void(bool)> on_done,
                 std::vector<std::pair<std::string, std::string>> headers) {
    handler_ = std::move(handler);
    negotiate_deflate(headers);
    if (auto response = ws::switching_protocols(opening_->beast_req, headers))
      return open_now(std::move(*response), on_done);
    // What Beast answers with an error (and Expect: 100-continue): Beast's own opening handshake.
    if (!headers.empty()) {
      ws().set_option(
          websocket::stream_base::decorator([h = std::move(headers)](websocket::response_type& res) {
            for (const auto& [name, value] : h) res.insert(name, value);
          }));
    }
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = websocket::stream_base::none();  // Engine.IO's heartbeat bounds idleness
    t.keep_alive_pings = false;
    ws().set_option(t);
    ws().read_message_max(ctx_->options->ws_message_limit);
    ws().auto_fragment(false);
    beast::get_lowest_layer(ws()).expires_never();
    ws().async_accept(opening_->beast_req, [self = this->shared_from_this(),
                                            on_done = std::move(on_done)](boost::system::error_code ec) {
      if (ec) {
        // The opening state stays until the session goes: the stream is in it.
        spdlog::debug("websocket: handshake failed: {}", ec.message());
        self->closed_ = true;
        if (on_done) on_done(false);
        return;
      }
      // From here on the session frames the stream itself; Beast's stream (and its buffers) and
      // the requests (they served the upgrade decision) go.
      if constexpr (kPlain) {
        self->raw_.emplace(self->ws().next_layer().release_socket());
        boost::system::error_code ignored;
        // read_now() reads without waiting; the listener sets it, and asking costs no syscall.
        if (!self->raw_->non_blocking()) self->raw_->non_blocking(true, ignored);
      } else {
        self->raw_.emplace(std::move(self->ws().next_layer()));
      }
      self->opening_.reset();
      self->accepted_ = true;
      if (on_done) on_done(true);
      if (self->closed_) return;
      self->do_read();
      if (self->close_queued_)
        self->maybe_write();
      else
        self->schedule_write();
    });
  }

  // The opening handshake without a write of its own: the 101 answer waits in opening_ and goes
  // out with the first batch, so that what the handler queues right away (Engine.IO's open
  // packet) leaves in the same send (one syscall, one TLS record) instead of one send after the
  // 101's. Reading starts once that write is under way (read_paused_, released after the write
  // by upgrade_handled() or the flush): the peer has nothing to say before it has the answer,
  // and a TLS stream's pending session ticket then rides with the answer instead of leaving
  // alone before the read waits.
  void open_now(std::string response, const std::function<void(bool)>& on_done) {
    beast::get_lowest_layer(ws()).expires_never();
    if constexpr (kPlain) {
      raw_.emplace(ws().next_layer().release_socket());
      boost::system::error_code ignored;
      if (!raw_->non_blocking()) raw_->non_blocking(true, ignored);  // as above (the listener sets it)
      drained_ = true;  // nothing to read yet: the first read waits (a wait sees bytes already in)
    } else {
      raw_.emplace(std::move(ws().next_layer()));
    }
    opening_->response = std::move(response);
    accepted_ = true;
    read_paused_ = true;
    if (on_done) on_done(true);
    if (closed_) return;
    if (close_queued_)
      maybe_write();
    else
      schedule_write();
  }

  // The 101 answer not written yet (open_now) into the stage, ahead of the batch; the opening
  // state goes with it.
  void stage_opening() {
    if (!opening_) return;
    w_->stage.append(opening_->response);
    opening_.reset();
  }

  void do_reject(HttpResponse response) {
    closed_ = true;
    response.close = true;
    auto res =
        std::make_shared<http::response<http::string_body>>(to_beast_response(std::move(response), 11));
    res->keep_alive(false);
    beast::get_lowest_layer(ws()).expires_after(ctx_->options->write_timeout);
    http::async_write(ws().next_layer(), *res,
                      [self = this->shared_from_this(), res](boost::system::error_code, std::size_t) {
                        beast::get_lowest_layer(self->ws()).close();
                      });
  }

  // permessage-deflate: accepts an offer of the request (if enabled) and adds the answer to the
  // response headers.
  void negotiate_deflate(std::vector<std::pair<std::string, std::string>>& headers) {
    const auto& config = ctx_->options->per_message_deflate;
    if (!config.enabled || !ctx_->deflate) return;
    std::string offers;
    for (const auto& h : opening_->req.headers) {
      if (!iequals(h.name, "Sec-WebSocket-Extensions")) continue;
      if (!offers.empty()) offers += ", ";
      offers += h.value;
    }
    if (offers.empty()) return;
    auto agreement = ws::negotiate_deflate(offers, config);
    if (!agreement) return;
    // A header of the same name from the application's hooks would contradict the agreement.
    std::erase_if(headers, [](const auto& h) { return iequals(h.first, "Sec-WebSocket-Extensions"); });
    headers.emplace_back("Sec-WebSocket-Extensions", std::move(agreement->response));
    agreement->response.clear();
    pmd_ = std::make_unique<Deflate>();
    pmd_->agreed = std::move(*agreement);
  }

  auto& socket() {
    if (!raw_) return beast::get_lowest_layer(ws()).socket();
    if constexpr (kPlain)
      return *raw_;
    else
      return beast::get_lowest_layer(*raw_).socket();
  }

  // --- reading: frames parsed in place, messages handed to the handler -----------------------

  void do_read() {
    if constexpr (kPlain) {
      return_read_buffer();  // what is left of the shard's buffer becomes this connection's own
      if (rbeg_ == rend_) return wait_readable();
    }
    if (rbeg_ > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + rbeg_, rend_ - rbeg_);
      rend_ -= rbeg_;
      rbeg_ = 0;
    }
    const std::size_t want = std::max(need_, rend_ + kInitialReadBuffer / 2);
    if (rbuf_.size() < want) rbuf_.resize(std::max({want, rbuf_.size() * 2, kInitialReadBuffer}));
    // The connection's own operation memory: this read may wait for its whole idle life.
    raw_->async_read_some(
        asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
        asio::bind_allocator(core::KeptOpAllocator<void>(read_op_),
                             [self = this->shared_from_this()](boost::system::error_code ec, std::size_t n) {
                               self->on_read(ec, n);
                             }));
  }

  // Plain, nothing buffered: wait for readiness, then read into the shard's buffer. Right after a
  // read that left the socket empty, the next bytes make a new readiness event; otherwise (the
  // first read, a read that filled the buffer, reading resumed after a pause, when an event may
  // have been taken while no wait was pending) the socket is read at once instead of waited for.
  void wait_readable() {
    if (!drained_) {
      asio::post(executor(), [self = this->shared_from_this()] { self->read_now(); });
      return;
    }
    // The connection's own operation memory: an idle connection waits here for its whole life,
    // and every pong or message makes the wait again (kept_op_memory.hpp says why that matters).
    raw_->async_wait(asio::socket_base::wait_read,
                     asio::bind_allocator(core::KeptOpAllocator<void>(read_op_),
                                          [self = this->shared_from_this()](boost::system::error_code ec) {
                                            if (self->closed_) return;
                                            if (ec) return self->on_read(ec, 0);
                                            self->read_now();
                                          }));
  }

  void read_now() {
    if (closed_ || reading_stopped_ || read_paused_) return;
    auto& shard = shard_read_buffer();
    std::vector<char> fallback;
    std::vector<char>& buf = shard.lent ? (fallback.resize(kShardReadBuffer), fallback) : shard.buf;
    boost::system::error_code ec;
    const std::size_t n = raw_->read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      drained_ = true;
      return wait_readable();
    }
    drained_ = !ec && n < buf.size();
    std::vector<char>().swap(rbuf_);
    rbuf_.swap(buf);
    rbeg_ = rend_ = 0;
    borrowed_ = !shard.lent;
    shard.lent = borrowed_;
    on_read(ec, n);
    drained_ = false;  // from here on only a read can tell whether the socket is empty
    return_read_buffer();
  }

  // Gives the shard's buffer back; an incomplete frame left in it is copied to a buffer of this
  // connection's own.
  void return_read_buffer() {
    if (!borrowed_) return;
    borrowed_ = false;
    std::vector<char> own;
    if (rend_ > rbeg_)
      own.assign(rbuf_.begin() + static_cast<std::ptrdiff_t>(rbeg_),
                 rbuf_.begin() + static_cast<std::ptrdiff_t>(rend_));
    rend_ -= rbeg_;
    rbeg_ = 0;
    auto& shard = shard_read_buffer();
    shard.buf.swap(rbuf_);
    shard.lent = false;
    rbuf_ = std::move(own);
  }

  void on_read(boost::system::error_code ec, std::size_t n) {
    if (closed_) return;
    if (ec) {
      if (close_sent_ || peer_closed_)
        finish(close_reason().empty() ? "transport close" : close_reason());
      else
        finish(ec == asio::error::operation_aborted ? "forced close" : "transport close");
      return;
    }
    rend_ += n;
    if (discarding_) {
      // After a protocol error the stream is out of frame sync: what follows is read and dropped
      // (bounded by the close timer) so that the close frame reaches the peer before the TCP
      // close, instead of being lost to the reset that unread data would cause.
      rbeg_ = rend_ = need_ = 0;
      do_read();
      return;
    }
    // Corked while this read's messages are handled: what their handlers send to this peer (an
    // ack, an echo) goes out in one write right after, not one loop turn later behind every
    // other connection's read of the same turn (uWS corks the same way). Writes to other peers
    // stay deferred to the end of the turn, which coalesces broadcasts.
    corked_ = true;
    parse();  // while closing, only the peer's close frame matters (deliver() drops messages)
    corked_ = false;
    if constexpr (kPlain) return_read_buffer();
    if (write_on_uncork_) {
      write_on_uncork_ = false;
      maybe_write();
    }
    if (closed_ || peer_closed_ || reading_stopped_) return;
    if (rbeg_ == rend_) {
      rbeg_ = rend_ = 0;
      if (kPlain || rbuf_.size() > kKeepReadBuffer) std::vector<char>().swap(rbuf_);
    }
    if (backed_up() || held_) {
      // Backpressure: the peer is read again once the writes catch up (resume_reading()), or
      // once the receivers its messages filled have drained (hold_reading(false)).
      read_paused_ = true;
      if (!held_) stats().ws_reads_paused.inc();  // holds are counted by eio (senders_held)
      return;
    }
    do_read();
  }

  // A write is on its way and more waits behind it than the bound allows (a pong counts: a
  // ping flood from a peer that does not read would otherwise be read, and answered, forever).
  bool backed_up() const noexcept {
    return (writing_ || write_posted_) &&
           (pong_pending_ || buffered_.load(std::memory_order_relaxed) > ctx_->options->backpressure_bytes);
  }

  void resume_reading() {
    if (!read_paused_ || closed_ || held_ || backed_up()) return;
    read_paused_ = false;
    do_read();
  }

  void parse() {
    need_ = 0;
    const std::uint64_t limit = ctx_->options->ws_message_limit;
    // Nothing after the peer's close frame counts (RFC 6455 §5.5.1).
    while (!closed_ && !reading_stopped_ && !peer_closed_ && rend_ > rbeg_) {
      const std::string_view avail(rbuf_.data() + rbeg_, rend_ - rbeg_);
      // What this frame may still add to the message (the message never exceeds the limit).
      const std::uint64_t room = in_message_ ? limit - rare_->message.size() : limit;
      ws::FrameHeader h;
      switch (ws::parse_client_header(avail, room, h, pmd_ != nullptr)) {
        case ws::HeaderStatus::need_more:
          return;
        case ws::HeaderStatus::protocol_error:
          return protocol_error(1002, "transport error: protocol error");
        case ws::HeaderStatus::too_big:
          return protocol_error(1009, "transport error: message too big");
        case ws::HeaderStatus::ok:
          break;
      }
      const auto len = static_cast<std::size_t>(h.payload_length);  // at most the limit
      if (avail.size() - h.header_length < len) {
        need_ = h.header_length + len;
        return;
      }
      char* data = rbuf_.data() + rbeg_ + h.header_length;
      ws::unmask(data, len, h.mask);
      rbeg_ += h.header_length + len;
      on_frame(h.opcode, h.fin, h.rsv1, std::string_view(data, len));
    }
  }

  void on_frame(std::uint8_t op, bool fin, bool compressed, std::string_view payload) {
    switch (op) {
      case kText:
      case kBinary:
        if (in_message_) return protocol_error(1002, "transport error: protocol error");
        message_compressed_ = compressed;
        if (compressed) {
          // Inflated once whole: the compressed fragments wait in rare_->message (their total is
          // bounded by the message limit like any fragments).
          if (fin) return deliver_compressed(payload, op == kBinary);
          in_message_ = true;
          message_binary_ = op == kBinary;
          rare().message.assign(payload);
          return;
        }
        if (op == kText) {
          utf8_.reset();
          if (!check_text(payload, fin)) return;
        }
        if (fin) return deliver(payload, op == kBinary);
        in_message_ = true;
        message_binary_ = op == kBinary;
        rare().message.assign(payload);
        return;
      case kContinuation:
        if (!in_message_) return protocol_error(1002, "transport error: protocol error");
        if (!message_binary_ && !message_compressed_ && !check_text(payload, fin)) return;
        rare_->message.append(payload);
        if (fin) {
          in_message_ = false;
          std::string msg = std::exchange(rare_->message, std::string());
          if (message_compressed_)
            deliver_compressed(msg, message_binary_);
          else
            deliver(msg, message_binary_);
        }
        return;
      case kPing:
        // Coalesced: one pong waits at most, answering the latest ping.
        if (pong_pending_) stats().ws_pongs_coalesced.inc();
        rare().pong.assign(payload);
        set_pong_pending(true);
        schedule_write();
        return;
      case kPong:
        return;
      case kClose: {
        // The peer closes: answer with its code (or none) and finish once that is written.
        const int parsed = ws::close_code(payload);
        if (parsed < 0) return protocol_error(1002, "transport error: protocol error");
        if (payload.size() > 2 && !core::is_valid_utf8(payload.substr(2)))
          return protocol_error(1007, "transport error: invalid UTF-8");
        peer_closed_ = true;
        const auto code = static_cast<std::uint16_t>(parsed);
        if (close_sent_) {
          finish(close_reason().empty() ? "transport close" : close_reason());
          return;
        }
        start_close(code, "transport close");
        return;
      }
      default:
        protocol_error(1002, "transport error: protocol error");
    }
  }

  // The next piece of a text message: valid UTF-8 so far (a code point may continue in the next
  // fragment), and complete on the last one; else the connection fails with 1007 (RFC 6455 §8.1).
  bool check_text(std::string_view piece, bool last) {
    if (utf8_.feed(piece) && (!last || utf8_.complete())) return true;
    stats().ws_invalid_utf8.inc();
    protocol_error(1007, "transport error: invalid UTF-8");
    return false;
  }

  void set_pong_pending(bool pending) {
    // The pending pong counts against the outbox like any queued frame.
    const std::size_t was = pong_pending_ ? pong_counted_ : 0;
    pong_counted_ = pending ? static_cast<std::uint8_t>(rare_->pong.size() + 2) : 0;
    pong_pending_ = pending;
    if (pong_counted_ >= was)
      buffered_.fetch_add(pong_counted_ - was, std::memory_order_relaxed);
    else
      buffered_.fetch_sub(was - pong_counted_, std::memory_order_relaxed);
  }

  void deliver(std::string_view msg, bool binary) {
    if (close_queued_) return;
    if (auto h = handler_.lock()) h->on_ws_message(msg, binary);
  }

  // A whole compressed message: inflated into the shard's scratch buffer (never beyond the
  // message limit), checked, delivered.
  void deliver_compressed(std::string_view compressed, bool binary) {
    if (close_queued_) return;
    stats().ws_inflated.inc();
    const bool keep = !pmd_->agreed.client_no_context_takeover;
    ws::Inflater* inflater = &ctx_->deflate->inflater();
    if (keep) {
      // The client keeps its context: this connection needs its own stream, made on first use.
      // Never under 9 bits: a client whose zlib turned an agreed 8 into 9 still inflates.
      if (!pmd_->inflater)
        pmd_->inflater = std::make_unique<ws::Inflater>(std::max(9, pmd_->agreed.client_window_bits),
                                                        stats().ws_zlib_connections);
      inflater = pmd_->inflater.get();
    }
    std::string& out = ctx_->deflate->scratch();
    switch (inflater->inflate(compressed, ctx_->options->ws_message_limit, out, keep)) {
      case ws::InflateResult::too_big:
        return protocol_error(1009, "transport error: message too big");
      case ws::InflateResult::bad_data:
        stats().ws_invalid_utf8.inc();  // the 1007 series
        return protocol_error(1007, "transport error: invalid compressed data");
      case ws::InflateResult::ok:
        break;
    }
    if (!binary) utf8_.reset();
    if (binary || check_text(out, true)) deliver(out, binary);
    ctx_->deflate->shrink();
  }

  // Fails the connection: nothing more is read; what was queued for the valid messages before
  // goes out first (as ws and Autobahn expect), then the close frame, all within the close timeout.
  void protocol_error(std::uint16_t code, const char* reason) {
    reading_stopped_ = true;
    if (code != 1007) stats().ws_protocol_errors.inc();
    start_close(code, reason);
  }

  // What was queued no longer matters (but the batch being written stays until it completes).
  void drop_queued() {
    const std::size_t keep = writing_ && w_ ? w_->frames : 0;
    std::size_t dropped = 0;
    for (std::size_t i = keep; i < queue_.size(); ++i) dropped += queue_[i].size();
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(keep), queue_.end());
    buffered_.fetch_sub(dropped, std::memory_order_relaxed);
  }

  // --- writing: one gathered write of everything queued ---------------------------------------

  // Queues a frame (on the shard), compressed first when permessage-deflate applies to it.
  void enqueue(WsFrame&& f) {
    const std::size_t before = f.size();
    if (pmd_ && f.compress && !f.deflated && before >= ctx_->options->per_message_deflate.threshold) {
      deflate(f);
      const std::size_t after = f.size();
      if (after < before)
        buffered_.fetch_sub(before - after, std::memory_order_relaxed);
      else
        buffered_.fetch_add(after - before, std::memory_order_relaxed);
    }
    queue_.push_back(std::move(f));
  }

  // Replaces the frame's head and body by the compressed message, unless compression fails or
  // (without context takeover) would not make it smaller.
  void deflate(WsFrame& f) {
    const std::size_t size = f.size();
    const std::string_view head(f.head, f.head_len);
    core::SharedBytes out;
    if (pmd_->agreed.server_no_context_takeover) {
      auto& shard = *ctx_->deflate;
      auto r = shard.compress(head, f.body, pmd_->agreed.server_window_bits);
      if (!r.reused && !r.failed) stats().ws_compressions.inc();
      // The cache serves this run of handlers only (one broadcast's recipients on this shard).
      if (shard.needs_clear()) asio::post(executor(), [s = ctx_->deflate] { s->clear(); });
      if (!r.bytes) return;
      out = std::move(r.bytes);
    } else {
      // Context takeover: this connection's own stream, made on first use and kept (the client
      // keeps its window too). What it compressed must be sent compressed, smaller or not.
      const auto& config = ctx_->options->per_message_deflate;
      if (!pmd_->deflater)
        pmd_->deflater = std::make_unique<ws::Deflater>(pmd_->agreed.server_window_bits, config.mem_level,
                                                        config.level, stats().ws_zlib_connections);
      const std::string_view pieces[2] = {head, f.body ? std::string_view(*f.body) : std::string_view()};
      std::string buf;
      if (!pmd_->deflater->compress(pieces, buf, true)) return;  // reset: the next one starts afresh
      stats().ws_compressions.inc();
      out = core::make_bytes(std::string_view(buf));
    }
    stats().ws_compressed.inc();
    if (out->size() < size) stats().ws_compression_saved.inc(size - out->size());
    f.body = std::move(out);
    f.head_len = 0;
    f.deflated = true;
  }

  // Defers the write to the end of the shard's current run of handlers, so that every frame
  // queued meanwhile (a burst of broadcasts, several acks) goes out in the same write; while
  // this peer's own read is handled (corked_), to the end of that read instead. One task per
  // shard flushes every connection written to in that run (uWS drains its corked sockets at
  // the end of a loop iteration the same way), not one task per connection: a broadcast to
  // 1 000 receivers costs one task, not 1 000.
  void schedule_write() {
    if (!accepted_ || writing_ || closed_) return;
    if (corked_) {
      write_on_uncork_ = true;  // on_read writes once this read is handled
      return;
    }
    if (write_posted_) return;
    write_posted_ = true;
    auto& list = flush_list();
    list.pending.push_back(this->shared_from_this());
    if (list.posted) return;
    list.posted = true;
    asio::post(executor(), [] { flush_pending(); });
  }

  // The connections of this shard (and stream type) waiting for the end of the current run.
  struct FlushList {
    std::vector<std::shared_ptr<WsSession>> pending, spare;
    bool posted = false;
  };
  static FlushList& flush_list() {
    thread_local FlushList list;
    return list;
  }
  static void flush_pending() {
    auto& list = flush_list();
    list.posted = false;
    std::vector<std::shared_ptr<WsSession>> batch;
    batch.swap(list.pending);
    list.pending.swap(list.spare);  // what this flush queues again lands in the next one
    for (const auto& s : batch) {
      s->write_posted_ = false;
      s->maybe_write();
      s->resume_reading();
    }
    batch.clear();
    if (batch.capacity() <= kKeepFlushList) list.spare.swap(batch);
  }

  // Back under the high-water mark: the handler may let go of the senders this peer held. Posted,
  // since the callers of batch_written() must not call back into the handler.
  void notify_drained() {
    asio::post(executor(), [self = this->shared_from_this()] {
      if (self->closed_) return;
      if (auto h = self->handler_.lock()) h->on_ws_drained();
    });
  }

  // Appends a control frame (payload at most 125 bytes) to the staging buffer.
  void stage_control(std::uint8_t op, std::string_view payload) {
    char head[ws::kMaxServerHeader];
    const std::size_t hl = ws::write_server_header(head, op, payload.size());
    w_->stage.append(head, hl);
    w_->stage.append(payload.substr(0, kMaxControlPayload));
  }

  // Writes what is queued, one gathered write per batch. A plain connection writes at once
  // (the socket is non-blocking): when the kernel takes it all, as it usually does, there is no
  // operation to allocate and no completion to wait for; what it does not take (or an error) is
  // left to an asynchronous write. Never calls back into the handler or resumes reading (its
  // callers may be in the middle of a read).
  void maybe_write() {
    while (accepted_ && !writing_ && !closed_ && !close_sent_) {
      // (The 101 answer not written yet goes with the batch, or with the close frame.)
      if (queue_.empty() && !pong_pending_ && (!opening_ || close_queued_)) {
        if (close_queued_) write_close();
        return;
      }
      if constexpr (kPlain)
        lend_write_stage();
      else
        own_write_stage();
      stage_batch();
      writing_ = true;
      if constexpr (kPlain) {
        if (write_now()) {
          writing_ = false;
          batch_written();  // reads the batch's counts from the stage: before it goes back
          if (w_) return_write_stage();
          continue;
        }
        // Not all of it went: the connection keeps the shard's write state while the rest is
        // in flight; the shard makes another when it next lends one.
      }
      asio::async_write(*raw_, w_->bufs,
                        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                          self->on_write(ec);
                        });
      return;
    }
  }

  // Plain: the connection stages in the shard's write state (nothing runs between lending it
  // and giving it back but a non-blocking write), unless it kept one for a write that was in
  // flight. The shard has none while a connection keeps its: the next one lent is made anew.
  void lend_write_stage() {
    if (w_) return;
    auto& shard = shard_write_stage();
    if (!shard) shard = std::make_unique<WriteStage>();
    w_.swap(shard);
  }
  void return_write_stage() {
    auto& shard = shard_write_stage();
    if (shard)
      w_.reset();
    else
      shard.swap(w_);
  }
  // TLS (and the close frame of either): the connection's own write state.
  WriteStage& own_write_stage() {
    if (!w_) w_ = std::make_unique<WriteStage>();
    return *w_;
  }

  // Stages the next batch into w_ (lent or owned by maybe_write): the pong first, then data frames; small
  // bodies copied, large ones referenced.
  void stage_batch() {
    auto& stage = w_->stage;
    auto& bufs = w_->bufs;
    auto& marks = w_->marks;
    stage.clear();
    bufs.clear();
    marks.clear();
    w_->frames = w_->bytes = w_->pong = 0;  // a lent stage carries the last connection's
    stage_opening();
    if (pong_pending_) {
      stage_control(kPong, rare_->pong);
      w_->pong = pong_counted_;
      pong_pending_ = false;  // still counted in buffered_ until written
      pong_counted_ = 0;
    }
    std::size_t bytes = stage.size();
    for (const WsFrame& f : queue_) {
      if (w_->frames == kMaxBatchFrames || (w_->frames > 0 && bytes >= kMaxBatchBytes)) break;
      const std::size_t body = f.body ? f.body->size() : 0;
      char head[ws::kMaxServerHeader];
      const std::size_t hl =
          ws::write_server_header(head, f.binary ? kBinary : kText, f.head_len + body, f.deflated);
      stage.append(head, hl);
      stage.append(f.head, f.head_len);
      if (body > 0 && body < kCopyBelow) {
        stage.append(f.body->data(), body);
      } else if (body > 0) {
        marks.push_back({stage.size(), &f});
      }
      bytes += hl + f.head_len + body;
      w_->bytes += f.size();
      ++w_->frames;
    }
    std::size_t from = 0;
    for (const auto& [at, frame] : marks) {
      if (at > from) bufs.emplace_back(stage.data() + from, at - from);
      bufs.emplace_back(frame->body->data(), frame->body->size());
      from = at;
    }
    if (stage.size() > from) bufs.emplace_back(stage.data() + from, stage.size() - from);
  }

  // Plain: writes as much of the staged buffers as the socket takes now; true when all of it
  // went, else they are what is left (would-block, or an error the asynchronous write reports).
  bool write_now() {
    auto& bufs = w_->bufs;
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = raw_->write_some(bufs, ec);  // at most 64 buffers per call
      if (ec) return false;
      std::size_t done = 0;
      while (done < bufs.size() && n >= bufs[done].size()) n -= bufs[done++].size();
      if (done == bufs.size()) return true;
      bufs[done] += n;
      bufs.erase(bufs.begin(), bufs.begin() + static_cast<std::ptrdiff_t>(done));
    }
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    batch_written();
    if (ec) {
      finish("transport error");
      return;
    }
    maybe_write();
    resume_reading();
  }

  // The batch staged last is on the wire (or failed): its frames leave the queue.
  void batch_written() {
    const std::size_t frames = w_ ? w_->frames : 0;
    const std::size_t bytes = w_ ? w_->bytes + w_->pong : 0;
    if (w_) w_->frames = w_->bytes = w_->pong = 0;
    if (!closed_) {
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(frames));
      const std::size_t was = buffered_.fetch_sub(bytes, std::memory_order_relaxed);
      const std::size_t mark = ctx_->options->backpressure_bytes;
      if (was > mark && was - bytes <= mark) notify_drained();
    }
    if (w_ && w_->stage.capacity() > kMaxBatchBytes) std::string().swap(w_->stage);
    if (queue_.empty() && !pong_pending_) {
      // Idle again: give back the memory kept for the last burst (a plain connection's write
      // state, kept only for an asynchronous write, all of it).
      if constexpr (kPlain) {
        if (w_) return_write_stage();
      } else if (w_) {
        if (w_->stage.capacity() > 4096) std::string().swap(w_->stage);
        if (w_->bufs.capacity() > 16) std::vector<asio::const_buffer>().swap(w_->bufs);
        if (w_->marks.capacity() > 16) std::vector<std::pair<std::size_t, const WsFrame*>>().swap(w_->marks);
      }
      // The queue's memory too: an idle connection holds none (the next message allocates it
      // again, one small block per write that goes out alone).
      std::vector<WsFrame>().swap(queue_);
    }
  }

  // Queues the closing handshake after whatever is queued; `reason` is what the handler hears.
  void start_close(std::uint16_t code, std::string_view reason) {
    if (closed_ || close_queued_) return;
    close_queued_ = true;
    close_code_ = code;
    rare().close_reason = std::string(reason);
    if (!accepted_) {
      finish(reason);
      return;
    }
    // The last wait has a deadline too: a peer that does not read never lets the close frame
    // (queued behind what it does not read) out, and the socket goes at the close timeout.
    auto& r = rare();
    r.close_deadline = std::chrono::steady_clock::now() + ctx_->options->close_timeout;
    r.close_timer = std::make_unique<asio::steady_timer>(executor(), r.close_deadline);
    arm_close_timer();
    maybe_write();
  }

  void arm_close_timer() {
    rare_->close_timer->async_wait([w = std::weak_ptr<WsSession>(this->shared_from_this()),
                                    deadline = rare_->close_timer->expiry()](boost::system::error_code ec) {
      auto s = w.lock();
      if (!s || ec || s->closed_) return;
      if (deadline >= s->rare_->close_deadline) {
        s->stats().ws_close_timeouts.inc();
        spdlog::debug("websocket: closing handshake not done within {} ms: connection destroyed",
                      s->ctx_->options->close_timeout.count());
      }
      s->finish(s->close_reason());
    });
  }

  void write_close() {
    close_sent_ = true;
    writing_ = true;
    char payload[2] = {static_cast<char>(close_code_ >> 8), static_cast<char>(close_code_ & 0xff)};
    own_write_stage().stage.clear();
    w_->frames = w_->bytes = w_->pong = 0;  // nothing of the queue is in this write
    stage_opening();
    stage_control(kClose, std::string_view(payload, close_code_ == 0 ? 0 : 2));
    asio::async_write(
        *raw_, asio::buffer(w_->stage),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
          self->writing_ = false;
          if (ec || self->peer_closed_) {
            self->finish(self->close_reason());
            return;
          }
          // Tell the handler now; wait (bounded) for the peer's close frame or EOF before the
          // TCP close.
          self->notify_closed(self->close_reason());
          boost::system::error_code ignored;
          if constexpr (std::is_same_v<Stream, PlainStream>)
            self->socket().shutdown(asio::socket_base::shutdown_send, ignored);
          const auto linger = std::chrono::steady_clock::now() + kCloseLinger;
          if (linger < self->rare_->close_deadline) {
            self->rare_->close_timer->expires_at(linger);  // cancels the wait armed at start_close
            self->arm_close_timer();
          }
          if (self->reading_stopped_ || self->read_paused_) {
            self->discarding_ = self->reading_stopped_;
            self->reading_stopped_ = false;
            self->read_paused_ = false;
            self->rbeg_ = self->rend_ = 0;
            self->do_read();
          }
        });
  }

  void notify_closed(std::string_view reason) {
    if (notified_) return;
    notified_ = true;
    if (auto h = handler_.lock()) h->on_ws_closed(reason);
  }

  void finish(std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    std::size_t dropped = 0;
    for (auto& f : queue_) dropped += f.size();
    if (!writing_) {
      buffered_.fetch_sub(std::min(dropped, buffered_.load(std::memory_order_relaxed)),
                          std::memory_order_relaxed);
      queue_.clear();
    }
    boost::system::error_code ignored;
    socket().close(ignored);
    if (rare_ && rare_->close_timer) rare_->close_timer->cancel();
    if (pmd_) {
      // zlib memory goes now, not when the last reference to the session does.
      pmd_->deflater.reset();
      pmd_->inflater.reset();
    }
    notify_closed(reason);
  }

  // permessage-deflate of this connection, when negotiated: the agreement, and the connection's
  // own zlib streams when context takeover was agreed (made on first use).
  struct Deflate {
    ws::DeflateAgreement agreed;
    std::unique_ptr<ws::Deflater> deflater;
    std::unique_ptr<ws::Inflater> inflater;
  };

  // What only the opening handshake needs, released once it is done (~300 bytes a connection
  // would otherwise keep for its whole life): Beast's stream and the requests.
  struct Opening {
    websocket::stream<Stream> ws;
    BeastRequest beast_req;
    HttpRequest req;
    std::string response = {};  // open_now(): the 101 answer, until the first write takes it
  };
  std::unique_ptr<Opening> opening_;
  websocket::stream<Stream>& ws() { return opening_->ws; }
  std::optional<RawStream> raw_;  // after the opening handshake
  // The connection's executor: its shard's, from the pool, so that any thread may read it (a
  // member of its own would cost every connection 56 bytes, and the stream's changes at the
  // end of the opening handshake).
  asio::io_context::executor_type executor() const { return ctx_->pool->context(shard_).get_executor(); }
  ConnContext ctx_;
  ServerStats& stats() const noexcept { return *ctx_->stats; }
  std::weak_ptr<WebSocketHandler> handler_;
  std::vector<char> rbuf_;
  std::size_t rbeg_ = 0, rend_ = 0, need_ = 0;
  core::KeptOpMemory read_op_;     // the pending read's (TLS) or readiness wait's (plain) operation
  std::vector<WsFrame> queue_;     // not a deque: an empty libstdc++ deque still holds ~600 bytes
  std::unique_ptr<WriteStage> w_;  // the write being staged or in flight (plain: only then)
  std::atomic<std::size_t> buffered_{0};
  // What only a fragmented message, a peer's ping or the closing handshake needs, made on first
  // use: an idle connection has none of them.
  struct Rare {
    std::string message;       // a fragmented message being assembled (in_message_)
    std::string pong;          // the payload of the pong waiting for the next write (pong_pending_)
    std::string close_reason;  // what the handler hears (close_queued_)
    std::unique_ptr<asio::steady_timer> close_timer;  // bounds the closing handshake
    std::chrono::steady_clock::time_point close_deadline{};
  };
  std::unique_ptr<Rare> rare_;
  Rare& rare() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
  std::string_view close_reason() const noexcept { return rare_ ? rare_->close_reason : std::string_view(); }
  core::Utf8Validator utf8_;      // the text message being received
  std::unique_ptr<Deflate> pmd_;  // only when permessage-deflate was agreed
  // The small state, packed (every idle connection has all of it).
  std::uint32_t shard_;
  std::uint16_t close_code_ = 1000;
  std::uint8_t pong_counted_ = 0;  // what the pending pong adds to buffered_ (at most 127)
  bool borrowed_ : 1 = false;      // plain: rbuf_ is the shard's read buffer, during read_now()
  bool drained_ : 1 = false;       // plain: the last read left the socket empty
  bool accepted_ : 1 = false;
  bool writing_ : 1 = false;
  bool write_posted_ : 1 = false;
  bool corked_ : 1 = false;  // on_read is handling this peer's messages (or the upgrade handler runs)
  bool write_on_uncork_ : 1 = false;  // something was queued meanwhile
  bool closed_ : 1 = false;
  bool notified_ : 1 = false;
  bool close_queued_ : 1 = false;
  bool close_sent_ : 1 = false;
  bool peer_closed_ : 1 = false;
  bool discarding_ : 1 = false;  // closing after a protocol error: input is dropped unparsed
  bool reading_stopped_ : 1 = false;
  bool read_paused_ : 1 = false;  // backpressure: the writes must catch up first
  bool held_ : 1 = false;         // publisher backpressure: receivers this peer filled must drain first
  bool pong_pending_ : 1 = false;
  bool in_message_ : 1 = false;
  bool message_binary_ : 1 = false;
  bool message_compressed_ : 1 = false;  // the message holds compressed fragments (RSV1 on the first)
};

}  // namespace

UpgradedWebSocketPtr make_websocket(PlainStream&& stream, BeastRequest&& beast_req, HttpRequest&& req,
                                    const ConnContext& ctx, std::size_t shard) {
  return std::make_shared<WsSession<PlainStream>>(std::move(stream), std::move(beast_req), std::move(req),
                                                  ctx, shard);
}

UpgradedWebSocketPtr make_websocket(TlsStream&& stream, BeastRequest&& beast_req, HttpRequest&& req,
                                    const ConnContext& ctx, std::size_t shard) {
  return std::make_shared<WsSession<TlsStream>>(std::move(stream), std::move(beast_req), std::move(req), ctx,
                                                shard);
}

}  // namespace socketio::net::detail
