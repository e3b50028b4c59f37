// Listener, TLS detection and handshake, HTTP/1.1 sessions. All Beast/Asio of the HTTP side is
// here (the WebSocket side is in websocket.cpp); each session type is instantiated once.
#include "net/server.hpp"
#include "core/kept_op_memory.hpp"
#include "core/trip_log.hpp"

#include "net/detail/streams.hpp"
#include "net/handshake_slots.hpp"
#include "net/tls_context.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <mutex>
#include <optional>
#include <thread>

namespace socketio::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using detail::BeastRequest;
using detail::ConnContext;
using detail::PlainStream;
using detail::ShardContext;
using detail::ShardSocket;
using detail::TlsStream;

namespace detail {

// Beast's request into the Beast-free value (moves the body), with the peer's address: `peer`,
// what accept() returned (no getpeername() per request); unspecified when it is not known.
HttpRequest to_http_request(BeastRequest& req, const tcp::endpoint& peer, bool secure) {
  HttpRequest out = to_http_request(req, secure);
  if (peer.port() != 0) {
    auto addr = peer.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    out.remote_address = addr.to_string();
    out.remote_port = peer.port();
  }
  return out;
}

namespace {

// The head of `res` into `out`, with the body set by `set_body`; a HEAD answer keeps the
// Content-Length of the GET it stands for.
template <class Message, class SetBody>
void fill_beast_response(Message& out, HttpResponse& res, SetBody&& set_body) {
  for (auto& h : res.headers) out.insert(h.name, h.value);
  const bool keep_length = res.payload().empty() && out.find(http::field::content_length) != out.end();
  set_body(out.body());
  if (!keep_length) out.prepare_payload();
}

}  // namespace

http::response<http::string_body> to_beast_response(HttpResponse&& res, int version) {
  http::response<http::string_body> out{static_cast<http::status>(res.status),
                                        static_cast<unsigned>(version)};
  fill_beast_response(out, res, [&](std::string& body) {
    body = res.shared_body.bytes.empty() ? std::move(res.body) : std::string(res.shared_body.bytes);
  });
  return out;
}

// The HTTP sessions' form: the body is not copied, the span points into `res` (its body or its
// shared bytes), which the session keeps until the write is done.
http::response<http::span_body<const char>> to_beast_response_view(HttpResponse& res, int version) {
  http::response<http::span_body<const char>> out{static_cast<http::status>(res.status),
                                                  static_cast<unsigned>(version)};
  fill_beast_response(out, res, [&](beast::span<const char>& body) {
    const auto bytes = res.payload();
    body = {bytes.data(), bytes.size()};
  });
  return out;
}

}  // namespace detail

namespace {

class HttpSessionBase : public std::enable_shared_from_this<HttpSessionBase> {
 public:
  virtual ~HttpSessionBase() = default;
  virtual void deliver(HttpResponse&& response) = 0;
};

// One request awaiting its answer. respond() can come from any shard; abort() from the owner.
class Exchange final : public Responder {
 public:
  Exchange(std::weak_ptr<HttpSessionBase> session, ShardPool& pool, std::size_t shard)
      : session_(std::move(session)), pool_(pool), shard_(shard) {}

  void respond(HttpResponse response) override {
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::open) return;
      state_ = State::answered;
      on_abort_ = nullptr;
    }
    pool_.dispatch(shard_, [s = session_, r = std::move(response)]() mutable {
      if (auto p = s.lock()) p->deliver(std::move(r));
    });
  }

  void on_abort(AbortCallback callback) override {
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::open) {
        on_abort_ = std::move(callback);
        return;
      }
      if (state_ == State::answered) return;
    }
    pool_.post(shard_, std::move(callback));  // already aborted: tell at once
  }

  std::size_t shard() const noexcept override { return shard_; }

  void abort() {
    AbortCallback cb;
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::open) return;
      state_ = State::aborted;
      cb = std::move(on_abort_);
    }
    if (cb) cb();
  }

 private:
  enum class State { open, answered, aborted };
  std::mutex mutex_;
  State state_ = State::open;
  AbortCallback on_abort_;
  std::weak_ptr<HttpSessionBase> session_;
  ShardPool& pool_;
  std::size_t shard_;
};

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// HTTP/1.1 session over either stream (CRTP, like Beast's flex server): keep-alive, one
// response in flight, a pipelined request held until then; a read stays pending while a long
// poll waits so that the peer going away is noticed (and reported to the Responder).
template <class Derived>
class HttpSession : public HttpSessionBase {
 public:
  HttpSession(const ConnContext& ctx, std::size_t shard, beast::flat_buffer buffer, bool secure,
              const tcp::endpoint& peer)
      : ctx_(ctx),
        shard_(shard),
        buffer_(std::move(buffer)),
        secure_(secure),
        peer_(peer),
        read_deadline_(ctx->pool->context(shard)) {}
  // Gone with a request unanswered (its peer left, or nothing kept it): the layer above hears it
  // as an abort, so a long poll's packets wait for the next poll instead of going to a dead
  // connection.
  ~HttpSession() override {
    if (pending_) pending_->abort();
  }

  void start_reading() { do_read(); }

  void deliver(HttpResponse&& response) override {
    if (!pending_ || closing_) return;
    pending_.reset();
    close_after_write_ = close_after_write_ || response.close || !request_keep_alive_;
    sent_ = std::move(response);
    res_.emplace(detail::to_beast_response_view(sent_, request_version_));
    res_->keep_alive(!close_after_write_);
    auto& lowest = beast::get_lowest_layer(derived().stream());
    lowest.expires_after(ctx_->options->write_timeout);
    writing_ = true;
    http::async_write(
        derived().stream(), *res_,
        [self = shared_from_this(), this](boost::system::error_code ec, std::size_t) { on_write(ec); });
  }

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void do_read() {
    if (closing_) return;
    if (reading_) {  // still pending (it was made while a long poll waited): bound it from now
      watch_idle();
      return;
    }
    parser_.emplace();
    detail::configure_request_parser(*parser_, ctx_->options->header_limit, ctx_->options->body_limit);
    // The stream's own deadline is off for reads: the connection's timer bounds the wait for the
    // next request (watch_idle: from now, or once the answer being written is out; not while a
    // long poll waits, which the layer above bounds with its heartbeat). With a write in flight
    // this resets only the read side: the write keeps its deadline (deliver).
    beast::get_lowest_layer(derived().stream()).expires_never();
    reading_ = true;
    ++read_tick_;
    watch_idle();
    // The connection's own operation memory (kept_op_memory.hpp): a keep-alive connection reads
    // again after every request, and a long poll's connection waits here while the poll is held.
    http::async_read(derived().stream(), buffer_, *parser_,
                     asio::bind_allocator(core::KeptOpAllocator<void>(read_op_),
                                          [self = shared_from_this(), this](boost::system::error_code ec,
                                                                            std::size_t) { on_read(ec); }));
  }

  // The wait for the next request on the connection's own timer, in memory it keeps
  // (kept_op_memory.hpp): Beast's per-operation timeout armed a new timer wait for every read of
  // an idle keep-alive connection, and after a burst those landed in the burst's pages (session 13:
  // 439 of the soak's 1 785 pinned pages). Expired, it closes the socket: the read ends with an
  // error and the connection goes the way of any failed read.
  // Also armed when a read was already pending as a long poll's answer went out: that read was
  // made without a deadline, and the connection then idles like any other.
  void watch_idle() {
    if (!reading_ || writing_ || pending_ || closing_ || deadline_armed_) return;
    read_deadline_.expires_after(first_request_ ? ctx_->options->header_timeout
                                                : ctx_->options->keepalive_timeout);
    read_deadline_.async_wait(asio::bind_allocator(
        core::KeptOpAllocator<void>(deadline_op_),
        [self = shared_from_this(), this, tick = read_tick_](boost::system::error_code ec) {
          if (ec || !reading_ || tick != read_tick_) return;
          count_idle_close();
          beast::get_lowest_layer(derived().stream()).close();
        }));
    deadline_armed_ = true;
  }

  void count_idle_close() {
    if (!first_request_) return ctx_->stats->keepalive_timeouts.inc();
    ctx_->stats->headers_timeouts.inc();
    if (const auto n = ctx_->timeout_log.due()) {
      spdlog::warn(
          "limits: no whole request within --headers-timeout {} ms: closed {} connection(s), last from {}",
          ctx_->options->header_timeout.count(), *n, peer_.address().to_string());
    }
  }

  // Every read's completion: its deadline is moot.
  void read_done() {
    reading_ = false;
    if (!deadline_armed_) return;
    deadline_armed_ = false;
    read_deadline_.cancel();
  }

  void on_read(boost::system::error_code ec) {
    read_done();
    if (ec == http::error::body_limit && !pending_) {
      // Tell the layer above (it answers 413 and closes what it must), then close.
      auto& req = parser_->get();
      req.body().clear();
      auto hreq = to_request(req);
      hreq.body_too_large = true;
      close_after_write_ = true;
      dispatch(std::move(hreq), false, req.version());
      return;
    }
    if (ec) {
      if (pending_) {
        auto p = std::move(pending_);
        p->abort();
      }
      if (is_parse_error(ec) && !writing_ && !closing_) {
        if (ec == http::error::header_limit) return refuse_head("bytes", ctx_->options->header_limit);
        spdlog::debug("http: bad request from peer: {}", ec.message());
        refuse(400, "Bad Request\n");
        return;
      }
      do_close();
      return;
    }
    first_request_ = false;
    if (pending_ || writing_) {
      queued_.emplace(parser_->release());  // pipelined: answer in order
      if (!writing_) watch_queued();
      return;
    }
    handle(parser_->release());
  }

  // A request pipelined behind a held long poll waits its turn with no request read pending, and
  // then nothing would keep this session alive, nor notice its peer leaving: this read does both.
  // What it reads (the start of a further request) stays in buffer_ for the parser; past a head's
  // worth it stops, and a session that goes then aborts its poll (destructor).
  void watch_queued() {
    if (reading_ || closing_ || buffer_.size() >= ctx_->options->header_limit) return;
    reading_ = true;
    ++read_tick_;
    derived().stream().async_read_some(
        buffer_.prepare(std::min<std::size_t>(4096, ctx_->options->header_limit - buffer_.size())),
        asio::bind_allocator(core::KeptOpAllocator<void>(read_op_),
                             [self = shared_from_this(), this](boost::system::error_code ec, std::size_t n) {
                               read_done();
                               buffer_.commit(n);
                               if (ec) {
                                 do_close();  // aborts the held poll
                               } else if (queued_) {
                                 watch_queued();
                               } else {
                                 do_read();  // its turn came meanwhile: on to the next request
                               }
                             }));
  }

  static std::size_t field_count(const BeastRequest& req) {
    return static_cast<std::size_t>(std::distance(req.begin(), req.end()));
  }

  // Answers with a status and closes (the request is not handed on).
  void refuse(unsigned status, std::string body) {
    pending_ = make_exchange();
    request_keep_alive_ = false;
    request_version_ = 11;
    HttpResponse res;
    res.status = status;
    res.set("Content-Type", "text/plain; charset=UTF-8");
    res.body = std::move(body);
    res.close = true;
    deliver(std::move(res));
  }

  void refuse_head(std::string_view what, std::size_t limit) {
    ctx_->stats->headers_too_large.inc();
    if (const auto n = ctx_->header_log.due()) {
      spdlog::warn(
          "limits: request head over {} {} (--max-header-size / --max-headers-count): 431, {} time(s)", limit,
          what, *n);
    }
    refuse(431, "Request Header Fields Too Large\n");
  }

  // In the connection's own memory (kept_op_memory.hpp): a long-polling client's held GET waits
  // in its Exchange for a heartbeat, and one made anew each time would land in a burst's pages.
  std::shared_ptr<Exchange> make_exchange() {
    return std::allocate_shared<Exchange>(core::KeptSharedAllocator<Exchange>(exchange_memory_),
                                          weak_from_this(), *ctx_->pool, shard_);
  }

  HttpRequest to_request(BeastRequest& req) { return detail::to_http_request(req, peer_, secure_); }

  // A request read while another was in flight is checked here too, when its turn comes.
  void handle(BeastRequest&& req) {
    if (field_count(req) > ctx_->options->max_header_count)
      return refuse_head("fields", ctx_->options->max_header_count);
    // A plain upgrade on a TLS port goes the request way, to get the same refusal or redirect.
    if (beast::websocket::is_upgrade(req) && derived().may_upgrade()) {
      // Pipelined behind a held poll, its turn comes with watch_queued's read pending on the
      // stream, which cannot move to a WebSocket then: refused (no client pipelines an upgrade).
      if (reading_) return refuse(400, "Bad Request\n");
      auto hreq = to_request(req);
      closing_ = true;  // the stream moves to the WebSocket session
      auto ws = derived().make_ws(std::move(req), std::move(hreq));
      ctx_->handler->on_upgrade(ws);
      ws->upgrade_handled();
      return;
    }
    const bool keep_alive = req.keep_alive();
    const int version = static_cast<int>(req.version());
    dispatch(to_request(req), keep_alive, version);
  }

  void dispatch(HttpRequest&& hreq, bool keep_alive, int version) {
    request_keep_alive_ = keep_alive;
    request_version_ = version;
    pending_ = make_exchange();
    auto exchange = pending_;
    if (!derived().accept_request(hreq, exchange)) return;
    ctx_->handler->on_request(std::move(hreq), std::move(exchange));
    if (!close_after_write_) do_read();
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    res_.reset();
    sent_ = {};
    if (ec) {
      do_close();
      return;
    }
    if (close_after_write_) {
      linger();
      return;
    }
    beast::get_lowest_layer(derived().stream()).expires_after(ctx_->options->keepalive_timeout);
    if (queued_) {
      auto next = std::move(*queued_);
      queued_.reset();
      handle(std::move(next));
      return;
    }
    do_read();
  }

  // Lingering close: stop sending (plain TCP: FIN), then read and drop what the peer still sends
  // until it is done, the byte budget is spent or the deadline passes; then close for real.
  void linger() {
    if (closing_) return;
    if (reading_) {  // a read is already pending on the stream: closing cancels it
      do_close();
      return;
    }
    closing_ = true;
    if (pending_) {
      auto p = std::move(pending_);
      p->abort();
    }
    derived().half_close();
    linger_deadline_ = std::chrono::steady_clock::now() + ctx_->options->linger_timeout;
    linger_left_ = ctx_->options->linger_max_bytes;
    buffer_.clear();
    linger_read();
  }

  void linger_read() {
    const auto now = std::chrono::steady_clock::now();
    if (now >= linger_deadline_ || linger_left_ == 0) {
      derived().do_shutdown();
      return;
    }
    beast::get_lowest_layer(derived().stream()).expires_after(linger_deadline_ - now);
    auto space = buffer_.prepare(std::min<std::size_t>(16 * 1024, linger_left_));
    derived().stream().async_read_some(
        space, [self = shared_from_this(), this](boost::system::error_code ec, std::size_t n) {
          buffer_.clear();
          linger_left_ -= std::min(n, linger_left_);
          if (ec) {
            derived().do_shutdown();
            return;
          }
          linger_read();
        });
  }

  void do_close() {
    if (closing_) return;
    closing_ = true;
    if (pending_) {
      auto p = std::move(pending_);
      p->abort();
    }
    derived().do_shutdown();
  }

  ConnContext ctx_;
  std::size_t shard_;
  beast::flat_buffer buffer_;
  bool secure_;
  tcp::endpoint peer_;                      // from accept()
  core::KeptOpMemory read_op_;              // the pending request read's operation
  core::KeptSharedMemory exchange_memory_;  // the current request's Exchange
  core::KeptOpMemory deadline_op_;          // read_deadline_'s wait
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>,
                             asio::io_context::executor_type>
      read_deadline_;
  std::uint64_t read_tick_ = 0;  // which read the deadline's wait is for
  bool deadline_armed_ = false;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Exchange> pending_;
  std::optional<BeastRequest> queued_;
  HttpResponse sent_;  // what res_ points into (its body or shared bytes) while it is written
  std::optional<http::response<http::span_body<const char>>> res_;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool first_request_ = true;
  bool close_after_write_ = false;
  bool request_keep_alive_ = true;
  int request_version_ = 11;
  std::chrono::steady_clock::time_point linger_deadline_{};
  std::size_t linger_left_ = 0;
};

class PlainHttpSession final : public HttpSession<PlainHttpSession> {
 public:
  PlainHttpSession(ShardSocket&& socket, const ConnContext& ctx, std::size_t shard, beast::flat_buffer buffer,
                   const tcp::endpoint& peer)
      : HttpSession(ctx, shard, std::move(buffer), false, peer), stream_(std::move(socket)) {}

  PlainStream& stream() { return stream_; }

  // Never on a TLS port: that would serve an unencrypted WebSocket there.
  bool may_upgrade() const { return !ctx_->options->tls; }

  // On a TLS port, a plain request is answered with a redirect or a clear refusal.
  bool accept_request(const HttpRequest& req, const std::shared_ptr<Exchange>& exchange) {
    if (!ctx_->options->tls) return true;
    ctx_->stats->plain_on_tls_port.inc();
    HttpResponse res;
    res.close = true;
    const auto host = req.header("Host");
    if (ctx_->options->tls_redirect && host) {
      res.status = 308;
      res.set("Location", "https://" + std::string(*host) + req.target);
    } else {
      res.status = 400;
      res.set("Content-Type", "text/plain; charset=UTF-8");
      res.body = "This port speaks HTTPS: use https:// or wss://\n";
    }
    close_after_write_ = true;
    exchange->respond(std::move(res));
    return false;
  }

  detail::UpgradedWebSocketPtr make_ws(BeastRequest&& req, HttpRequest&& hreq) {
    return detail::make_websocket(std::move(stream_), std::move(req), std::move(hreq), ctx_, shard_);
  }

  void half_close() {
    boost::system::error_code ec;
    stream_.socket().shutdown(asio::socket_base::shutdown_send, ec);
  }

  void do_shutdown() {
    closing_ = true;
    boost::system::error_code ec;
    stream_.socket().shutdown(asio::socket_base::shutdown_send, ec);
    stream_.close();
  }

 private:
  PlainStream stream_;
};

// The TLS handshakes in progress on one shard (touched by that shard's thread only).
struct ShardCounters {
  explicit ShardCounters(std::size_t max_tls_handshakes) : tls_slots(max_tls_handshakes) {}
  HandshakeSlots tls_slots;
  core::TripLog tls_slots_log;
};

class TlsHttpSession final : public HttpSession<TlsHttpSession>, HandshakeSlots::Holder {
 public:
  TlsHttpSession(tcp::socket&& socket, std::shared_ptr<asio::ssl::context> ssl_ctx, const ConnContext& ctx,
                 std::size_t shard, beast::flat_buffer buffer, std::shared_ptr<ShardCounters> counters,
                 std::chrono::steady_clock::time_point deadline, const tcp::endpoint& peer)
      : HttpSession(ctx, shard, std::move(buffer), true, peer),
        stream_(beast::tcp_stream(std::move(socket)), std::move(ssl_ctx)),
        counters_(std::move(counters)),
        deadline_(deadline) {}

  TlsStream& stream() { return stream_; }

  void run() {
    const std::string address = peer_.port() == 0 ? std::string() : peer_.address().to_string();
    HandshakeSlots::Outcome outcome{};
    slot_ = counters_->tls_slots.admit(AddressLimits::key_of(address), *this, outcome);
    if (outcome != HandshakeSlots::Outcome::admitted) {
      if (const auto n = counters_->tls_slots_log.due()) {
        spdlog::warn(
            "limits: {} TLS handshakes in progress on this thread (--max-tls-handshakes): {} connection(s) "
            "closed, from the address holding the most; last newcomer {} {}",
            ctx_->options->max_tls_handshakes, *n, address,
            outcome == HandshakeSlots::Outcome::refused ? "refused" : "admitted");
      }
    }
    if (!slot_) {
      ctx_->stats->tls_handshakes_rejected.inc();
      closing_ = true;
      beast::get_lowest_layer(stream_).close();
      return;
    }
    // One deadline from the connection's first byte to the end of the handshake, however the
    // peer paces its bytes (a slow ClientHello, or one that stops reading our answer).
    beast::get_lowest_layer(stream_).expires_at(deadline_);
    // The detector already consumed the first bytes: hand them to the handshake.
    stream_.async_handshake(
        asio::ssl::stream_base::server, buffer_.cdata(),
        [self = shared_from_this(), this](boost::system::error_code ec, std::size_t used = 0) {
          on_handshake(ec, used);
        });
  }

  bool may_upgrade() const { return true; }
  bool accept_request(const HttpRequest&, const std::shared_ptr<Exchange>&) { return true; }

  detail::UpgradedWebSocketPtr make_ws(BeastRequest&& req, HttpRequest&& hreq) {
    return detail::make_websocket(std::move(stream_), std::move(req), std::move(hreq), ctx_, shard_);
  }

  // TLS has no half-close short of close_notify: the answer carries "Connection: close" and
  // its length, and the drain reads application data until the peer is done.
  void half_close() {}

  void do_shutdown() {
    closing_ = true;
    if (slot_) return;  // still in the handshake
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(3));
    stream_.async_shutdown([self = shared_from_this(), this](boost::system::error_code) {
      beast::get_lowest_layer(stream_).close();
    });
  }

 private:
  // Another address's handshake took this one's slot (HandshakeSlots): abandon it.
  void slot_taken() override {
    slot_taken_ = true;
    ctx_->stats->tls_handshakes_rejected.inc();
    closing_ = true;
    beast::get_lowest_layer(stream_).close();  // the handshake ends with operation_aborted
  }

  void on_handshake(boost::system::error_code ec, std::size_t used) {
    slot_.release();
    if (ec) {
      if (!slot_taken_) ctx_->stats->tls_handshake_failures.inc();
      spdlog::debug("tls: handshake failed: {}", ec.message());
      closing_ = true;
      beast::get_lowest_layer(stream_).close();
      return;
    }
    ctx_->stats->tls_handshakes.inc();
    buffer_.consume(used);
    start_reading();
  }

  TlsStream stream_;  // keeps the context set this connection started with
  std::shared_ptr<ShardCounters> counters_;
  std::chrono::steady_clock::time_point deadline_;
  HandshakeSlots::Ticket slot_;  // held from run() to the end of the handshake
  bool slot_taken_ = false;
};

// Reads the first bytes of a connection on a TLS port to tell TLS from plain HTTP.
class DetectSession : public std::enable_shared_from_this<DetectSession> {
 public:
  DetectSession(ShardSocket&& socket, const ConnContext& ctx, std::size_t shard,
                std::shared_ptr<ShardCounters> counters, const tcp::endpoint& peer)
      : stream_(std::move(socket)), ctx_(ctx), shard_(shard), counters_(std::move(counters)), peer_(peer) {}

  void run() {
    deadline_ = std::chrono::steady_clock::now() + ctx_->options->tls_handshake_timeout;
    stream_.expires_at(deadline_);
    beast::async_detect_ssl(stream_, buffer_,
                            [self = shared_from_this()](boost::system::error_code ec, bool is_tls) {
                              self->on_detect(ec, is_tls);
                            });
  }

 private:
  void on_detect(boost::system::error_code ec, bool is_tls) {
    if (ec) {
      stream_.close();
      return;
    }
    if (is_tls) {
      auto session =
          std::make_shared<TlsHttpSession>(stream_.release_socket(), ctx_->options->tls->current(), ctx_,
                                           shard_, std::move(buffer_), counters_, deadline_, peer_);
      session->run();
    } else {
      auto session = std::make_shared<PlainHttpSession>(stream_.release_socket(), ctx_, shard_,
                                                        std::move(buffer_), peer_);
      session->start_reading();
    }
  }

  PlainStream stream_;
  beast::flat_buffer buffer_;
  ConnContext ctx_;
  std::size_t shard_;
  std::shared_ptr<ShardCounters> counters_;
  std::chrono::steady_clock::time_point deadline_{};
  tcp::endpoint peer_;
};

// One per shard, all of them run by the server's accept thread (Server::Impl): a connection is
// accepted (and admitted or refused) there, then handed to its shard, which owns it from then on.
// Why not accept on the shard: Asio allocates each accepted socket's reactor state on the thread
// that accepts it and never frees it (the reactor keeps a pool of them for reuse). Accepted on a
// shard, those ~200-byte records land among the shard's connection objects, and after a burst of
// connections the ones left in the pool pin the pages the burst freed (measured: 5 000 connections
// come and gone left 14-17 MB of RSS that malloc_trim could not give back, ~6 KB of free heap
// between each two records). On the accept thread they sit with one another, in its own arena.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& accept_io, asio::io_context& io, const ConnContext& ctx, std::size_t shard)
      : accept_io_(accept_io), io_(io), acceptor_(accept_io), retry_(accept_io), ctx_(ctx), shard_(shard) {}

  void open(const tcp::endpoint& ep) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void start() {
    asio::post(accept_io_, [self = shared_from_this()] { self->do_accept(); });
  }
  void stop() {
    asio::post(accept_io_, [self = shared_from_this()] {
      boost::system::error_code ec;
      self->stopped_ = true;
      self->retry_.cancel();
      self->acceptor_.close(ec);
    });
  }

 private:
  void do_accept() {
    if (stopped_) return;
    // accept() fills in the peer's address: no getpeername() for it later (peer_ is written by
    // the one accept in flight and read in its handler).
    acceptor_.async_accept(io_, peer_,
                           [self = shared_from_this()](boost::system::error_code ec, ShardSocket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(boost::system::error_code ec, ShardSocket socket) {
    if (stopped_) return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      if (ec != asio::error::operation_aborted) {
        spdlog::warn("accept failed: {}", ec.message());
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([self = shared_from_this()](boost::system::error_code e) {
          if (!e) self->do_accept();
        });
      }
      return;
    }
    ctx_->stats->accepted.inc();
    ConnContext ctx = ctx_;
    if (admit(socket, ctx)) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      // Plain: non-blocking from the start, for Asio (its first operation would set it, and the
      // WebSocket that reads and writes the socket at once sets it too: one ioctl, not two).
      if (!ctx->options->tls) socket.non_blocking(true, ignored);
      // The socket belongs to the shard's io_context already (accepted for it): from here on it is
      // touched on the shard's thread only.
      asio::post(io_, [self = shared_from_this(), socket = std::move(socket), ctx = std::move(ctx),
                       peer = peer_]() mutable { self->start_session(std::move(socket), ctx, peer); });
    }
    do_accept();
  }

  // On the shard's thread.
  void start_session(ShardSocket socket, const ConnContext& ctx, const tcp::endpoint& peer) {
    if (ctx->options->tls) {
      std::make_shared<DetectSession>(std::move(socket), ctx, shard_, counters_, peer)->run();
    } else {
      std::make_shared<PlainHttpSession>(std::move(socket), ctx, shard_, beast::flat_buffer{}, peer)
          ->start_reading();
    }
  }

  // Takes the connection's place in the budget, or closes it at once (no byte read, no answer:
  // what a flood costs is an accept and a close).
  bool admit(ShardSocket& socket, ConnContext& ctx) {
    auto& limits = ctx->options->limits;
    if (!limits || !limits->limits_connections()) return true;
    boost::system::error_code ec;
    // An IPv4-mapped peer counts as its IPv4 address (parse_ip() normalises).
    const std::string peer = peer_.address().to_string();
    Refusal why = Refusal::none;
    ctx.slot = limits->open_connection(peer, why);
    if (ctx.slot) return true;
    if (const auto n = trip_log_[static_cast<std::size_t>(why)].due()) {
      spdlog::warn("limits: {} ({}): closed {} connection(s) at accept, last from {}", refusal_message(why),
                   why == Refusal::connections          ? "--max-connections"
                   : why == Refusal::address_table_full ? "--max-client-addresses"
                                                        : "--max-connections-per-address",
                   *n, peer);
    }
    socket.close(ec);
    return false;
  }

  asio::io_context& accept_io_;  // the accept thread's: acceptor_, retry_, trip_log_, stopped_
  asio::io_context& io_;         // the shard's: the accepted connections
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  ConnContext ctx_;
  std::size_t shard_;
  std::shared_ptr<ShardCounters> counters_ =
      std::make_shared<ShardCounters>(ctx_->options->max_tls_handshakes);
  std::array<core::TripLog, kRefusalKinds> trip_log_;
  tcp::endpoint peer_;  // the peer of the connection being accepted
  bool stopped_ = false;
};

}  // namespace

struct Server::Impl {
  ShardPool& pool;
  ServerOptions options;
  HttpHandler& handler;
  ServerStats stats;
  // The accept thread (see Listener): started by listen(), stopped and joined by ~Impl before the
  // listeners go.
  asio::io_context accept_io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> accept_work;
  std::thread accept_thread;
  std::vector<std::shared_ptr<Listener>> listeners;

  ~Impl() {
    accept_work.reset();
    accept_io.stop();
    if (accept_thread.joinable()) accept_thread.join();
  }

  Impl(ShardPool& p, ServerOptions o, HttpHandler& h) : pool(p), options(std::move(o)), handler(h) {
    if (options.metrics) stats = ServerStats(*options.metrics);
  }
  std::vector<std::unique_ptr<ShardContext>> shard_contexts;  // one per shard: every connection points at it
  ConnContext context(std::size_t shard) {
    while (shard_contexts.size() <= shard) {
      auto c = std::make_unique<ShardContext>(ShardContext{&pool, &options, &handler, &stats});
      if (const auto& pmd = options.per_message_deflate; pmd.enabled)
        c->deflate = std::make_shared<ws::DeflateShard>(pmd.mem_level, pmd.level, stats.ws_zlib_shards);
      shard_contexts.push_back(std::move(c));
    }
    return ConnContext{shard_contexts[shard].get(), nullptr};
  }
};

Server::Server(ShardPool& pool, ServerOptions options, HttpHandler& handler)
    : impl_(std::make_unique<Impl>(pool, std::move(options), handler)) {}

Server::~Server() = default;

std::uint16_t Server::listen() {
  boost::system::error_code aec;
  const auto address = asio::ip::make_address(impl_->options.host, aec);
  if (aec) throw std::system_error(aec, "invalid listen address " + impl_->options.host);
  std::uint16_t port = impl_->options.port;
  if (port != 0) {
    // SO_REUSEPORT would let a second server share a busy port (splitting its clients):
    // probe with a plain bind first so that "address in use" is reported.
    asio::io_context probe_io;
    tcp::acceptor probe(probe_io);
    boost::system::error_code ec;
    probe.open(address.is_v6() ? tcp::v6() : tcp::v4(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(tcp::endpoint(address, port), ec);
    if (ec)
      throw std::system_error(ec, "cannot listen on " + impl_->options.host + ":" + std::to_string(port));
  }
  for (std::size_t i = 0; i < impl_->pool.size(); ++i) {
    auto l = std::make_shared<Listener>(impl_->accept_io, impl_->pool.context(i), impl_->context(i), i);
    try {
      l->open(tcp::endpoint(address, port));
    } catch (const boost::system::system_error& e) {
      throw std::system_error(e.code(),
                              "cannot listen on " + impl_->options.host + ":" + std::to_string(port));
    }
    if (port == 0) port = l->port();
    impl_->listeners.push_back(std::move(l));
  }
  for (auto& l : impl_->listeners) l->start();
  if (!impl_->accept_thread.joinable()) {
    impl_->accept_work.emplace(impl_->accept_io.get_executor());
    impl_->accept_thread = std::thread([io = &impl_->accept_io] { io->run(); });
  }
  return port;
}

void Server::stop_accepting() {
  for (auto& l : impl_->listeners) l->stop();
}

const ServerStats& Server::stats() const noexcept {
  return impl_->stats;
}

}  // namespace socketio::net
