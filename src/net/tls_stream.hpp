// LeanTlsStream: the server's TLS stream (HTTPS and WSS), in place of asio::ssl::stream, whose
// staging buffers and BIO pair cost 68 KiB per connection for its whole life. Here OpenSSL talks
// to the socket through a small custom BIO: reads recv() straight from the socket, writes send()
// straight to it, and only what the kernel cannot take at once is kept (a spill string that is
// released once flushed). An idle connection waits for its next record with a 1-byte read on the
// tcp_stream (so its timeouts and cancellation apply) and, with SSL_MODE_RELEASE_BUFFERS, holds
// no buffer at all. Writes complete once the kernel has taken every byte (backpressure holds).
//
// Like asio::ssl::stream: at most one read op (async_read_some, or the handshake) and one write
// op (async_write_some, or the shutdown) at a time, all on the stream's executor (one shard
// thread). Moving the stream is allowed while no op is pending. Heavy (Asio, Beast): include only
// from src/net/*.cpp; the logic lives in tls_stream.cpp, the templates here only drive it.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "net/tls_record.hpp"

#include <array>
#include <cstddef>
#include <memory>
#include <string>

typedef struct ssl_st SSL;

namespace boost::asio::ssl {
class context;
}

namespace socketio::net::detail {

namespace tls_stream_impl {

enum class Kind : unsigned char { read, write, handshake, shutdown };
// What the op must do next (Core::advance decides, the op template does it).
enum class Action : unsigned char { read_byte, flush, wait, post, done };

// The state of one operation in flight.
struct OpState {
  Kind kind;
  Action last = Action::done;  // the async step whose completion comes next
  bool final = false;          // the TLS part is over; only flushing may remain
  bool async = false;          // something asynchronous completed: the handler may run directly
  char* data = nullptr;        // read: the user's buffer
  std::size_t size = 0;
  std::size_t n = 0;  // bytes read or written (handshake: prefix bytes used)
  boost::system::error_code ec;
};

// Everything the stream owns, at a stable address (the BIO points here; ops keep a pointer).
struct Core {
  Core(boost::beast::tcp_stream&& next, std::shared_ptr<boost::asio::ssl::context> context);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  Action advance(OpState& op, boost::system::error_code ec, std::size_t n);
  void start_read(OpState& op, const boost::asio::mutable_buffer& buffer);
  void start_write(OpState& op, const boost::asio::const_buffer* buffers, std::size_t count);
  void start_handshake(OpState& op, boost::asio::ssl::stream_base::handshake_type type,
                       const boost::asio::const_buffer* prefix, std::size_t count);
  void start_shutdown(OpState& op);
  void shutdown_now(boost::system::error_code& ec);  // synchronous, for teardown()

  boost::asio::mutable_buffer byte_buffer() { return {&byte_, 1}; }
  boost::asio::const_buffer flight_buffer() const {
    return {flight_.data() + flight_pos_, flight_.size() - flight_pos_};
  }
  boost::asio::steady_timer& event();

  // BIO callbacks (tls_stream.cpp).
  int bio_read(char* out, std::size_t len, std::size_t* got);
  int bio_write(const char* in, std::size_t len, std::size_t* put);
  long bio_ctrl(int cmd);

  boost::beast::tcp_stream tcp;
  std::shared_ptr<boost::asio::ssl::context> context;  // the set this connection started with
  SSL* ssl = nullptr;  // null once the connection runs its own records (or if it could not be made)

  // After a TLS 1.3 server handshake: OpenSSL's state is gone, records are protected here.
  bool own_records() const { return records_ != nullptr; }

 private:
  bool usable() const { return ssl != nullptr || records_ != nullptr; }
  void run_tls(OpState& op, bool& want_read);
  bool try_own_records(bool collected);
  // recv() into out: > 0 bytes, 0 at the end of the stream, -1 nothing now, -2 failed (io_error_).
  int receive(char* out, std::size_t len);
  // Own records (tls_stream.cpp): the read, the write, the records they exchange.
  void read_records(OpState& op, bool& want_read);
  bool open_records(unsigned char* data, std::size_t len, OpState& op, std::size_t& used);
  bool record_buffered() const;
  void take_plain(OpState& op);
  void write_records(OpState& op, const boost::asio::const_buffer* buffers, std::size_t count);
  bool send_record(const unsigned char* record, std::size_t size);
  bool send_alert(tls13::Alert alert);
  void fail_read(OpState& op, tls13::Alert alert);
  static void end_read(OpState& op, boost::system::error_code& read_error, boost::system::error_code ec);
  bool send_direct(const char* data, std::size_t len, std::size_t& sent);
  bool send_out();
  Action start_flush(OpState& op);
  boost::system::error_code tls_error(int ret);

  std::unique_ptr<boost::asio::steady_timer> event_;  // "a flush ended"; made on first need
  std::string prefix_;  // bytes read before the TLS layer (the detector's), fed to OpenSSL first
  std::size_t prefix_pos_ = 0;
  std::string out_;     // ciphertext the kernel did not take yet
  std::string flight_;  // ciphertext being written by the flush in progress
  std::size_t flight_pos_ = 0;
  boost::system::error_code io_error_;    // the socket failed: every later op fails with it
  boost::system::error_code read_error_;  // what ended reading, after the bytes before it were returned
  bool flushing_ = false;
  // A handshake step is running: its output collects in out_ and leaves in one send after it.
  bool holding_ = false;
  // out_ holds the TLS 1.3 session ticket the handshake's last step wrote: it rides with the
  // next write, or leaves before the next wait for the peer.
  bool deferred_ = false;
  bool have_byte_ = false;
  bool eof_ = false;
  char byte_ = 0;
  // Own records: the peer's close_notify came; ours went; consecutive empty records.
  bool peer_closed_ = false;
  bool closed_ = false;
  std::uint8_t empty_records_ = 0;
  std::unique_ptr<tls13::Secrets> secrets_;      // while a server handshake runs
  std::unique_ptr<tls13::RecordLayer> records_;  // own records: the two traffic keys
  std::string rx_;                               // own records: received, not yet opened
  std::string plain_;                            // own records: opened, not yet read
  std::size_t plain_pos_ = 0;
};

// The asynchronous operation: one small template, the decisions are Core::advance's.
template <bool WithSize>
class Op {
 public:
  Op(Core* core, const OpState& state) : core_(core), state_(state) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
    switch (core_->advance(state_, ec, n)) {
      case Action::read_byte:
        core_->tcp.async_read_some(core_->byte_buffer(), std::move(self));
        return;
      case Action::flush:
        core_->tcp.async_write_some(core_->flight_buffer(), std::move(self));
        return;
      case Action::wait:
        core_->event().async_wait(std::move(self));
        return;
      case Action::post:
        boost::asio::post(core_->tcp.get_executor(), std::move(self));
        return;
      case Action::done:
        break;
    }
    const auto result = state_.ec;
    const auto bytes = state_.n;
    if constexpr (WithSize)
      self.complete(result, bytes);
    else
      self.complete(result);
  }

 private:
  Core* core_;
  OpState state_;
};

// Copies the descriptors of up to N non-empty buffers of a sequence (a write takes what fits).
template <std::size_t N, class Buffers>
std::size_t first_buffers(const Buffers& buffers, std::array<boost::asio::const_buffer, N>& out) {
  std::size_t count = 0;
  for (auto it = boost::asio::buffer_sequence_begin(buffers), end = boost::asio::buffer_sequence_end(buffers);
       it != end && count < N; ++it) {
    const boost::asio::const_buffer b(*it);
    if (b.size() > 0) out[count++] = b;
  }
  return count;
}

}  // namespace tls_stream_impl

class LeanTlsStream {
 public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;

  // `context` must be the native handle's owner; the stream keeps it for its whole life.
  LeanTlsStream(next_layer_type&& next, std::shared_ptr<boost::asio::ssl::context> context);
  LeanTlsStream(LeanTlsStream&&) noexcept;
  LeanTlsStream& operator=(LeanTlsStream&&) noexcept;
  ~LeanTlsStream();

  executor_type get_executor() noexcept { return core_->tcp.get_executor(); }
  next_layer_type& next_layer() noexcept { return core_->tcp; }
  const next_layer_type& next_layer() const noexcept { return core_->tcp; }
  SSL* native_handle() noexcept { return core_->ssl; }  // null after the switch to own records
  // True once a TLS 1.3 server handshake has moved the connection to its own records (the
  // context captures secrets: TlsOptions::own_record_layer), OpenSSL's state freed.
  bool own_records() const noexcept { return core_->own_records(); }

  // handler(error_code, std::size_t used): `prefix` holds bytes already read from the socket
  // (all of them are used: they are copied in before the handshake starts).
  template <class ConstBufferSequence, class Handler>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, const ConstBufferSequence& prefix,
                       Handler&& handler) {
    std::array<boost::asio::const_buffer, 16> bufs;
    const std::size_t count = tls_stream_impl::first_buffers(prefix, bufs);
    tls_stream_impl::OpState op{tls_stream_impl::Kind::handshake};
    core_->start_handshake(op, type, bufs.data(), count);
    return compose<true, void(boost::system::error_code, std::size_t)>(op, std::forward<Handler>(handler));
  }

  // handler(error_code). Sends close_notify and completes once it is written; it does not wait
  // for the peer's (the caller closes the socket next), so it never reads and may run beside a
  // pending read.
  template <class Handler>
  auto async_shutdown(Handler&& handler) {
    tls_stream_impl::OpState op{tls_stream_impl::Kind::shutdown};
    core_->start_shutdown(op);
    return compose<false, void(boost::system::error_code)>(op, std::forward<Handler>(handler));
  }

  // Reads into the first non-empty buffer. The peer's close_notify gives asio::error::eof; a
  // connection closed without it gives asio::ssl::error::stream_truncated.
  template <class MutableBufferSequence, class Handler>
  auto async_read_some(const MutableBufferSequence& buffers, Handler&& handler) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers),
              end = boost::asio::buffer_sequence_end(buffers);
         it != end; ++it) {
      first = boost::asio::mutable_buffer(*it);
      if (first.size() > 0) break;
    }
    tls_stream_impl::OpState op{tls_stream_impl::Kind::read};
    core_->start_read(op, first);
    return compose<true, void(boost::system::error_code, std::size_t)>(op, std::forward<Handler>(handler));
  }

  // Encrypts from up to 16 buffers of the sequence and completes once the kernel took it all.
  template <class ConstBufferSequence, class Handler>
  auto async_write_some(const ConstBufferSequence& buffers, Handler&& handler) {
    std::array<boost::asio::const_buffer, 16> bufs;
    const std::size_t count = tls_stream_impl::first_buffers(buffers, bufs);
    tls_stream_impl::OpState op{tls_stream_impl::Kind::write};
    core_->start_write(op, bufs.data(), count);
    return compose<true, void(boost::system::error_code, std::size_t)>(op, std::forward<Handler>(handler));
  }

  // Synchronous close_notify, best effort (Beast's synchronous websocket teardown).
  void shutdown(boost::system::error_code& ec) { core_->shutdown_now(ec); }

 private:
  template <bool WithSize, class Signature, class Handler>
  auto compose(const tls_stream_impl::OpState& op, Handler&& handler) {
    return boost::asio::async_compose<Handler, Signature>(tls_stream_impl::Op<WithSize>(core_.get(), op),
                                                          handler, core_->tcp);
  }

  std::unique_ptr<tls_stream_impl::Core> core_;
};

// Beast's websocket teardown customization points, found by argument-dependent lookup:
// close_notify, then the TCP teardown of the layer below.
void teardown(boost::beast::role_type role, LeanTlsStream& stream, boost::system::error_code& ec);

namespace tls_stream_impl {
struct TeardownOp {
  LeanTlsStream& stream;
  boost::beast::role_type role;
  int step = 0;
  boost::system::error_code first{};

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}) {
    switch (step++) {
      case 0:
        stream.async_shutdown(std::move(self));
        return;
      case 1: {
        first = ec;
        using boost::beast::websocket::async_teardown;
        async_teardown(role, stream.next_layer(), std::move(self));
        return;
      }
      default:
        self.complete(first ? first : ec);
    }
  }
};
}  // namespace tls_stream_impl

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, LeanTlsStream& stream, TeardownHandler&& handler) {
  boost::asio::async_compose<TeardownHandler, void(boost::system::error_code)>(
      tls_stream_impl::TeardownOp{stream, role}, handler, stream);
}

}  // namespace socketio::net::detail
