// WebSocket sessions over plain and TLS streams (one template, instantiated for both). Owns the
// Beast websocket stream; one write in flight and a queue of shared frames; callbacks to the
// handler on the owning shard; send/close from any thread are posted there.
#include "net/detail/streams.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <deque>

namespace socketio::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// Read buffers grow for a large message; give the memory back afterwards so that idle
// connections stay small.
constexpr std::size_t kKeepReadBuffer = 16 * 1024;

template <class Stream>
class WsSession final : public WebSocket, public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, BeastRequest&& beast_req, HttpRequest&& req, const ConnContext& ctx,
            std::size_t shard)
      : ws_(std::move(stream)), beast_req_(std::move(beast_req)), req_(std::move(req)), ctx_(ctx), shard_(shard) {}

  const HttpRequest& request() const noexcept override { return req_; }
  std::size_t shard() const noexcept override { return shard_; }

  void accept(std::weak_ptr<WebSocketHandler> handler, std::function<void(bool)> on_done) override {
    run([self = this->shared_from_this(), handler = std::move(handler), on_done = std::move(on_done)]() mutable {
      self->do_accept(std::move(handler), std::move(on_done));
    });
  }

  void reject(HttpResponse response) override {
    run([self = this->shared_from_this(), response = std::move(response)]() mutable {
      self->do_reject(std::move(response));
    });
  }

  void send(WsFrame frame) override {
    buffered_.fetch_add(frame.size(), std::memory_order_relaxed);
    run([self = this->shared_from_this(), frame = std::move(frame)]() mutable {
      self->queue_.push_back(std::move(frame));
      self->maybe_write();
    });
  }

  void send(std::vector<WsFrame> frames) override {
    std::size_t n = 0;
    for (const auto& f : frames) n += f.size();
    buffered_.fetch_add(n, std::memory_order_relaxed);
    run([self = this->shared_from_this(), frames = std::move(frames)]() mutable {
      for (auto& f : frames) self->queue_.push_back(std::move(f));
      self->maybe_write();
    });
  }

  void close(std::uint16_t code) override {
    run([self = this->shared_from_this(), code] {
      if (self->closed_ || self->close_queued_) return;
      self->close_queued_ = true;
      self->close_code_ = code;
      if (!self->accepted_) {
        self->finish("forced close");
        return;
      }
      self->maybe_write();
    });
  }

  std::size_t buffered_bytes() const noexcept override { return buffered_.load(std::memory_order_relaxed); }

 private:
  template <class F>
  void run(F&& f) {
    if (ShardPool::current() == shard_)
      f();
    else
      asio::post(ws_.get_executor(), std::forward<F>(f));
  }

  void do_accept(std::weak_ptr<WebSocketHandler> handler, std::function<void(bool)> on_done) {
    handler_ = std::move(handler);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(10);
    t.idle_timeout = websocket::stream_base::none();  // Engine.IO's heartbeat bounds idleness
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.read_message_max(ctx_.options->ws_message_limit);
    ws_.auto_fragment(false);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.async_accept(beast_req_, [self = this->shared_from_this(), on_done = std::move(on_done)](
                                     boost::system::error_code ec) {
      self->beast_req_ = {};
      if (ec) {
        spdlog::debug("websocket: handshake failed: {}", ec.message());
        self->closed_ = true;
        if (on_done) on_done(false);
        return;
      }
      self->accepted_ = true;
      if (on_done) on_done(true);
      self->do_read();
      self->maybe_write();
    });
  }

  void do_reject(HttpResponse response) {
    closed_ = true;
    response.close = true;
    auto res = std::make_shared<http::response<http::string_body>>(to_beast_response(std::move(response), 11));
    res->keep_alive(false);
    beast::get_lowest_layer(ws_).expires_after(ctx_.options->write_timeout);
    http::async_write(ws_.next_layer(), *res,
                      [self = this->shared_from_this(), res](boost::system::error_code, std::size_t) {
                        beast::get_lowest_layer(self->ws_).close();
                      });
  }

  void do_read() {
    ws_.async_read(rbuf_, [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(boost::system::error_code ec) {
    if (ec) {
      if (ec == websocket::error::closed)
        finish("transport close");
      else if (ec == websocket::error::message_too_big)
        finish("transport error: message too big");
      else
        finish(ec == asio::error::operation_aborted ? "forced close" : "transport close");
      return;
    }
    const auto data = rbuf_.cdata();
    const std::string_view view(static_cast<const char*>(data.data()), data.size());
    if (auto h = handler_.lock()) h->on_ws_message(view, ws_.got_binary());
    rbuf_.consume(rbuf_.size());
    if (rbuf_.capacity() > kKeepReadBuffer) rbuf_ = beast::flat_buffer();
    if (!closed_) do_read();
  }

  void maybe_write() {
    if (!accepted_ || writing_ || closed_) return;
    if (!queue_.empty()) {
      writing_ = true;
      auto& f = queue_.front();
      ws_.binary(f.binary);
      std::array<asio::const_buffer, 2> bufs{
          asio::const_buffer(f.head, f.head_len),
          f.body ? asio::const_buffer(f.body->data(), f.body->size()) : asio::const_buffer()};
      ws_.async_write(bufs, [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
        self->on_write(ec);
      });
      return;
    }
    if (close_queued_ && !close_sent_) {
      close_sent_ = true;
      writing_ = true;
      ws_.async_close(close_code_ == 0 ? websocket::close_reason() : websocket::close_reason(close_code_),
                      [self = this->shared_from_this()](boost::system::error_code) {
                        self->writing_ = false;
                        self->finish("forced close");
                      });
    }
  }

  void on_write(boost::system::error_code ec) {
    writing_ = false;
    buffered_.fetch_sub(queue_.front().size(), std::memory_order_relaxed);
    queue_.pop_front();
    if (ec) {
      finish("transport error");
      return;
    }
    maybe_write();
  }

  void finish(std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    std::size_t dropped = 0;
    for (auto& f : queue_) dropped += f.size();
    if (!writing_) {
      buffered_.fetch_sub(dropped, std::memory_order_relaxed);
      queue_.clear();
    }
    if (!close_sent_) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
    }
    if (auto h = handler_.lock()) h->on_ws_closed(reason);
  }

  websocket::stream<Stream> ws_;
  BeastRequest beast_req_;
  HttpRequest req_;
  ConnContext ctx_;
  std::size_t shard_;
  std::weak_ptr<WebSocketHandler> handler_;
  beast::flat_buffer rbuf_;
  std::deque<WsFrame> queue_;
  std::atomic<std::size_t> buffered_{0};
  std::uint16_t close_code_ = 1000;
  bool accepted_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool close_queued_ = false;
  bool close_sent_ = false;
};

}  // namespace

WebSocketPtr make_websocket(PlainStream&& stream, BeastRequest&& beast_req, HttpRequest&& req,
                            const ConnContext& ctx, std::size_t shard) {
  return std::make_shared<WsSession<PlainStream>>(std::move(stream), std::move(beast_req), std::move(req), ctx,
                                                  shard);
}

WebSocketPtr make_websocket(TlsStream&& stream, BeastRequest&& beast_req, HttpRequest&& req,
                            const ConnContext& ctx, std::size_t shard) {
  return std::make_shared<WsSession<TlsStream>>(std::move(stream), std::move(beast_req), std::move(req), ctx,
                                                shard);
}

}  // namespace socketio::net::detail
