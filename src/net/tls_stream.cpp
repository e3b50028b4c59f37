// LeanTlsStream's logic: the socket BIO, and the decisions of every operation (see the header).
//
// Output: the BIO send()s at once; what the kernel does not take goes to out_ (and everything
// after it, to keep the order), so OpenSSL never sees a blocked write. A handshake step's output
// is collected and sent after the step. A TLS 1.3 server's last step (the session ticket) is
// deferred: it goes out in one send with the next write (the HTTP response), or before the next
// wait for the peer, whichever comes first: one send (and its TCP cost) less per connection.
// Nothing waits for a ticket, so one never sent (the connection closed first) only costs the
// client its resumption. An op
// that produced output makes sure it is written before it completes: it starts the flush (out_ moves to
// flight_, written with async_write_some until done, then out_ again while it is not empty), or, when another
// op's flush is running, waits for the end of that flush (a timer that never expires, cancelled at the end of
// each flush) and looks again. A read never waits for another op's flush: that flush goes on until out_ is
// empty, its bytes included.
//
// Input: the BIO returns the prefix (bytes read before TLS started), then the byte of the last
// 1-byte wake-up read, then recv()s. When OpenSSL wants more and the socket has nothing, the op
// reads 1 byte through the tcp_stream (timeouts, cancellation) and tries again.
#include "net/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>

namespace socketio::net::detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace tls_stream_impl {

namespace {

// Plaintext per TLS record; small buffers of a write are gathered up to this before SSL_write.
constexpr std::size_t kRecord = 16 * 1024;
// One write op encrypts at most this much (then completes; the caller writes the rest).
constexpr std::size_t kMaxWritePerOp = 256 * 1024;

int clamp_int(std::size_t n) {
  return static_cast<int>(std::min<std::size_t>(n, INT_MAX));
}

Core* core_of(BIO* bio) {
  return static_cast<Core*>(BIO_get_data(bio));
}

int bio_write_cb(BIO* bio, const char* in, std::size_t len, std::size_t* put) {
  BIO_clear_retry_flags(bio);
  return core_of(bio)->bio_write(in, len, put);
}

int bio_read_cb(BIO* bio, char* out, std::size_t len, std::size_t* got) {
  BIO_clear_retry_flags(bio);
  const int r = core_of(bio)->bio_read(out, len, got);
  if (r < 0) {
    BIO_set_retry_read(bio);
    return 0;
  }
  return r;
}

long bio_ctrl_cb(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  return core_of(bio)->bio_ctrl(cmd);
}

// Immutable once made; shared by every stream of the process.
BIO_METHOD* bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "socketio lean tls socket");
    if (m != nullptr) {
      BIO_meth_set_write_ex(m, &bio_write_cb);
      BIO_meth_set_read_ex(m, &bio_read_cb);
      BIO_meth_set_ctrl(m, &bio_ctrl_cb);
    }
    return m;
  }();
  return method;
}

bool would_block(int e) {
  return e == EAGAIN || e == EWOULDBLOCK;
}

}  // namespace

Core::Core(boost::beast::tcp_stream&& next, std::shared_ptr<asio::ssl::context> ctx)
    : tcp(std::move(next)), context(std::move(ctx)) {
  BIO_METHOD* method = bio_method();
  if (!context || method == nullptr) return;
  ssl = SSL_new(context->native_handle());
  if (ssl == nullptr) return;
  BIO* bio = BIO_new(method);
  if (bio == nullptr) {
    SSL_free(ssl);
    ssl = nullptr;
    return;
  }
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);
  // Partial writes: one record per SSL_write, so a write can stop as soon as the kernel is full.
  // Release buffers: an idle connection holds no record buffer. Read ahead: one recv() per
  // record or more, instead of one for the header and one for the body.
  SSL_set_mode(
      ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
  SSL_set_read_ahead(ssl, 1);
}

Core::~Core() {
  if (ssl != nullptr) SSL_free(ssl);  // frees the BIO too
}

asio::steady_timer& Core::event() {
  if (!event_) {
    event_ = std::make_unique<asio::steady_timer>(tcp.get_executor());
    event_->expires_at(asio::steady_timer::time_point::max());  // only cancel() ends a wait
  }
  return *event_;
}

// --- the BIO ------------------------------------------------------------------------------

int Core::bio_read(char* out, std::size_t len, std::size_t* got) {
  *got = 0;
  if (len == 0) return 1;
  if (prefix_pos_ < prefix_.size()) {
    const std::size_t n = std::min(len, prefix_.size() - prefix_pos_);
    std::memcpy(out, prefix_.data() + prefix_pos_, n);
    prefix_pos_ += n;
    if (prefix_pos_ == prefix_.size()) {
      std::string().swap(prefix_);
      prefix_pos_ = 0;
    }
    *got = n;
    return 1;
  }
  if (have_byte_) {
    have_byte_ = false;
    *out = byte_;
    *got = 1;
    return 1;
  }
  if (secrets_) {
    // A handshake that may end in own records: OpenSSL reads without read-ahead (exactly its
    // records), but the socket is read ahead here, and what OpenSSL did not ask for waits in
    // prefix_: one recv() for the client's last flight, and what came after its Finished is
    // handed to the own records at the switch.
    char ahead[8192];
    const int r = receive(ahead, sizeof ahead);
    if (r <= 0) return r == -1 ? -1 : 0;
    const std::size_t n = std::min(len, static_cast<std::size_t>(r));
    std::memcpy(out, ahead, n);
    prefix_.assign(ahead + n, static_cast<std::size_t>(r) - n);
    prefix_pos_ = 0;
    *got = n;
    return 1;
  }
  const int r = receive(out, len);
  if (r > 0) {
    *got = static_cast<std::size_t>(r);
    return 1;
  }
  return r == -1 ? -1 : 0;
}

int Core::receive(char* out, std::size_t len) {
  if (io_error_) return -2;
  if (eof_) return 0;
  if (!tcp.socket().is_open()) {
    io_error_ = asio::error::bad_descriptor;
    return -2;
  }
  const int fd = tcp.socket().native_handle();
  for (;;) {
    const ssize_t r = ::recv(fd, out, len, MSG_DONTWAIT);
    if (r > 0) return static_cast<int>(r);
    if (r == 0) {
      eof_ = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (would_block(errno)) return -1;
    io_error_ = error_code(errno, boost::system::system_category());
    return -2;
  }
}

// send()s until the kernel is full; false (io_error_ set) when the socket failed.
bool Core::send_direct(const char* data, std::size_t len, std::size_t& sent) {
  sent = 0;
  if (!tcp.socket().is_open()) {
    io_error_ = asio::error::bad_descriptor;
    return false;
  }
  const int fd = tcp.socket().native_handle();
  while (sent < len) {
    const ssize_t r = ::send(fd, data + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) {
      sent += static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && would_block(errno)) break;
    io_error_ = r < 0 ? error_code(errno, boost::system::system_category()) : error_code(asio::error::eof);
    return false;
  }
  return true;
}

// Sends what out_ holds (collected or deferred, no flush running); the rest stays for a flush.
bool Core::send_out() {
  deferred_ = false;
  std::size_t sent = 0;
  const bool ok = send_direct(out_.data(), out_.size(), sent);
  if (!ok || sent == out_.size())
    std::string().swap(out_);
  else
    out_.erase(0, sent);
  return ok;
}

int Core::bio_write(const char* in, std::size_t len, std::size_t* put) {
  *put = 0;
  if (io_error_) return 0;
  if (deferred_ && !flushing_ && !holding_) {  // the deferred bytes first, in the same send
    out_.append(in, len);
    if (!send_out()) return 0;
    *put = len;
    return 1;
  }
  std::size_t sent = 0;
  if (!flushing_ && !holding_ && out_.empty() && !send_direct(in, len, sent)) return 0;
  // The kernel is full (or a flush is running, or a handshake step collects its output): keep
  // the rest, in order, for the flush.
  if (sent < len) out_.append(in + sent, len - sent);
  *put = len;
  return 1;
}

long Core::bio_ctrl(int cmd) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return eof_ ? 1 : 0;
    default:
      return 0;
  }
}

// --- operations ---------------------------------------------------------------------------

error_code Core::tls_error(int ret) {
  const int e = SSL_get_error(ssl, ret);
  switch (e) {
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;  // the peer's close_notify
    case SSL_ERROR_SYSCALL:
      if (io_error_) return io_error_;
      return asio::ssl::error::stream_truncated;  // the peer closed TCP without close_notify
    case SSL_ERROR_SSL: {
      if (io_error_) return io_error_;
      const unsigned long err = ERR_get_error();
      ERR_clear_error();
      if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return asio::ssl::error::stream_truncated;
      if (err == 0) return asio::ssl::error::unexpected_result;
      return error_code(static_cast<int>(err), asio::error::get_ssl_category());
    }
    default:
      return asio::ssl::error::unexpected_result;  // WANT_WRITE and the like: never expected
  }
}

void Core::start_read(OpState& op, const asio::mutable_buffer& buffer) {
  op.data = static_cast<char*>(buffer.data());
  op.size = buffer.size();
  if (!usable()) {
    op.ec = asio::error::no_memory;
    op.final = true;
  } else if (op.size == 0) {
    op.final = true;
  }
}

void Core::start_write(OpState& op, const asio::const_buffer* bufs, std::size_t count) {
  op.final = true;  // everything happens here; the op only flushes
  if (!usable()) {
    op.ec = asio::error::no_memory;
    return;
  }
  if (io_error_) {
    op.ec = io_error_;
    return;
  }
  if (records_) {
    write_records(op, bufs, count);
    return;
  }
  char stage[kRecord];
  std::size_t i = 0;
  std::size_t off = 0;
  do {
    if (i == count) break;
    const char* p = static_cast<const char*>(bufs[i].data()) + off;
    std::size_t len = bufs[i].size() - off;
    if (len < kRecord && i + 1 < count) {  // gather small buffers into one record
      std::size_t got = 0;
      for (std::size_t j = i, o = off; j < count && got < kRecord;) {
        const std::size_t take = std::min(bufs[j].size() - o, kRecord - got);
        std::memcpy(stage + got, static_cast<const char*>(bufs[j].data()) + o, take);
        got += take;
        o += take;
        if (o == bufs[j].size()) {
          ++j;
          o = 0;
        }
      }
      p = stage;
      len = got;
    }
    ERR_clear_error();
    const int r = SSL_write(ssl, p, clamp_int(len));
    if (r <= 0) {
      if (op.n == 0) op.ec = tls_error(r);
      break;  // bytes already taken are reported; the next write reports the error
    }
    op.n += static_cast<std::size_t>(r);
    for (std::size_t left = static_cast<std::size_t>(r); left > 0;) {
      const std::size_t room = bufs[i].size() - off;
      if (left < room) {
        off += left;
        left = 0;
      } else {
        left -= room;
        ++i;
        off = 0;
      }
    }
  } while (out_.empty() && !flushing_ && op.n < kMaxWritePerOp);
}

void Core::start_handshake(OpState& op, asio::ssl::stream_base::handshake_type type,
                           const asio::const_buffer* prefix, std::size_t count) {
  if (ssl == nullptr) {
    op.ec = asio::error::no_memory;
    op.final = true;
    return;
  }
  if (type == asio::ssl::stream_base::server) {
    SSL_set_accept_state(ssl);
    if (!secrets_ && tls13::captures_secrets(SSL_get_SSL_CTX(ssl))) {
      // The connection may switch to its own records after the handshake: catch the traffic
      // secrets, and read exactly the handshake's records from the socket (no read-ahead), so
      // that nothing the client sent after its Finished is inside OpenSSL at the switch.
      secrets_ = std::make_unique<tls13::Secrets>();
      tls13::watch(ssl, secrets_.get());
      SSL_set_read_ahead(ssl, 0);
    }
  } else {
    SSL_set_connect_state(ssl);
  }
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) total += prefix[i].size();
  if (total > 0) {
    prefix_.erase(0, prefix_pos_);
    prefix_pos_ = 0;
    prefix_.reserve(prefix_.size() + total);
    for (std::size_t i = 0; i < count; ++i)
      prefix_.append(static_cast<const char*>(prefix[i].data()), prefix[i].size());
  }
  op.n = total;  // all of it is used
}

void Core::start_shutdown(OpState& op) {
  op.final = true;  // close_notify is queued here; the op only flushes
  if (!usable()) {
    op.ec = asio::error::no_memory;
    return;
  }
  if (records_) {
    if (!send_alert(tls13::Alert::close_notify) && io_error_) op.ec = io_error_;
    return;
  }
  ERR_clear_error();
  const int r = SSL_shutdown(ssl);
  if (r < 0) op.ec = tls_error(r);
}

void Core::shutdown_now(error_code& ec) {
  ec = {};
  if (!usable()) {
    ec = asio::error::no_memory;
    return;
  }
  if (records_) {
    if (!send_alert(tls13::Alert::close_notify) && io_error_) ec = io_error_;
  } else {
    ERR_clear_error();
    const int r = SSL_shutdown(ssl);
    if (r < 0) ec = tls_error(r);
  }
  if (!flushing_ && !out_.empty() && !io_error_) {
    error_code wec;
    asio::write(tcp.socket(), asio::buffer(out_), wec);
    std::string().swap(out_);
    if (wec && !ec) ec = wec;
  }
}

void Core::run_tls(OpState& op, bool& want_read) {
  switch (op.kind) {
    case Kind::read: {
      if (read_error_) {
        op.ec = read_error_;
        break;
      }
      if (records_) {
        read_records(op, want_read);
        if (want_read) return;
        break;
      }
      // Nothing buffered anywhere (the usual state when a read starts): go straight to the
      // wake-up read, whose own first attempt is the check; a recv() here would only say EAGAIN.
      if (!op.async && !have_byte_ && prefix_pos_ == prefix_.size() && !io_error_ && !eof_ &&
          SSL_has_pending(ssl) == 0 && (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) == 0 &&
          SSL_is_init_finished(ssl) == 1) {
        want_read = true;
        return;
      }
      while (op.n < op.size) {
        ERR_clear_error();
        const int r = SSL_read(ssl, op.data + op.n, clamp_int(op.size - op.n));
        if (r > 0) {
          op.n += static_cast<std::size_t>(r);
          if (!SSL_has_pending(ssl)) break;  // the rest is still in the kernel: return what we have
          continue;
        }
        if (SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ) {
          if (op.n == 0) {
            want_read = true;
            return;
          }
          break;
        }
        const error_code e = tls_error(r);
        if (op.n == 0)
          op.ec = e;
        else
          read_error_ = e;  // give the bytes first
        break;
      }
      break;
    }
    case Kind::handshake: {
      ERR_clear_error();
      const bool collect = !flushing_ && out_.empty();
      holding_ = collect;
      const int r = SSL_do_handshake(ssl);
      holding_ = false;
      const bool more = r != 1 && SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ;
      const error_code e = r == 1 || more ? error_code() : tls_error(r);
      // A TLS 1.3 server's last step wrote the session ticket, which no client waits for (a TLS
      // 1.2 or client-side last step writes a Finished the peer needs: sent at once).
      const bool ticket_last =
          r == 1 && collect && !out_.empty() && SSL_is_server(ssl) == 1 && SSL_version(ssl) >= TLS1_3_VERSION;
      if (r == 1) try_own_records(collect);
      if (ticket_last) {
        deferred_ = true;
        break;
      }
      if (collect && !out_.empty() && !send_out() && !e) {
        op.ec = io_error_;
        break;
      }
      if (more) {
        want_read = true;
        return;
      }
      op.ec = e;
      break;
    }
    case Kind::write:
    case Kind::shutdown:
      break;
  }
  op.final = true;
}

// --- own records (TLS 1.3, after the handshake; net/tls_record.hpp) --------------------------

// At the end of a server handshake: when it was TLS 1.3 with a suite RecordLayer knows, its
// secrets were caught, and OpenSSL holds no byte it has not processed, the connection keeps
// only its traffic keys and frees the SSL object (~12 KiB). Otherwise it stays on OpenSSL.
bool Core::try_own_records(bool collected) {
  const std::unique_ptr<tls13::Secrets> secrets = std::move(secrets_);
  if (!secrets) return false;
  tls13::watch(ssl, nullptr);
  const auto stay = [this] {
    SSL_set_read_ahead(ssl, 1);
    return false;
  };
  if (!collected || SSL_is_server(ssl) != 1 || SSL_version(ssl) != TLS1_3_VERSION ||
      secrets->client_size == 0 || secrets->server_size != secrets->client_size || SSL_has_pending(ssl) != 0)
    return stay();
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  if (cipher == nullptr) return stay();
  // This last step's output (collected in out_) is the session tickets, the first records under
  // the server's application key: their count is where our sequence numbers go on. The
  // client's first record after its Finished is still in the kernel (no read-ahead): its 0.
  std::uint64_t written = 0;
  for (std::size_t pos = 0; pos < out_.size(); ++written) {
    tls13::Alert alert{};
    const std::size_t size = out_.size() - pos < tls13::kHeaderSize
                                 ? 0
                                 : tls13::RecordLayer::record_size(
                                       reinterpret_cast<const unsigned char*>(out_.data()) + pos, alert);
    if (size == 0 || size > out_.size() - pos) return stay();
    pos += size;
  }
  records_ = tls13::RecordLayer::make(static_cast<std::uint16_t>(SSL_CIPHER_get_protocol_id(cipher)),
                                      secrets->client, secrets->server, secrets->client_size, 0, written);
  if (!records_) return stay();
  SSL_free(ssl);  // and its BIO
  ssl = nullptr;
  // What was read ahead of OpenSSL (the client's first records, if they came with its Finished)
  // is the start of the own records' input; a wake-up byte came after it.
  rx_.assign(prefix_, prefix_pos_);
  std::string().swap(prefix_);
  prefix_pos_ = 0;
  if (have_byte_) {
    rx_.push_back(byte_);
    have_byte_ = false;
  }
  if (rx_.empty()) std::string().swap(rx_);
  return true;
}

bool Core::record_buffered() const {
  if (rx_.size() < tls13::kHeaderSize) return false;
  tls13::Alert alert{};
  const std::size_t size =
      tls13::RecordLayer::record_size(reinterpret_cast<const unsigned char*>(rx_.data()), alert);
  return size == 0 || size <= rx_.size();  // a whole record, or a header that is an error now
}

void Core::take_plain(OpState& op) {
  if (plain_pos_ == plain_.size()) return;
  const std::size_t n = std::min(op.size - op.n, plain_.size() - plain_pos_);
  std::memcpy(op.data + op.n, plain_.data() + plain_pos_, n);
  op.n += n;
  plain_pos_ += n;
  if (plain_pos_ == plain_.size()) {
    std::string().swap(plain_);
    plain_pos_ = 0;
  }
}

void Core::end_read(OpState& op, error_code& read_error, error_code ec) {
  if (op.n == 0)
    op.ec = ec;
  else
    read_error = ec;  // give the bytes first
}

// A sealed record goes out like OpenSSL's output: at once, or after what waits (bio_write).
bool Core::send_record(const unsigned char* record, std::size_t size) {
  std::size_t put = 0;
  return bio_write(reinterpret_cast<const char*>(record), size, &put) == 1;
}

// Sends one alert record (close_notify, or the fatal one before giving up). Best effort.
bool Core::send_alert(tls13::Alert alert) {
  if (closed_ || io_error_) return false;
  closed_ = true;  // nothing is sent after an alert of ours
  const unsigned char body[2] = {static_cast<unsigned char>(alert == tls13::Alert::close_notify ? 1 : 2),
                                 static_cast<unsigned char>(alert)};
  const tls13::RecordLayer::Part part{body, sizeof body};
  unsigned char record[sizeof body + tls13::kSealOverhead];
  const std::size_t n = records_->seal(tls13::ContentType::alert, &part, 1, record);
  return n > 0 && send_record(record, n);
}

// The peer broke the protocol: tell it why, and fail this read and every later op.
void Core::fail_read(OpState& op, tls13::Alert alert) {
  static_cast<void>(send_alert(alert));
  const error_code ec = boost::system::errc::make_error_code(boost::system::errc::protocol_error);
  if (!io_error_) io_error_ = ec;
  end_read(op, read_error_, ec);
}

// Opens the whole records at data[0, len) while the read has room; `used` is how far it got.
// False when the connection failed (the op has its error).
bool Core::open_records(unsigned char* data, std::size_t len, OpState& op, std::size_t& used) {
  using tls13::ContentType;
  used = 0;
  while (op.n < op.size && !peer_closed_ && len - used >= tls13::kHeaderSize) {
    tls13::Alert alert{};
    const std::size_t size = tls13::RecordLayer::record_size(data + used, alert);
    if (size == 0) {
      fail_read(op, alert);
      return false;
    }
    if (len - used < size) break;
    ContentType type{};
    std::size_t content = 0;
    unsigned char* record = data + used;
    if (!records_->open(record, size, type, content, alert)) {
      fail_read(op, alert);
      return false;
    }
    used += size;
    const unsigned char* c = record + tls13::kHeaderSize;
    if (records_->handshake_pending() && type != ContentType::handshake) {
      fail_read(op, tls13::Alert::unexpected_message);
      return false;
    }
    // Empty records cost a decryption and carry nothing: a few in a row are allowed, as OpenSSL does.
    if (content == 0 && type == ContentType::application_data) {
      if (++empty_records_ > 32) {
        fail_read(op, tls13::Alert::unexpected_message);
        return false;
      }
      continue;
    }
    empty_records_ = 0;
    switch (type) {
      case ContentType::application_data: {
        const std::size_t n = std::min(content, op.size - op.n);
        std::memcpy(op.data + op.n, c, n);
        op.n += n;
        if (n < content) {  // the reader's buffer is full: the rest waits, opened
          plain_.assign(reinterpret_cast<const char*>(c) + n, content - n);
          plain_pos_ = 0;
        }
        break;
      }
      case ContentType::alert:
        if (content != 2) {
          fail_read(op, tls13::Alert::decode_error);
          return false;
        }
        if (c[1] == static_cast<unsigned char>(tls13::Alert::close_notify)) {
          peer_closed_ = true;    // what follows it is ignored
        } else if (c[1] != 90) {  // user_canceled is followed by close_notify; others end it
          const error_code ec = boost::system::errc::make_error_code(boost::system::errc::connection_aborted);
          io_error_ = ec;
          end_read(op, read_error_, ec);
          return false;
        }
        break;
      case ContentType::handshake: {
        bool update_requested = false;
        if (!records_->handshake(c, content, update_requested, alert)) {
          fail_read(op, alert);
          return false;
        }
        if (update_requested && !closed_) {  // answer with ours before any more data (§4.6.3)
          unsigned char record_out[8 + tls13::kSealOverhead];
          const std::size_t n = records_->seal_key_update(record_out);
          if (n == 0) {
            fail_read(op, tls13::Alert::internal_error);
            return false;
          }
          static_cast<void>(send_record(record_out, n));
        }
        break;
      }
      default:
        fail_read(op, tls13::Alert::unexpected_message);
        return false;
    }
  }
  return true;
}

void Core::read_records(OpState& op, bool& want_read) {
  // Nothing buffered anywhere (the usual state when a read starts): go straight to the wake-up
  // read, whose own first attempt is the check; a recv() here would only say EAGAIN.
  if (!op.async && !have_byte_ && plain_pos_ == plain_.size() && !record_buffered() && !io_error_ && !eof_ &&
      !peer_closed_) {
    want_read = true;
    return;
  }
  for (;;) {
    take_plain(op);
    if (op.n == op.size) return;
    if (record_buffered()) {  // records already received (the last read's buffer was full)
      std::size_t used = 0;
      const bool ok = open_records(reinterpret_cast<unsigned char*>(rx_.data()), rx_.size(), op, used);
      rx_.erase(0, used);
      if (rx_.empty()) std::string().swap(rx_);
      if (!ok) return;
      continue;
    }
    if (peer_closed_) return end_read(op, read_error_, asio::error::eof);
    if (op.n > 0) return;  // the rest may still be in the kernel: give what there is
    if (io_error_) return end_read(op, read_error_, io_error_);
    if (eof_) return end_read(op, read_error_, asio::ssl::error::stream_truncated);
    // Receive after what rx_ holds (less than one record), on the stack: an idle connection
    // keeps no buffer.
    unsigned char buffer[2 * tls13::kMaxRecord];
    std::size_t len = rx_.size();
    std::memcpy(buffer, rx_.data(), len);
    std::string().swap(rx_);
    if (have_byte_) {
      buffer[len++] = static_cast<unsigned char>(byte_);
      have_byte_ = false;
    }
    const int got = receive(reinterpret_cast<char*>(buffer) + len, sizeof buffer - len);
    if (got > 0) len += static_cast<std::size_t>(got);
    std::size_t used = 0;
    const bool ok = open_records(buffer, len, op, used);
    if (used < len) rx_.assign(reinterpret_cast<const char*>(buffer) + used, len - used);
    if (!ok) return;
    if (got == -1 && op.n == 0 && !peer_closed_ && !record_buffered() && plain_pos_ == plain_.size()) {
      want_read = true;  // the socket has nothing more now (what came began a record)
      return;
    }
  }
}

void Core::write_records(OpState& op, const asio::const_buffer* bufs, std::size_t count) {
  if (closed_) {
    op.ec = asio::error::shut_down;
    return;
  }
  unsigned char record[kRecord + tls13::kSealOverhead];
  std::size_t i = 0;
  std::size_t off = 0;
  do {
    if (i == count) break;
    if (records_->write_key_worn()) {  // a KeyUpdate first: the key has protected enough records
      const std::size_t n = records_->seal_key_update(record);
      if (n == 0 || !send_record(record, n)) break;
    }
    // Gather up to one record's worth from the buffers, encrypted straight into the record.
    std::array<tls13::RecordLayer::Part, 16> parts;
    std::size_t np = 0;
    std::size_t total = 0;
    std::size_t j = i;
    std::size_t o = off;
    while (j < count && total < kRecord && np < parts.size()) {
      const std::size_t take = std::min(bufs[j].size() - o, kRecord - total);
      parts[np++] = {static_cast<const char*>(bufs[j].data()) + o, take};
      total += take;
      o += take;
      if (o == bufs[j].size()) {
        ++j;
        o = 0;
      }
    }
    const std::size_t n = records_->seal(tls13::ContentType::application_data, parts.data(), np, record);
    if (n == 0) {
      io_error_ = boost::system::errc::make_error_code(boost::system::errc::protocol_error);
      break;
    }
    if (!send_record(record, n)) break;
    op.n += total;
    i = j;
    off = o;
  } while (out_.empty() && !flushing_ && op.n < kMaxWritePerOp);
  if (op.n == 0 && io_error_) op.ec = io_error_;  // bytes already taken are reported first
}

Action Core::start_flush(OpState& op) {
  deferred_ = false;
  flight_.swap(out_);  // out_ gets flight_'s released (empty) string
  flight_pos_ = 0;
  flushing_ = true;
  op.last = Action::flush;
  return Action::flush;
}

Action Core::advance(OpState& op, error_code ec, std::size_t n) {
  // What the last asynchronous step did.
  switch (op.last) {
    case Action::read_byte:
      op.async = true;
      if (ec) {
        // A TCP end without close_notify (which SSL_read would have returned as eof) is a truncation.
        if (!op.ec) op.ec = ec == asio::error::eof ? error_code(asio::ssl::error::stream_truncated) : ec;
        op.final = true;
      } else if (n == 1) {
        have_byte_ = true;
      }
      break;
    case Action::flush:
      op.async = true;
      flight_pos_ += n;
      if (!ec && flight_pos_ < flight_.size()) return Action::flush;
      flushing_ = false;
      std::string().swap(flight_);
      flight_pos_ = 0;
      if (event_) event_->cancel();  // wake the ops waiting for this flush
      if (ec) {
        io_error_ = ec;
        std::string().swap(out_);  // nothing more can be written
        if (op.kind == Kind::read && op.n > 0)
          read_error_ = ec;  // give the bytes first
        else if (!op.ec)
          op.ec = ec;
        op.final = true;
      }
      break;
    case Action::wait:
    case Action::post:
      op.async = true;
      break;
    case Action::done:
      break;  // the first call, from the initiating function
  }
  op.last = Action::done;

  if (!op.final) {
    bool want_read = false;
    run_tls(op, want_read);
    if (want_read) {
      // What we wrote must reach the peer before we wait for its answer.
      // (A failed send leaves io_error_, which the read reports.)
      if (deferred_ && !flushing_) static_cast<void>(send_out());
      if (!out_.empty() && !flushing_) return start_flush(op);
      op.last = Action::read_byte;
      return Action::read_byte;
    }
  }

  // Done with TLS: what this op wrote must be on the wire before it completes. A read leaves
  // its bytes to a flush already running (which goes on until out_ is empty); other ops wait.
  // Deferred handshake bytes stay for the next write or wait (above), which come next: every
  // user of the stream keeps a read pending, or is writing, or closes.
  if (!out_.empty() && !flushing_ && !deferred_) return start_flush(op);
  if (flushing_ && op.kind != Kind::read) {
    op.last = Action::wait;
    return Action::wait;
  }
  if (io_error_ && !op.ec && op.kind != Kind::read) op.ec = io_error_;
  if (!op.async) {  // never complete from inside the initiating function
    op.last = Action::post;
    return Action::post;
  }
  return Action::done;
}

}  // namespace tls_stream_impl

LeanTlsStream::LeanTlsStream(next_layer_type&& next, std::shared_ptr<asio::ssl::context> context)
    : core_(std::make_unique<tls_stream_impl::Core>(std::move(next), std::move(context))) {}
LeanTlsStream::LeanTlsStream(LeanTlsStream&&) noexcept = default;
LeanTlsStream& LeanTlsStream::operator=(LeanTlsStream&&) noexcept = default;
LeanTlsStream::~LeanTlsStream() = default;

void teardown(boost::beast::role_type role, LeanTlsStream& stream, error_code& ec) {
  stream.shutdown(ec);
  using boost::beast::websocket::teardown;
  error_code ec2;
  teardown(role, stream.next_layer(), ec ? ec2 : ec);
}

}  // namespace socketio::net::detail
