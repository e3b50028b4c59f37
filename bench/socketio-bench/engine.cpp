// The load engine of socketio-bench: N worker threads, one io_context each, many connections per
// thread. The WebSocket framing is done here by hand rather than with beast::websocket so that the
// generator stays cheap: every frame produced while handling one read (or one tick) is appended
// to one buffer and goes out in one write, and one read parses every frame it brought. Engine.IO
// v4 and Socket.IO v5 are spoken on top (open, ping/pong, CONNECT, events, acks), namespace "/".
// With --deflate the client offers permessage-deflate (RFC 7692) and inflates what comes with
// RSV1: all of it when the server keeps its context (the window must follow), else only the first
// bytes, where the fanout's message id is (what a real client would pay is not the point here:
// the server's work and the bytes on the wire are).
//
// Threads: each Worker and its connections belong to one thread; the main thread only touches
// the Control atomics and the workers' atomic progress counters until the workers have joined.
#include "bench.hpp"
#include "msgpack_wire.hpp"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <zlib.h>

#include <atomic>
#include <bit>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

namespace bench {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

// CLOCK_REALTIME minus CLOCK_MONOTONIC, to put the kernel's receive timestamps (realtime) on
// now_ns()'s clock. Taken once: a run is too short for the difference to drift measurably.
std::int64_t realtime_offset_ns() {
  static const std::int64_t offset = [] {
    timespec rt{}, mono{};
    ::clock_gettime(CLOCK_MONOTONIC, &mono);
    ::clock_gettime(CLOCK_REALTIME, &rt);
    return (static_cast<std::int64_t>(rt.tv_sec) - mono.tv_sec) * 1000000000LL + (rt.tv_nsec - mono.tv_nsec);
  }();
  return offset;
}

constexpr std::uint64_t kNever = ~std::uint64_t{0};
constexpr std::size_t kMaxFrame = 64u << 20;

// Shared between the main thread and the workers.
struct Control {
  std::atomic<int> phase{0};  // 0 connecting, 1 running, 2 draining (no new sends), 3 stop
  std::atomic<std::uint64_t> m_start{kNever};
  std::atomic<std::uint64_t> m_end{kNever};

  bool in_window(std::uint64_t t) const noexcept {
    return t >= m_start.load(std::memory_order_relaxed) && t < m_end.load(std::memory_order_relaxed);
  }
};

enum class Fail { connect, tls, upgrade, sio, dropped };

class Worker;

// One connection, client (generator) or server (sink) side. The transport (plain or TLS) is
// supplied by ConnT; the framing and the protocol are here.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Worker& w, std::uint32_t index, bool server, std::size_t rbuf_size)
      : w_(w), index_(index), server_(server), rng_(index * 2654435761u + 12345u) {
    rbuf_.resize(rbuf_size);
  }
  virtual ~Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  virtual void start_client(const tcp::endpoint& target, const std::optional<asio::ip::address>& src) = 0;
  virtual void start_server() = 0;
  virtual void close_now(bool reset) = 0;
  virtual void keep_session() {}  // handshake --resume: hand the TLS session to the worker

  void send_text(std::string_view payload) { append_frame(0x1, payload); }
  void send_binary(std::string_view payload) { append_frame(0x2, payload); }
  void send_raw(std::string_view framed) { out_.append(framed); }
  void flush() {
    if (writing_ || out_.empty() || closed_) return;
    wbuf_.clear();
    std::swap(out_, wbuf_);
    writing_ = true;
    do_write();
  }
  void fail(Fail why);

  std::uint32_t index() const noexcept { return index_; }
  bool closed() const noexcept { return closed_; }
  // When what is being handled reached this socket: the kernel's timestamp with
  // --rx-timestamps, else now.
  std::uint64_t rx_time() const noexcept { return rx_ns_ != 0 ? rx_ns_ : now_ns(); }

  // Scenario state, owned by the worker's thread.
  bool sio_connected = false;
  bool joined = false;
  std::uint64_t t0 = 0;                 // connection start (handshake latency)
  std::uint64_t next_id = 1;            // next ack id (0 is the join)
  std::uint32_t inflight = 0;           // echo: unanswered requests; fanout publisher: own copies pending
  std::vector<std::uint64_t> ts;        // echo: send time per ack id (ring)
  std::uint64_t pub_seq = 0;            // fanout publisher: messages published
  std::vector<std::uint64_t> next_seq;  // fanout receiver: next sequence expected per publisher
  std::uint64_t received = 0;           // fanout receiver: all deliveries

 protected:
  virtual void do_write() = 0;
  virtual void do_read() = 0;

  void transport_ready();  // client: TCP (+TLS) up, send the upgrade
  void on_read(const error_code& ec, std::size_t n);
  void on_sio_connect();
  void on_sio_msgpack(std::string_view bytes);  // --parser msgpack: one Socket.IO packet
  void on_write(const error_code& ec) {
    writing_ = false;
    if (ec) {
      fail(Fail::dropped);
      return;
    }
    flush();
  }
  char* read_ptr() { return rbuf_.data() + rend_; }
  std::size_t read_room() const { return rbuf_.size() - rend_; }
  void prepare_read() {
    if (rbeg_ > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + rbeg_, rend_ - rbeg_);
      rend_ -= rbeg_;
      rbeg_ = 0;
    }
    const std::size_t want = std::max(need_, rend_ + 256);
    if (rbuf_.size() < want) rbuf_.resize(std::max(want, rbuf_.size() * 2));
  }

  Worker& w_;
  std::uint32_t index_;
  bool server_;
  bool rx_ts_ = false;       // --rx-timestamps on this (plain, client) connection
  std::uint64_t rx_ns_ = 0;  // --rx-timestamps: the last read's kernel timestamp (now_ns() clock)
  bool closed_ = false;
  bool writing_ = false;
  std::string out_, wbuf_;

 private:
  void append_frame(std::uint8_t op, std::string_view payload);
  void process();
  bool process_http();
  void on_frame(std::uint8_t op, std::string_view payload);
  void on_eio(std::string_view p);

  std::string_view inflate(std::string_view payload);
  void parse_agreement(std::string_view head);

  enum class St { http, ws } st_ = St::http;
  bool eio_open_ = false;
  // permessage-deflate, when the server accepted the offer.
  struct ZFree {
    void operator()(z_stream* z) const {
      inflateEnd(z);
      delete z;
    }
  };
  bool deflate_ = false, deflate_takeover_ = false;
  int deflate_bits_ = 15;
  std::unique_ptr<z_stream, ZFree> z_;
  std::string inflated_;
  std::uint32_t rng_;
  std::vector<char> rbuf_;
  std::size_t rbeg_ = 0, rend_ = 0, need_ = 0;
};

template <bool Tls>
class ConnT final : public Conn {
 public:
  using Stream = std::conditional_t<Tls, ssl::stream<tcp::socket>, tcp::socket>;

  ConnT(Worker& w, std::uint32_t index, bool server, std::size_t rbuf_size, asio::io_context& ioc,
        ssl::context* ctx)
      : Conn(w, index, server, rbuf_size), s_(make_stream(ioc, ctx)) {}
  ConnT(Worker& w, std::uint32_t index, std::size_t rbuf_size, tcp::socket&& sock) requires(!Tls)
      : Conn(w, index, true, rbuf_size), s_(std::move(sock)) {}

  void start_client(const tcp::endpoint& target, const std::optional<asio::ip::address>& src) override;
  void start_server() override {
    error_code ec;
    lowest().set_option(tcp::no_delay(true), ec);
    do_read();
  }
  void keep_session() override;
  void close_now(bool reset) override {
    closed_ = true;
    error_code ec;
    if (reset) lowest().set_option(asio::socket_base::linger(true, 0), ec);
    lowest().close(ec);
  }

 private:
  static Stream make_stream(asio::io_context& ioc, ssl::context* ctx) {
    if constexpr (Tls)
      return Stream(ioc, *ctx);
    else
      return Stream(ioc);
  }
  tcp::socket& lowest() {
    if constexpr (Tls)
      return s_.next_layer();
    else
      return s_;
  }
  void do_write() override {
    asio::async_write(s_, asio::buffer(wbuf_),
                      [self = shared_from_this()](const error_code& ec, std::size_t) {
                        static_cast<ConnT&>(*self).on_write(ec);
                      });
  }
  void do_read() override {
    prepare_read();
    if constexpr (!Tls) {
      if (rx_ts_) {
        s_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
          static_cast<ConnT&>(*self).read_timestamped(ec);
        });
        return;
      }
    }
    s_.async_read_some(asio::buffer(read_ptr(), read_room()),
                       [self = shared_from_this()](const error_code& ec, std::size_t n) {
                         static_cast<ConnT&>(*self).on_read(ec, n);
                       });
  }

  // --rx-timestamps: one recvmsg() with the kernel's receive time of the last segment read.
  void read_timestamped(const error_code& wait_ec) {
    if (closed_) return;
    if (wait_ec) return on_read(wait_ec, 0);
    iovec iov{read_ptr(), read_room()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(lowest().native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return do_read();
    if (n <= 0)
      return on_read(
          n == 0 ? error_code(asio::error::eof) : error_code(errno, boost::system::system_category()), 0);
    rx_ns_ = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        const std::int64_t rt = static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
        rx_ns_ = static_cast<std::uint64_t>(rt - realtime_offset_ns());
      }
    on_read(error_code(), static_cast<std::size_t>(n));
  }

  Stream s_;
};

// ---------------------------------------------------------------------------------------------
// A worker: one thread, one io_context, a share of the connections, the scenario logic.
class Worker {
 public:
  Worker(const Options& o, Control& ctl, unsigned id, ssl::context* tls, tcp::endpoint target)
      : o_(o),
        ctl_(ctl),
        id_(id),
        tls_(tls),
        target_(target),
        ticker_(ioc_),
        pacer_(ioc_),
        gaps_(1234567u + id) {
    // Connections of this process with local index % threads == id.
    for (std::uint32_t li = id; li < o.conns; li += o.threads) mine_.push_back(o.conn_base + li);
    const double share = o.threads > 0 ? 1.0 / o.threads : 1.0;
    connect_rate_ = o.connect_rate * share;
    connect_cap_ = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(o.connect_concurrency * share));
    if (o.scenario == Scenario::fanout) {
      for (std::uint32_t g : mine_)
        if (g < o.publishers) ++local_pubs_;
      rate_ = o.publishers > 0 ? o.rate * local_pubs_ / o.publishers : 0;
    } else {
      rate_ = o.rate * share;
    }
    if (o.payload == "json")
      make_json_payloads();
    else
      payload_.assign(o.size, 'x');
    rbuf_size_ = (o.scenario == Scenario::idle || o.scenario == Scenario::handshake) ? 1024 : 16384;
  }

  void run() {
    // Paced sends wake this thread every 1/rate: the default 50 us timer slack would bunch them.
    if (o_.arrivals != "tick") ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    last_tick_ = now_ns();
    tick();
    if (o_.spin) {
      while (!ioc_.stopped()) ioc_.poll();  // poll() stops the context once no work is left
    } else {
      ioc_.run();
    }
  }

  asio::io_context& ioc() { return ioc_; }
  Result& result() { return r_; }
  const std::vector<std::shared_ptr<Conn>>& conns() const { return conns_; }

  // Progress, read by the main thread.
  std::atomic<std::uint64_t> a_settled{0};  // connections up or failed
  std::atomic<std::uint64_t> a_joined{0};
  std::atomic<std::uint64_t> a_done{0};       // done in the window
  std::atomic<std::uint64_t> a_rx{0};         // every ack/delivery, for the drain
  std::atomic<std::uint64_t> a_published{0};  // fanout: every publish, for the drain

  // --- callbacks from the connections
  void on_sio_connected(Conn& c);
  void on_tls_done(Conn& c);
  void on_ack(Conn& c, std::uint64_t id);
  void on_event(Conn& c, std::string_view body);
  void on_chat_text(Conn& c, std::string_view text);  // fanout: "pub:seq:sent:payload"
  void on_ping() { ++r_.pings; }
  void on_deflate_agreed() { ++r_.deflate_agreed; }
  void on_compressed() {
    if (ctl_.in_window(now_ns())) ++r_.compressed;
  }
  void on_bytes(std::size_t n) {
    if (ctl_.in_window(now_ns())) r_.wire_bytes += n;
  }
  void on_fail(Conn& c, Fail why);
  void on_sink_message(Conn& c, std::string_view p);  // sink: one Engine.IO text packet
  void on_sink_closed(Conn& c);

  bool tls() const { return tls_ != nullptr; }
  const Options& opts() const { return o_; }

  // handshake --resume: the last resumable session, offered by the next connection.
  SSL_SESSION* session() const { return session_.get(); }
  void keep_session(SSL* ssl) {
    if (SSL_session_reused(ssl) == 1) ++resumed_;
    ++tls_done_;
    // A copy: the connection is reset without close_notify, and OpenSSL then marks the
    // connection's own session object as not resumable.
    SSL_SESSION* s = SSL_get0_session(ssl);
    if (s != nullptr && SSL_SESSION_is_resumable(s) == 1)
      if (SSL_SESSION* copy = SSL_SESSION_dup(s)) session_.reset(copy);
  }
  std::uint64_t resumed() const { return resumed_; }
  std::uint64_t tls_done() const { return tls_done_; }

  // --- sink
  void start_sink(tcp::acceptor& acc) {
    acceptor_ = &acc;
    accept_next();
  }

 private:
  void tick();
  void pace();
  bool send_paced(std::uint64_t intended);
  std::uint64_t next_gap_ns();
  void launch(std::uint32_t global_index);
  void launch_more(double dt);
  void send_echo(Conn& c, std::uint64_t intended = 0);
  void publish(Conn& c, std::uint64_t intended = 0);
  void make_json_payloads();
  void accept_next();
  void settle() { a_settled.store(++settled_, std::memory_order_relaxed); }
  std::optional<asio::ip::address> source_for(std::uint32_t global_index) const;

  const Options& o_;
  Control& ctl_;
  unsigned id_;
  ssl::context* tls_;
  struct SessionFree {
    void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
  };
  std::unique_ptr<SSL_SESSION, SessionFree> session_;
  std::uint64_t resumed_ = 0, tls_done_ = 0;
  tcp::endpoint target_;
  asio::io_context ioc_{1};
  asio::steady_timer ticker_;
  asio::steady_timer pacer_;  // --arrivals even|poisson: the next send's own time
  bool pacing_ = false;
  std::uint64_t next_send_ns_ = 0;
  std::mt19937_64 gaps_;
  Result r_;
  std::vector<std::uint32_t> mine_;
  std::size_t launched_ = 0;
  std::uint32_t pending_ = 0;  // connections being set up
  std::uint64_t settled_ = 0, joined_ = 0, done_ = 0, rx_ = 0;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::vector<Conn*> pubs_;
  std::uint32_t local_pubs_ = 0;
  double connect_rate_ = 0, connect_tokens_ = 0;
  std::uint32_t connect_cap_ = 1;
  double rate_ = 0, send_tokens_ = 0;
  std::size_t rr_ = 0;
  bool running_ = false, stopping_ = false;
  std::uint64_t last_tick_ = 0;
  std::string payload_, scratch_;
  std::vector<std::string> json_payloads_;  // --payload json: the rest of each event object
  std::size_t rbuf_size_ = 16384;
  std::uint64_t hs_seq_ = 0;
  // sink
  tcp::acceptor* acceptor_ = nullptr;
  std::vector<Conn*> room_;
  std::vector<std::shared_ptr<Conn>> sink_conns_;
  std::uint32_t sink_ids_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Conn implementation

void Conn::fail(Fail why) {
  if (closed_) return;
  close_now(false);
  if (server_)
    w_.on_sink_closed(*this);
  else
    w_.on_fail(*this, why);
}

template <bool Tls>
void ConnT<Tls>::start_client(const tcp::endpoint& target, const std::optional<asio::ip::address>& src) {
  auto& sock = lowest();
  error_code ec;
  sock.open(target.protocol(), ec);
  if (!ec && src) {
    // Let connect() pick the port per 4-tuple, not bind(): many source addresses, one port range each.
    sock.set_option(asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>(true), ec);
    if (!ec) sock.bind(tcp::endpoint(*src, 0), ec);
  }
  if (ec) {
    asio::post(sock.get_executor(), [self = shared_from_this()] { self->fail(Fail::connect); });
    return;
  }
  sock.async_connect(target, [self = shared_from_this()](const error_code& ec) {
    auto& me = static_cast<ConnT&>(*self);
    if (me.closed_) return;
    if (ec) {
      me.fail(Fail::connect);
      return;
    }
    error_code ignored;
    me.lowest().set_option(tcp::no_delay(true), ignored);
    if (me.w_.opts().rx_timestamps && !Tls) {
      const int on = 1;
      if (::setsockopt(me.lowest().native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
        me.fail(Fail::connect);
        return;
      }
      me.rx_ts_ = true;
    }
    if constexpr (Tls) {
      if (me.w_.opts().resume && me.w_.session() != nullptr)
        SSL_set_session(me.s_.native_handle(), me.w_.session());
      me.s_.async_handshake(ssl::stream_base::client, [self](const error_code& ec) {
        auto& me = static_cast<ConnT&>(*self);
        if (me.closed_) return;
        if (ec) {
          me.fail(Fail::tls);
          return;
        }
        if (me.w_.opts().stop_at == "tls") {
          me.w_.on_tls_done(me);
          return;
        }
        me.transport_ready();
      });
    } else {
      me.transport_ready();
    }
  });
}

void Conn::transport_ready() {
  const Options& o = w_.opts();
  out_ += "GET ";
  out_ += o.path;
  out_ += "?EIO=4&transport=websocket HTTP/1.1\r\nHost: ";
  out_ += o.host;
  out_ += ':';
  out_ += std::to_string(o.port);
  out_ +=
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n";
  // What Chromium and the ws client (socket.io-client in Node) offer.
  if (o.deflate) out_ += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  out_ += "\r\n";
  flush();
  do_read();
}

void Conn::append_frame(std::uint8_t op, std::string_view payload) {
  const bool mask = !server_;
  const std::size_t len = payload.size();
  char hdr[14];
  std::size_t hl = 0;
  hdr[hl++] = static_cast<char>(0x80 | op);
  const std::uint8_t m = mask ? 0x80 : 0;
  if (len < 126) {
    hdr[hl++] = static_cast<char>(m | len);
  } else if (len < 65536) {
    hdr[hl++] = static_cast<char>(m | 126);
    hdr[hl++] = static_cast<char>(len >> 8);
    hdr[hl++] = static_cast<char>(len & 0xff);
  } else {
    hdr[hl++] = static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i)
      hdr[hl++] = static_cast<char>((static_cast<std::uint64_t>(len) >> (8 * i)) & 0xff);
  }
  if (!mask) {
    out_.append(hdr, hl);
    out_.append(payload);
    return;
  }
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 17;
  rng_ ^= rng_ << 5;
  unsigned char key[4];
  std::memcpy(key, &rng_, 4);
  std::memcpy(hdr + hl, key, 4);
  hl += 4;
  out_.append(hdr, hl);
  const std::size_t base = out_.size();
  out_.append(payload);
  char* p = out_.data() + base;
  for (std::size_t i = 0; i < len; ++i) p[i] = static_cast<char>(p[i] ^ key[i & 3]);
}

void Conn::on_read(const error_code& ec, std::size_t n) {
  if (closed_) return;
  if (ec) {
    fail(st_ == St::http ? Fail::upgrade : (sio_connected || server_ ? Fail::dropped : Fail::sio));
    return;
  }
  rend_ += n;
  w_.on_bytes(n);
  process();
  if (closed_) return;
  flush();
  do_read();
}

bool Conn::process_http() {
  const std::string_view avail(rbuf_.data() + rbeg_, rend_ - rbeg_);
  const std::size_t end = avail.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (avail.size() > 16384) fail(Fail::upgrade);
    return false;
  }
  const std::string_view head = avail.substr(0, end + 4);
  rbeg_ += end + 4;
  if (!server_) {
    if (head.substr(0, 12) != "HTTP/1.1 101") {
      fail(Fail::upgrade);
      return false;
    }
    if (w_.opts().deflate) parse_agreement(head);
    st_ = St::ws;
    return true;
  }
  // Sink: answer the upgrade and open the Engine.IO session.
  std::string key;
  for (std::size_t pos = 0; pos < head.size();) {
    const std::size_t eol = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol == std::string_view::npos ? head.size() : eol + 2;
    constexpr std::string_view kKey = "sec-websocket-key:";
    if (line.size() > kKey.size()) {
      std::string lower(line.substr(0, kKey.size()));
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower == kKey) {
        std::string_view v = line.substr(kKey.size());
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        key = v;
      }
    }
  }
  if (key.empty()) {
    fail(Fail::upgrade);
    return false;
  }
  key += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  unsigned char accept[64];
  const int alen = EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);
  out_ +=
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
      "Upgrade\r\nSec-WebSocket-Accept: ";
  out_.append(reinterpret_cast<const char*>(accept), static_cast<std::size_t>(alen));
  out_ += "\r\n\r\n";
  st_ = St::ws;
  send_text("0{\"sid\":\"sink" + std::to_string(index_) +
            "\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}");
  return true;
}

// The server's Sec-WebSocket-Extensions answer: whether it keeps its context, and its window.
void Conn::parse_agreement(std::string_view head) {
  std::string lower(head);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::size_t at = lower.find("\r\nsec-websocket-extensions:");
  if (at == std::string::npos) return;
  const std::size_t eol = lower.find("\r\n", at + 2);
  const std::string_view v = std::string_view(lower).substr(at, eol - at);
  if (v.find("permessage-deflate") == std::string_view::npos) return;
  deflate_ = true;
  deflate_takeover_ = v.find("server_no_context_takeover") == std::string_view::npos;
  if (const std::size_t b = v.find("server_max_window_bits="); b != std::string_view::npos)
    deflate_bits_ = std::atoi(std::string(v.substr(b + 23, 2)).c_str());
  w_.on_deflate_agreed();
}

// A compressed message's payload, inflated (all of it with context takeover; else its start).
std::string_view Conn::inflate(std::string_view payload) {
  constexpr std::size_t kPeek = 512;
  static const unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};
  if (!z_) {
    z_.reset(new z_stream{});
    if (inflateInit2(z_.get(), -deflate_bits_) != Z_OK) {
      z_.reset();
      return {};
    }
  }
  z_stream& z = *z_;
  std::size_t written = 0;
  // MessagePack packets are decoded whole: no peeking at their start.
  const bool peek = !deflate_takeover_ && !w_.opts().msgpack;
  inflated_.resize(peek ? kPeek : std::max<std::size_t>(4096, payload.size() * 4));
  const std::string_view pieces[2] = {payload, std::string_view(reinterpret_cast<const char*>(kTail), 4)};
  bool full = false;
  for (const auto piece : pieces) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data()));
    z.avail_in = static_cast<uInt>(piece.size());
    while (z.avail_in > 0 && !full) {
      if (written == inflated_.size()) {
        if (peek) {
          full = true;  // the start is all we read
          break;
        }
        inflated_.resize(inflated_.size() * 2);
      }
      z.next_out = reinterpret_cast<Bytef*>(inflated_.data() + written);
      z.avail_out = static_cast<uInt>(inflated_.size() - written);
      const uInt before = z.avail_out;
      const int rc = ::inflate(&z, Z_SYNC_FLUSH);
      written += before - z.avail_out;
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        fail(Fail::dropped);
        return {};
      }
      if (rc == Z_BUF_ERROR && z.avail_out > 0) break;
    }
    if (full) break;
  }
  if (!deflate_takeover_) inflateReset(&z);
  return std::string_view(inflated_.data(), written);
}

void Conn::process() {
  if (st_ == St::http && !process_http()) return;
  need_ = 0;
  while (!closed_ && rend_ - rbeg_ >= 2) {
    auto* p = reinterpret_cast<unsigned char*>(rbuf_.data() + rbeg_);
    const std::size_t avail = rend_ - rbeg_;
    const std::uint8_t op = p[0] & 0x0f;
    const bool compressed = (p[0] & 0x40) != 0;
    const bool masked = (p[1] & 0x80) != 0;
    std::uint64_t len = p[1] & 0x7f;
    std::size_t hl = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (std::uint64_t{p[2]} << 8) | p[3];
      hl = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      hl = 10;
    }
    if (masked) hl += 4;
    if (len > kMaxFrame) {
      fail(Fail::dropped);
      return;
    }
    if (avail < hl + len) {
      need_ = hl + len;
      break;
    }
    char* data = reinterpret_cast<char*>(p + hl);
    if (masked) {
      const unsigned char* key = p + hl - 4;
      for (std::size_t i = 0; i < len; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 3]);
    }
    rbeg_ += hl + len;
    if (compressed && deflate_) {
      w_.on_compressed();
      const std::string_view message = inflate(std::string_view(data, len));
      if (closed_) return;
      on_frame(op, message);
    } else if (compressed) {
      fail(Fail::dropped);  // RSV1 without an agreement
      return;
    } else {
      on_frame(op, std::string_view(data, len));
    }
  }
  if (rbeg_ == rend_) rbeg_ = rend_ = 0;
}

void Conn::on_frame(std::uint8_t op, std::string_view payload) {
  switch (op) {
    case 0x1:
      if (server_)
        w_.on_sink_message(*this, payload);
      else
        on_eio(payload);
      return;
    case 0x2:
      if (!server_ && w_.opts().msgpack) on_sio_msgpack(payload);
      return;  // otherwise binary is not used by these scenarios
    case 0x8:
      fail(Fail::dropped);
      return;
    case 0x9:
      append_frame(0xA, payload);
      return;
    case 0xA:
      return;
    default:
      fail(Fail::dropped);  // fragmented messages are not expected from the servers
      return;
  }
}

void Conn::on_sio_connect() {
  if (!sio_connected) {
    sio_connected = true;
    w_.on_sio_connected(*this);
  }
}

void Conn::on_sio_msgpack(std::string_view bytes) {
  bench::msgpack::Packet p;
  if (!bench::msgpack::read(bytes, p)) {
    fail(Fail::sio);
    return;
  }
  switch (p.type) {
    case 0:
      on_sio_connect();
      return;
    case 3:
      if (p.id) w_.on_ack(*this, *p.id);
      return;
    case 2:
      if (p.event == "chat message" && p.text.data()) w_.on_chat_text(*this, p.text);
      return;
    case 4:
      fail(Fail::sio);
      return;
    case 1:
      fail(Fail::dropped);
      return;
    default:
      return;
  }
}

std::uint64_t parse_u64(std::string_view& s) {
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  (void)ec;
  s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
  return v;
}

void Conn::on_eio(std::string_view p) {
  if (p.empty()) return;
  switch (p[0]) {
    case '0':
      if (!eio_open_) {
        eio_open_ = true;
        if (w_.opts().msgpack) {
          std::string connect;
          bench::msgpack::connect(connect);
          send_binary(connect);
        } else {
          send_text("40");
        }
      }
      return;
    case '2':
      w_.on_ping();
      send_text("3");
      return;
    case '1':
      fail(Fail::dropped);
      return;
    case '4':
      break;
    default:
      return;
  }
  if (p.size() < 2) return;
  std::string_view rest = p.substr(2);
  switch (p[1]) {
    case '0':
      on_sio_connect();
      return;
    case '3': {
      const std::uint64_t id = parse_u64(rest);
      w_.on_ack(*this, id);
      return;
    }
    case '2':
      w_.on_event(*this, rest);
      return;
    case '4':
      fail(Fail::sio);
      return;
    case '1':
      fail(Fail::dropped);
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Worker implementation

std::optional<asio::ip::address> Worker::source_for(std::uint32_t global_index) const {
  if (o_.src_addrs == 0 || !target_.address().is_v4() || !target_.address().is_loopback())
    return std::nullopt;
  const std::uint32_t k = global_index % o_.src_addrs;
  const asio::ip::address_v4::bytes_type b{127, static_cast<unsigned char>(1 + o_.proc_index % 254),
                                           static_cast<unsigned char>(k / 250),
                                           static_cast<unsigned char>(1 + k % 250)};
  return asio::ip::address(asio::ip::address_v4(b));
}

void Worker::launch(std::uint32_t global_index) {
  std::shared_ptr<Conn> c;
  if (tls_)
    c = std::make_shared<ConnT<true>>(*this, global_index, false, rbuf_size_, ioc_, tls_);
  else
    c = std::make_shared<ConnT<false>>(*this, global_index, false, rbuf_size_, ioc_, nullptr);
  c->t0 = now_ns();
  ++pending_;
  if (o_.scenario != Scenario::handshake) conns_.push_back(c);
  tcp::endpoint to = target_;
  // Cross-node fanout: the publishers talk to another node of the cluster than the receivers.
  if (o_.scenario == Scenario::fanout && o_.publish_port != 0 && global_index < o_.publishers)
    to.port(o_.publish_port);
  c->start_client(to, source_for(global_index));
}

void Worker::launch_more(double dt) {
  if (o_.scenario == Scenario::handshake) {
    if (ctl_.phase.load(std::memory_order_relaxed) >= 2) return;
    const std::uint32_t slots = std::max<std::uint32_t>(1, o_.concurrency / std::max(1u, o_.threads));
    while (pending_ < slots) launch(o_.conn_base + static_cast<std::uint32_t>(hs_seq_++ % 100000));
    return;
  }
  if (launched_ >= mine_.size()) return;
  connect_tokens_ = std::min(connect_tokens_ + connect_rate_ * dt, std::max(1.0, connect_rate_ * 0.01));
  while (launched_ < mine_.size() && pending_ < connect_cap_ && connect_tokens_ >= 1) {
    connect_tokens_ -= 1;
    launch(mine_[launched_++]);
  }
}

void Worker::tick() {
  const std::uint64_t now = now_ns();
  const double dt = static_cast<double>(now - last_tick_) / 1e9;
  last_tick_ = now;
  const int phase = ctl_.phase.load(std::memory_order_acquire);
  if (phase >= 3) {
    stopping_ = true;
    // Kept (closed) until the worker is destroyed: run_scenario reads the fanout counters.
    for (auto& c : conns_)
      if (!c->closed()) c->close_now(true);
    ioc_.stop();
    return;
  }
  launch_more(dt);
  if (phase == 1) {
    if (!running_) {
      running_ = true;
      for (auto& c : conns_)
        if (c->sio_connected && !c->closed() && c->index() < o_.publishers) pubs_.push_back(c.get());
      if (rate_ <= 0) {
        // Closed loop: fill every window; each answer sends the next request.
        if (o_.scenario == Scenario::echo) {
          for (auto& c : conns_)
            if (c->sio_connected && !c->closed()) {
              while (c->inflight < o_.window) send_echo(*c);
              c->flush();
            }
        } else if (o_.scenario == Scenario::fanout) {
          for (Conn* c : pubs_) {
            while (c->inflight < o_.window) publish(*c);
            c->flush();
          }
        }
      }
    } else if (rate_ > 0 && o_.arrivals != "tick") {
      if (!pacing_) {
        pacing_ = true;
        next_send_ns_ = now_ns();
        pace();
      }
    } else if (rate_ > 0) {
      // Open loop at a fixed rate; a connection whose window is full skips its turn.
      send_tokens_ = std::min(send_tokens_ + rate_ * dt, std::max(1.0, rate_ * 0.05));
      if (o_.scenario == Scenario::echo && !conns_.empty()) {
        std::size_t idle_turns = 0;
        while (send_tokens_ >= 1 && idle_turns < conns_.size()) {
          Conn& c = *conns_[rr_++ % conns_.size()];
          if (c.closed() || !c.sio_connected || c.inflight >= o_.window) {
            ++idle_turns;
            continue;
          }
          idle_turns = 0;
          send_tokens_ -= 1;
          send_echo(c);
          c.flush();
        }
      } else if (o_.scenario == Scenario::fanout && !pubs_.empty()) {
        std::size_t idle_turns = 0;
        while (send_tokens_ >= 1 && idle_turns < pubs_.size()) {
          Conn& c = *pubs_[rr_++ % pubs_.size()];
          if (c.closed()) {
            ++idle_turns;
            continue;
          }
          idle_turns = 0;
          send_tokens_ -= 1;
          publish(c);
          c.flush();
        }
      }
    }
  }
  ticker_.expires_after(std::chrono::milliseconds(1));
  ticker_.async_wait([this](const error_code& ec) {
    if (!ec) tick();
  });
}

// --arrivals even|poisson: each send at its own intended time, and its latency counted from that
// time (not from when the generator got to it), so a generator running late shows as latency
// instead of hiding it. A connection whose window is full passes the send to the next one.
void Worker::pace() {
  if (stopping_ || ctl_.phase.load(std::memory_order_acquire) != 1) {
    pacing_ = false;
    return;
  }
  const std::uint64_t now = now_ns();
  for (int burst = 0; next_send_ns_ <= now && burst < 256; ++burst) {
    send_paced(next_send_ns_);
    next_send_ns_ += next_gap_ns();
  }
  pacer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next_send_ns_)));
  pacer_.async_wait([this](const error_code& ec) {
    if (!ec) pace();
  });
}

std::uint64_t Worker::next_gap_ns() {
  const double mean = 1e9 / rate_;
  if (o_.arrivals == "even") return static_cast<std::uint64_t>(mean);
  std::exponential_distribution<double> d(1.0 / mean);
  return static_cast<std::uint64_t>(d(gaps_));
}

bool Worker::send_paced(std::uint64_t intended) {
  if (o_.scenario == Scenario::echo) {
    for (std::size_t turns = 0; turns < conns_.size(); ++turns) {
      Conn& c = *conns_[rr_++ % conns_.size()];
      if (c.closed() || !c.sio_connected || c.inflight >= o_.window) continue;
      send_echo(c, intended);
      c.flush();
      return true;
    }
  } else if (o_.scenario == Scenario::fanout) {
    for (std::size_t turns = 0; turns < pubs_.size(); ++turns) {
      Conn& c = *pubs_[rr_++ % pubs_.size()];
      if (c.closed()) continue;
      publish(c, intended);
      c.flush();
      return true;
    }
  }
  return false;
}

void Worker::send_echo(Conn& c, std::uint64_t intended) {
  if (c.ts.empty()) c.ts.resize(std::bit_ceil(std::max<std::uint32_t>(o_.window, 1)));
  const std::uint64_t id = c.next_id++;
  const std::uint64_t now = intended != 0 ? intended : now_ns();
  c.ts[id & (c.ts.size() - 1)] = now;
  ++c.inflight;
  if (o_.msgpack) {
    bench::msgpack::event(scratch_, {"echo", payload_}, id);
    c.send_binary(scratch_);
  } else {
    scratch_ = "42";
    scratch_ += std::to_string(id);
    scratch_ += "[\"echo\",\"";
    scratch_ += payload_;
    scratch_ += "\"]";
    c.send_text(scratch_);
  }
  if (ctl_.in_window(now)) ++r_.sent;
}

void Worker::publish(Conn& c, std::uint64_t intended) {
  const std::uint64_t now = intended != 0 ? intended : now_ns();
  const std::uint64_t seq = c.pub_seq++;
  ++c.inflight;
  a_published.fetch_add(1, std::memory_order_relaxed);
  const std::string id = std::to_string(c.index()) + ':' + std::to_string(seq) + ':' + std::to_string(now);
  if (!json_payloads_.empty()) {
    // {"id":"PUB:SEQ:TIME", ...one of the 64 event bodies}: the id first, where a receiver finds it.
    scratch_ = "42[\"chat message\",\"bench\",{\"id\":\"";
    scratch_ += id;
    scratch_ += "\",";
    scratch_ += json_payloads_[seq % json_payloads_.size()];
    scratch_ += "}]";
    c.send_text(scratch_);
  } else if (o_.msgpack) {
    bench::msgpack::event(scratch_, {"chat message", "bench", id + ':' + payload_}, std::nullopt);
    c.send_binary(scratch_);
  } else {
    scratch_ = "42[\"chat message\",\"bench\",\"";
    scratch_ += id;
    scratch_ += ':';
    scratch_ += payload_;
    scratch_ += "\"]";
    c.send_text(scratch_);
  }
  if (ctl_.in_window(now)) ++r_.sent;
}

// 64 chat events of about --size bytes each, different words, ids and times (a fixed seed: the
// same for every run and server). Each window of 32 KiB holds ~10 of them, none twice, so context
// takeover gains from the shared structure, not from repeats.
void Worker::make_json_payloads() {
  static const char* words[] = {
      "the",   "a",         "to",     "and",     "is",        "it",      "you",      "that",     "for",
      "on",    "with",      "this",   "release", "deploy",    "server",  "client",   "room",     "thread",
      "build", "merge",     "review", "branch",  "issue",     "fix",     "latency",  "memory",   "cluster",
      "node",  "broadcast", "config", "metric",  "dashboard", "alert",   "incident", "customer", "ticket",
      "order", "update",    "status", "pending", "tomorrow",  "morning", "coffee",   "thanks",   "maybe",
      "later", "please",    "check",  "docs",    "screenshot"};
  static const char* names[] = {"Alice Martin", "Bob Chen",     "Chloe Dubois", "Dmitri Ivanov",
                                "Emma Schmidt", "Farid Haddad", "Grace Kim",    "Hiro Tanaka"};
  std::uint32_t x = 12345;
  auto rnd = [&x](std::uint32_t n) {
    x = x * 1103515245u + 12345u;
    return (x >> 8) % n;
  };
  auto sentence = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i) s += ' ';
      s += words[rnd(sizeof words / sizeof *words)];
    }
    return s;
  };
  auto user = [&] {
    const std::string id = "u_" + std::to_string(rnd(100000));
    return "{\"id\":\"" + id + "\",\"name\":\"" + names[rnd(8)] +
           "\",\"avatar\":\"https://cdn.example.com/avatars/" + id + ".png\"}";
  };
  for (int k = 0; k < 64; ++k) {
    const std::uint64_t ts = 1767000000000ull + static_cast<std::uint64_t>(k) * 137;
    std::string e = "\"type\":\"message.created\",\"room\":\"general\",\"ts\":" + std::to_string(ts) +
                    ",\"author\":" + user() + ",\"text\":\"" + sentence(30) +
                    "\",\"reactions\":[{\"emoji\":\"+1\",\"count\":" + std::to_string(rnd(9) + 1) +
                    "}],\"history\":[";
    for (int h = 0; e.size() + 200 < o_.size; ++h) {
      if (h) e += ',';
      e += "{\"id\":\"m_" + std::to_string(rnd(100000000)) + "\",\"author\":" + user() + ",\"text\":\"" +
           sentence(10 + static_cast<int>(rnd(10))) + "\",\"ts\":" + std::to_string(ts - rnd(10000000)) + "}";
    }
    e += "]";
    json_payloads_.push_back(std::move(e));
  }
}

void Worker::on_sio_connected(Conn& c) {
  if (o_.scenario == Scenario::handshake) {
    const std::uint64_t now = now_ns();
    if (ctl_.in_window(now)) {
      ++r_.done;
      r_.lat.record(now - c.t0);
      a_done.store(++done_, std::memory_order_relaxed);
    }
    ++r_.connected;
    if (o_.resume) c.keep_session();
    c.close_now(true);
    --pending_;
    launch_more(0);
    return;
  }
  --pending_;
  ++r_.connected;
  settle();
  if (o_.scenario == Scenario::fanout) {
    if (o_.msgpack) {
      bench::msgpack::event(scratch_, {"join", "bench"}, 0);
      c.send_binary(scratch_);
    } else {
      c.send_text("420[\"join\",\"bench\"]");
    }
    c.next_seq.assign(o_.publishers, 0);
  } else if (o_.scenario == Scenario::echo && running_ && rate_ <= 0) {
    while (c.inflight < o_.window) send_echo(c);  // connected late
  }
}

template <bool Tls>
void ConnT<Tls>::keep_session() {
  if constexpr (Tls) w_.keep_session(s_.native_handle());
}

void Worker::on_tls_done(Conn& c) {
  // handshake --stop-at tls: the TLS handshake is the whole transaction.
  on_sio_connected(c);
}

void Worker::on_ack(Conn& c, std::uint64_t id) {
  if (o_.scenario == Scenario::fanout) {
    if (id == 0 && !c.joined) {
      c.joined = true;
      a_joined.store(++joined_, std::memory_order_relaxed);
    }
    return;
  }
  if (o_.scenario != Scenario::echo || c.ts.empty() || id == 0 || id >= c.next_id) return;
  const std::uint64_t now = c.rx_time();
  a_rx.store(++rx_, std::memory_order_relaxed);
  if (c.inflight > 0) --c.inflight;
  if (ctl_.in_window(now)) {
    ++r_.done;
    r_.lat.record(now - c.ts[id & (c.ts.size() - 1)]);
    a_done.store(++done_, std::memory_order_relaxed);
  }
  if (rate_ <= 0 && ctl_.phase.load(std::memory_order_relaxed) == 1) send_echo(c);
}

void Worker::on_event(Conn& c, std::string_view body) {
  if (o_.scenario != Scenario::fanout) return;
  constexpr std::string_view kEvent = "[\"chat message\",";
  if (body.substr(0, kEvent.size()) != kEvent) return;  // presence and others
  // "text":"PUB:SEQ:TIME:..." (--payload x) or "text":{"id":"PUB:SEQ:TIME",... (--payload json)
  constexpr std::string_view kText = "\"text\":";
  const std::size_t at = body.find(kText);
  if (at == std::string_view::npos) return;
  std::string_view s = body.substr(at + kText.size());
  constexpr std::string_view kId = "{\"id\":\"";
  if (s.starts_with(kId))
    s.remove_prefix(kId.size());
  else if (s.starts_with("\""))
    s.remove_prefix(1);
  else
    return;
  on_chat_text(c, s);
}

void Worker::on_chat_text(Conn& c, std::string_view s) {
  const std::uint64_t pub = parse_u64(s);
  if (s.empty() || s[0] != ':') return;
  s.remove_prefix(1);
  const std::uint64_t seq = parse_u64(s);
  if (s.empty() || s[0] != ':') return;
  s.remove_prefix(1);
  const std::uint64_t sent = parse_u64(s);
  if (pub >= c.next_seq.size()) return;
  const std::uint64_t now = c.rx_time();
  ++c.received;
  a_rx.store(++rx_, std::memory_order_relaxed);
  std::uint64_t& expect = c.next_seq[pub];
  if (seq == expect) {
    ++expect;
  } else if (seq > expect) {
    r_.loss += seq - expect;  // a gap; a late arrival of the gap counts as reordered below
    expect = seq + 1;
  } else {
    ++r_.dups;
  }
  if (ctl_.in_window(now)) {
    ++r_.done;
    r_.lat.record(now - sent);
    a_done.store(++done_, std::memory_order_relaxed);
  }
  if (pub == c.index() && c.inflight > 0) {
    --c.inflight;
    if (rate_ <= 0 && ctl_.phase.load(std::memory_order_relaxed) == 1) publish(c);
  }
}

void Worker::on_fail(Conn& c, Fail why) {
  if (stopping_) return;
  const bool was_up = c.sio_connected;
  if (!was_up) --pending_;
  switch (why) {
    case Fail::connect:
      ++r_.connect_errors;
      break;
    case Fail::tls:
      ++r_.tls_errors;
      break;
    case Fail::upgrade:
      ++r_.upgrade_errors;
      break;
    case Fail::sio:
      ++r_.sio_errors;
      break;
    case Fail::dropped:
      if (was_up)
        ++r_.dropped;
      else
        ++r_.sio_errors;
      break;
  }
  if (o_.scenario == Scenario::handshake) {
    launch_more(0);
    return;
  }
  if (!was_up) settle();
}

// --- sink: a trivial server, as cheap as a Socket.IO answer can be
void Worker::accept_next() {
  acceptor_->async_accept([this](const error_code& ec, tcp::socket sock) {
    if (ec) {
      if (ec != asio::error::operation_aborted) accept_next();
      return;
    }
    auto c = std::make_shared<ConnT<false>>(*this, sink_ids_++, std::size_t{16384}, std::move(sock));
    sink_conns_.push_back(c);
    c->start_server();
    accept_next();
  });
}

void Worker::on_sink_message(Conn& c, std::string_view p) {
  if (p.size() >= 2 && p[0] == '4' && p[1] == '0') {
    c.send_text("40{\"sid\":\"s" + std::to_string(c.index()) + "\"}");
    return;
  }
  if (p.size() < 3 || p[0] != '4' || p[1] != '2') return;  // pongs and the rest
  std::string_view rest = p.substr(2);
  const bool has_id = !rest.empty() && rest[0] >= '0' && rest[0] <= '9';
  std::string_view id;
  if (has_id) {
    const std::size_t b = rest.find('[');
    if (b == std::string_view::npos) return;
    id = rest.substr(0, b);
    rest.remove_prefix(b);
  }
  if (rest.starts_with("[\"echo\"") && has_id) {
    std::string_view args = rest.substr(7);  // ",..." or "]"
    if (!args.empty() && args[0] == ',') args.remove_prefix(1);
    scratch_ = "43";
    scratch_ += id;
    scratch_ += '[';
    scratch_ += args;
    c.send_text(scratch_);
  } else if (rest.starts_with("[\"join\"") && has_id) {
    if (!c.joined) {
      c.joined = true;
      room_.push_back(&c);
    }
    scratch_ = "43";
    scratch_ += id;
    scratch_ += "[{\"ok\":true}]";
    c.send_text(scratch_);
  } else if (rest.starts_with("[\"chat message\",\"")) {
    // ["chat message","ROOM",TEXT] -> ["chat message",{"room":"ROOM","text":TEXT}], framed once.
    std::string_view r = rest.substr(17);
    const std::size_t q = r.find('"');
    if (q == std::string_view::npos || q + 1 >= r.size() || r[q + 1] != ',') return;
    const std::string_view room = r.substr(0, q);
    std::string_view text = r.substr(q + 2);
    if (!text.empty() && text.back() == ']') text.remove_suffix(1);
    std::string packet = "42[\"chat message\",{\"room\":\"";
    packet += room;
    packet += "\",\"text\":";
    packet += text;
    packet += "}]";
    std::string framed;
    const std::size_t len = packet.size();
    framed += static_cast<char>(0x81);
    if (len < 126) {
      framed += static_cast<char>(len);
    } else if (len < 65536) {
      framed += static_cast<char>(126);
      framed += static_cast<char>(len >> 8);
      framed += static_cast<char>(len & 0xff);
    } else {
      return;
    }
    framed += packet;
    for (Conn* m : room_) {
      m->send_raw(framed);
      if (m != &c) m->flush();
    }
  }
}

void Worker::on_sink_closed(Conn& c) {
  if (c.joined) std::erase(room_, &c);
  std::erase_if(sink_conns_, [&](const std::shared_ptr<Conn>& p) { return p.get() == &c; });
}

tcp::endpoint resolve(const Options& o) {
  asio::io_context ioc;
  tcp::resolver res(ioc);
  const auto results = res.resolve(o.host, std::to_string(o.port));
  if (results.empty()) throw std::runtime_error("cannot resolve " + o.host);
  for (const auto& e : results)
    if (e.endpoint().address().is_v4()) return e.endpoint();
  return results.begin()->endpoint();
}

}  // namespace

Result run_scenario(const Options& o, const Hooks& hooks) {
  const tcp::endpoint target = resolve(o);
  if (!target.address().is_loopback() && !o.allow_remote)
    throw std::runtime_error("refusing a non-loopback target (" + target.address().to_string() +
                             "): pass --allow-remote with an explicit --host");
  std::unique_ptr<ssl::context> tls;
  if (o.tls) {
    tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    tls->set_verify_mode(ssl::verify_none);
    // Every connection a full handshake: no session cache, no tickets (--resume: the worker
    // keeps the last session itself).
    SSL_CTX_set_session_cache_mode(tls->native_handle(), SSL_SESS_CACHE_OFF);
    if (!o.resume) SSL_CTX_set_options(tls->native_handle(), SSL_OP_NO_TICKET);
  }
  Control ctl;
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < o.threads; ++t)
    workers.push_back(std::make_unique<Worker>(o, ctl, t, tls.get(), target));
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

  auto sum = [&](auto member) {
    std::uint64_t s = 0;
    for (auto& w : workers) s += ((*w).*member).load(std::memory_order_relaxed);
    return s;
  };
  using namespace std::chrono_literals;
  const std::uint64_t t0 = now_ns();
  Result total;
  if (o.scenario != Scenario::handshake) {
    const std::uint64_t deadline = t0 + static_cast<std::uint64_t>(o.connect_timeout * 1e9);
    while (sum(&Worker::a_settled) < o.conns && now_ns() < deadline) std::this_thread::sleep_for(10ms);
    if (o.scenario == Scenario::fanout) {
      const std::uint64_t jd = now_ns() + 30'000'000'000ull;
      std::uint64_t last = 0, last_change = now_ns();
      while (now_ns() < jd) {
        const std::uint64_t j = sum(&Worker::a_joined);
        if (j >= o.conns) break;
        if (j != last) last = j, last_change = now_ns();
        if (now_ns() - last_change > 5'000'000'000ull) break;  // failed connections never join
        std::this_thread::sleep_for(10ms);
      }
    }
  }
  total.connect_s = static_cast<double>(now_ns() - t0) / 1e9;
  if (hooks.all_connected) hooks.all_connected();

  const std::uint64_t start = now_ns() + static_cast<std::uint64_t>(o.warmup * 1e9);
  ctl.m_start.store(start);
  ctl.m_end.store(start + static_cast<std::uint64_t>(o.duration * 1e9));
  ctl.phase.store(1, std::memory_order_release);
  while (now_ns() < start) std::this_thread::sleep_for(1ms);
  if (hooks.measure_start) hooks.measure_start();
  while (now_ns() < ctl.m_end.load()) {
    if (o.count > 0 && sum(&Worker::a_done) >= o.count) {
      ctl.m_end.store(now_ns());
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  const std::uint64_t end = ctl.m_end.load();
  if (hooks.measure_end) hooks.measure_end();
  ctl.phase.store(2, std::memory_order_release);
  const std::uint64_t drain_start = now_ns();
  if (o.scenario == Scenario::echo) {
    // Drain: wait for the answers in flight, until nothing arrives for 300 ms.
    const std::uint64_t dd = now_ns() + static_cast<std::uint64_t>(o.drain * 1e9);
    std::uint64_t last = sum(&Worker::a_rx), last_change = now_ns();
    while (now_ns() < dd && now_ns() - last_change < 300'000'000ull) {
      std::this_thread::sleep_for(20ms);
      const std::uint64_t rx = sum(&Worker::a_rx);
      if (rx != last) last = rx, last_change = now_ns();
    }
  } else if (o.scenario == Scenario::fanout) {
    // Drain: wait until every joined receiver has every publish (the publishers stop at phase 2;
    // each receiver joined before the first one). Not "until quiet for a moment": a server that
    // compresses a broadcast once per recipient, or one descheduled on a loaded machine, may be
    // silent for longer than the rest of its backlog takes; what is missing at the end must be
    // what never comes. Bounded by --drain, and by 5 s without any delivery.
    std::this_thread::sleep_for(20ms);  // a publish started before phase 2 is counted
    const std::uint64_t dd = now_ns() + static_cast<std::uint64_t>(o.drain * 1e9);
    const std::uint64_t target = sum(&Worker::a_published) * sum(&Worker::a_joined);
    std::uint64_t last = sum(&Worker::a_rx), last_change = now_ns();
    while (last < target && now_ns() < dd && now_ns() - last_change < 5'000'000'000ull) {
      std::this_thread::sleep_for(20ms);
      const std::uint64_t rx = sum(&Worker::a_rx);
      if (rx != last) last = rx, last_change = now_ns();
    }
  }
  total.drain_s = static_cast<double>(now_ns() - drain_start) / 1e9;
  ctl.phase.store(3, std::memory_order_release);
  for (auto& t : threads) t.join();
  if (o.resume) {
    std::uint64_t resumed = 0, all = 0;
    for (auto& w : workers) resumed += w->resumed(), all += w->tls_done();
    std::fprintf(stderr, "socketio-bench: %llu of %llu TLS handshakes resumed\n",
                 static_cast<unsigned long long>(resumed), static_cast<unsigned long long>(all));
  }

  if (o.scenario == Scenario::fanout) {
    // Tail loss: what each joined receiver never got of what every publisher sent (the workers
    // have stopped; their closed connections keep the counters).
    std::vector<std::uint64_t> published(o.publishers, 0);
    for (auto& w : workers)
      for (const auto& c : w->conns())
        if (c->index() < o.publishers) published[c->index()] = c->pub_seq;
    for (auto& w : workers)
      for (const auto& c : w->conns()) {
        if (!c->joined) continue;
        for (std::uint32_t p = 0; p < o.publishers && p < c->next_seq.size(); ++p) {
          total.expected += published[p];
          if (c->next_seq[p] < published[p]) total.undelivered += published[p] - c->next_seq[p];
        }
      }
  }

  total.measured_s = static_cast<double>(end - start) / 1e9;
  for (auto& w : workers) {
    Result& r = w->result();
    total.add_counts(r);
    total.lat.merge(r.lat);
  }
  total.loss += total.undelivered;  // the workers counted the gaps
  return total;
}

int run_sink(const Options& o) {
  Options so = o;
  so.threads = 1;
  Control ctl;
  Worker w(so, ctl, 0, nullptr, tcp::endpoint());
  const tcp::endpoint ep(asio::ip::make_address(o.host), o.port);
  tcp::acceptor acc(w.ioc());
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(asio::socket_base::max_listen_connections);
  w.start_sink(acc);
  asio::signal_set signals(w.ioc(), SIGINT, SIGTERM);
  signals.async_wait([&](const error_code&, int) { w.ioc().stop(); });
  asio::steady_timer limit(w.ioc());
  if (o.duration > 0) {
    limit.expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(o.duration * 1000)));
    limit.async_wait([&](const error_code& ec) {
      if (!ec) w.ioc().stop();
    });
  }
  std::printf("socketio-bench sink listening on http://%s:%u\n", o.host.c_str(),
              static_cast<unsigned>(acc.local_endpoint().port()));
  std::fflush(stdout);
  w.ioc().run();
  return 0;
}

}  // namespace bench
