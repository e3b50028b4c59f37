// LeanTlsStream against Asio's own ssl::stream as the peer, over real loopback sockets with small
// kernel buffers (so that writes back up and the spill/flush path runs): the handshake with a
// prefix already read from the socket, large transfers both ways at once with TLS 1.3 key updates
// in the middle, many small gathered writes, close_notify both ways, a timeout, a truncated
// connection, and a move of the stream.
#include "net/tls_stream.hpp"

#include "net/tls_context.hpp"

#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace socketio::net::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string pattern(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Every test runs twice: with the stream's own TLS 1.3 records after the handshake (the
// default: OpenSSL's state freed, net/tls_record.hpp) and with OpenSSL's record layer throughout.
class LeanTlsStreamTest : public ::testing::TestWithParam<bool> {
 protected:
  bool own() const { return GetParam(); }

  void SetUp() override {
    TlsOptions options;
    options.self_signed_host = "localhost";
    options.own_record_layer = own();
    std::string error;
    tls_ = TlsContext::create(options, error);
    ASSERT_TRUE(tls_) << error;
    client_ctx_.set_verify_mode(asio::ssl::verify_none);
  }

  // Connects a client and a server with `kernel_buffer`-byte socket buffers; the server reads
  // `prefix_len` bytes of the ClientHello itself and hands them to the handshake. `client_setup`
  // runs on the client's SSL before its handshake.
  void connect(int kernel_buffer, std::size_t prefix_len,
               const std::function<void(SSL*)>& client_setup = {}) {
    tcp::acceptor acceptor(io_);
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(ep.protocol());
    if (kernel_buffer > 0) {
      acceptor.set_option(asio::socket_base::receive_buffer_size(kernel_buffer));
      acceptor.set_option(asio::socket_base::send_buffer_size(kernel_buffer));
    }
    acceptor.bind(ep);
    acceptor.listen();
    client_.emplace(io_, client_ctx_);
    auto& cs = client_->next_layer();
    cs.open(tcp::v4());
    if (kernel_buffer > 0) {
      cs.set_option(asio::socket_base::receive_buffer_size(kernel_buffer));
      cs.set_option(asio::socket_base::send_buffer_size(kernel_buffer));
    }
    cs.connect(acceptor.local_endpoint());
    tcp::socket accepted = acceptor.accept();

    if (client_setup) client_setup(client_->native_handle());
    bool client_done = false;
    bool server_done = false;
    client_->async_handshake(asio::ssl::stream_base::client, [&](error_code ec) {
      EXPECT_FALSE(ec) << ec.message();
      client_done = true;
    });
    std::string prefix(prefix_len, '\0');
    asio::read(accepted, asio::buffer(prefix));
    server_.emplace(beast::tcp_stream(std::move(accepted)), tls_->current());
    server_->async_handshake(asio::ssl::stream_base::server, asio::buffer(prefix),
                             [&](error_code ec, std::size_t used) {
                               EXPECT_FALSE(ec) << ec.message();
                               EXPECT_EQ(used, prefix_len);
                               server_done = true;
                             });
    run_until([&] { return client_done && server_done; });
    // TLS 1.3 moves to own records when they are on; TLS 1.2 never does.
    if (client_done && server_done) {
      EXPECT_EQ(server_->own_records(), own() && SSL_version(client_->native_handle()) == TLS1_3_VERSION);
    }
  }

  // Reads from the server stream until a read fails: the bytes into `got`, the error returned.
  error_code read_until_error(std::string& got) {
    error_code end;
    bool done = false;
    char buf[64];
    std::function<void()> read_next = [&] {
      server_->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t n) {
        got.append(buf, n);
        if (ec) {
          end = ec;
          done = true;
          return;
        }
        read_next();
      });
    };
    read_next();
    run_until([&] { return done; });
    return end;
  }

  template <class Pred>
  void run_until(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    io_.restart();
    while (!done() && std::chrono::steady_clock::now() < deadline)
      io_.run_one_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(done()) << "timed out";
  }

  asio::io_context io_;
  std::unique_ptr<TlsContext> tls_;
  asio::ssl::context client_ctx_{asio::ssl::context::tls_client};
  std::optional<asio::ssl::stream<tcp::socket>> client_;
  std::optional<LeanTlsStream> server_;
};

TEST_P(LeanTlsStreamTest, LargeTransfersBothWaysAtOnceWithKeyUpdatesAndSmallKernelBuffers) {
  connect(8192, 11);
  ASSERT_FALSE(HasFailure());
  const std::string to_client = pattern(6 << 20, 1);
  const std::string to_server = pattern(5 << 20, 2);
  std::string at_client(to_client.size(), '\0');
  std::string at_server(to_server.size(), '\0');
  // Each side asks the other to update its keys: the answers are written by reads, while the
  // writes of the same stream are backed up. Own records: the server updates its own key every
  // 100 records (the 2^23 of production, made small).
  if (own())
    tls13::RecordLayer::set_key_update_interval_for_tests(100);
  else
    ASSERT_EQ(SSL_key_update(server_->native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
  int done = 0;
  asio::async_write(*server_, asio::buffer(to_client), [&](error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, to_client.size());
    ++done;
  });
  asio::async_read(*server_, asio::buffer(at_server), [&](error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, to_server.size());
    ++done;
  });
  // The client writes in 64 KiB pieces, asking for a key update before each: the server's reads
  // keep having something to write while its own big write is backed up.
  std::size_t client_sent = 0;
  std::function<void()> client_next = [&] {
    if (client_sent == to_server.size()) {
      ++done;
      return;
    }
    EXPECT_EQ(SSL_key_update(client_->native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
    const std::size_t n = std::min<std::size_t>(64 * 1024, to_server.size() - client_sent);
    asio::async_write(*client_, asio::buffer(to_server.data() + client_sent, n),
                      [&, n](error_code ec, std::size_t) {
                        EXPECT_FALSE(ec) << ec.message();
                        if (ec) return;
                        client_sent += n;
                        client_next();
                      });
  };
  client_next();
  asio::async_read(*client_, asio::buffer(at_client), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    ++done;
  });
  run_until([&] { return done == 4; });
  tls13::RecordLayer::set_key_update_interval_for_tests(std::uint64_t{1} << 23);
  EXPECT_TRUE(at_client == to_client) << "server to client bytes differ";
  EXPECT_TRUE(at_server == to_server) << "client to server bytes differ";

  // The stream moves (as the HTTP session hands it to the WebSocket session) and goes on.
  LeanTlsStream moved(std::move(*server_));
  server_.reset();

  // close_notify from the server: the client reads eof; the client's answer: the server reads eof.
  bool shut = false;
  moved.async_shutdown([&](error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    shut = true;
  });
  char byte = 0;
  error_code client_read;
  bool client_got = false;
  client_->async_read_some(asio::buffer(&byte, 1), [&](error_code ec, std::size_t) {
    client_read = ec;
    client_got = true;
  });
  run_until([&] { return shut && client_got; });
  EXPECT_EQ(client_read, asio::error::eof) << client_read.message();
  bool client_shut = false;
  client_->async_shutdown([&](error_code) { client_shut = true; });
  error_code server_read;
  bool server_got = false;
  moved.async_read_some(asio::buffer(&byte, 1), [&](error_code ec, std::size_t) {
    server_read = ec;
    server_got = true;
  });
  run_until([&] { return client_shut && server_got; });
  EXPECT_EQ(server_read, asio::error::eof) << server_read.message();
}

TEST_P(LeanTlsStreamTest, ManySmallBuffersAndWritesArriveInOrder) {
  connect(4096, 1);
  ASSERT_FALSE(HasFailure());
  // One gathered write of 3000 small buffers from the server...
  const std::string body = pattern(3000 * 37, 3);
  std::vector<asio::const_buffer> pieces;
  for (std::size_t i = 0; i < 3000; ++i) pieces.emplace_back(body.data() + i * 37, 37);
  std::string at_client(body.size(), '\0');
  int done = 0;
  asio::async_write(*server_, pieces, [&](error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, body.size());
    ++done;
  });
  asio::async_read(*client_, asio::buffer(at_client), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    ++done;
  });
  // ...and 2000 separate small writes from the client, read by small reads.
  const std::string stream = pattern(2000 * 23, 4);
  std::string at_server;
  std::size_t sent = 0;
  std::function<void()> send_next = [&] {
    if (sent == 2000) {
      ++done;
      return;
    }
    asio::async_write(*client_, asio::buffer(stream.data() + sent * 23, 23), [&](error_code ec, std::size_t) {
      EXPECT_FALSE(ec) << ec.message();
      ++sent;
      send_next();
    });
  };
  send_next();
  char small[100];
  std::function<void()> read_next = [&] {
    server_->async_read_some(asio::buffer(small), [&](error_code ec, std::size_t n) {
      EXPECT_FALSE(ec) << ec.message();
      at_server.append(small, n);
      if (ec || at_server.size() >= stream.size()) {
        ++done;
        return;
      }
      read_next();
    });
  };
  read_next();
  run_until([&] { return done == 4; });
  EXPECT_TRUE(at_client == body);
  EXPECT_TRUE(at_server == stream);
}

TEST_P(LeanTlsStreamTest, ShutdownBesideABackedUpWriteAndAPendingRead) {
  connect(4096, 7);
  ASSERT_FALSE(HasFailure());
  // The HTTP session may close while a response is still being written and a read is pending:
  // the close_notify waits for the flush of the write and follows its bytes.
  const std::string to_client = pattern(200 * 1024, 5);
  int done = 0;
  error_code server_read;
  char byte = 0;
  server_->async_read_some(asio::buffer(&byte, 1), [&](error_code ec, std::size_t) {
    server_read = ec;
    ++done;
  });
  std::size_t written = 0;
  server_->async_write_some(asio::buffer(to_client), [&](error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    written = n;
    ++done;
  });
  server_->async_shutdown([&](error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    ++done;
  });
  std::string at_client;
  error_code client_end;
  char buf[4096];
  std::function<void()> client_next = [&] {
    client_->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t n) {
      at_client.append(buf, n);
      if (!ec) return client_next();
      client_end = ec;
      ++done;
    });
  };
  client_next();
  run_until([&] { return done == 3; });  // the write, the shutdown and the client's eof
  EXPECT_GT(written, 0u);
  EXPECT_TRUE(at_client == to_client.substr(0, written));
  EXPECT_EQ(client_end, asio::error::eof) << client_end.message();
  server_->next_layer().close();  // what the session does next: the pending read ends
  run_until([&] { return done == 4; });
  EXPECT_EQ(server_read, asio::error::operation_aborted) << server_read.message();
}

// A TLS 1.3 server's session ticket waits for the server's first write and leaves with it (one
// send less per connection); the client's handshake does not wait for it.
TEST_P(LeanTlsStreamTest, SessionTicketLeavesWithTheFirstWrite) {
  connect(0, 5);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(SSL_version(client_->native_handle()), TLS1_3_VERSION);
  io_.restart();
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(client_->next_layer().available(), 0U) << "the ticket went out on its own";
  const std::string hello = "hello";
  bool wrote = false;
  asio::async_write(*server_, asio::buffer(hello), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    wrote = true;
  });
  run_until([&] { return wrote; });
  std::string first(hello.size(), '\0');
  asio::read(*client_, asio::buffer(first));  // takes in the ticket before the data
  EXPECT_EQ(first, hello);
  EXPECT_EQ(SSL_SESSION_is_resumable(SSL_get0_session(client_->native_handle())), 1);
}

// When the server reads first, the ticket leaves before the read waits; a TLS 1.2 handshake's
// last flight (the server's Finished, which the client waits for) is never held back.
TEST_P(LeanTlsStreamTest, SessionTicketLeavesBeforeAReadWaitsAndTls12FinishesAtOnce) {
  for (const bool tls12 : {false, true}) {
    SCOPED_TRACE(tls12 ? "TLS 1.2" : "TLS 1.3");
    if (tls12) SSL_CTX_set_max_proto_version(client_ctx_.native_handle(), TLS1_2_VERSION);
    connect(0, 5);  // the server does nothing after its handshake until the client's is done
    ASSERT_FALSE(HasFailure());
    char buf[16];
    std::size_t got = 0;
    bool done = false;
    server_->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t n) {
      EXPECT_FALSE(ec) << ec.message();
      got = n;
      done = true;
    });
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
    if (!tls12) {
      EXPECT_GT(client_->next_layer().available(), 0U) << "the ticket was not sent";
    }
    asio::write(*client_, asio::buffer("ping", 4));
    run_until([&] { return done; });
    EXPECT_EQ(std::string(buf, got), "ping");
    char one = 0;
    bool read_done = false;
    asio::async_write(*server_, asio::buffer("!", 1), [](error_code, std::size_t) {});
    asio::async_read(*client_, asio::buffer(&one, 1), [&](error_code ec, std::size_t) {
      EXPECT_FALSE(ec) << ec.message();
      read_done = true;
    });
    run_until([&] { return read_done; });
    EXPECT_EQ(one, '!');
    EXPECT_EQ(SSL_SESSION_is_resumable(SSL_get0_session(client_->native_handle())), 1);
    server_.reset();
    client_.reset();
  }
}

TEST_P(LeanTlsStreamTest, IdleReadTimesOutThroughTheTcpStream) {
  connect(0, 5);
  ASSERT_FALSE(HasFailure());
  server_->next_layer().expires_after(std::chrono::milliseconds(100));
  char buf[16];
  error_code got;
  bool done = false;
  server_->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) {
    got = ec;
    done = true;
  });
  run_until([&] { return done; });
  EXPECT_EQ(got, beast::error::timeout) << got.message();
}

TEST_P(LeanTlsStreamTest, PeerClosingWithoutCloseNotifyIsATruncation) {
  connect(0, 5);
  ASSERT_FALSE(HasFailure());
  // The client reads something first (and with it the session tickets: unread data at close
  // would make the kernel send a reset instead of a FIN).
  const std::string hello = "hello";
  bool wrote = false;
  asio::async_write(*server_, asio::buffer(hello), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    wrote = true;
  });
  std::string first(hello.size(), '\0');
  asio::read(*client_, asio::buffer(first));
  run_until([&] { return wrote; });
  EXPECT_EQ(first, hello);
  asio::write(*client_, asio::buffer(hello));
  client_->next_layer().close();
  std::string got;
  const error_code end = read_until_error(got);
  EXPECT_EQ(got, hello);
  EXPECT_EQ(end, asio::ssl::error::stream_truncated) << end.message();
}

// The client's padded records (TLS 1.3 lets a sender pad every record with zeros after its
// type) are opened, with data both ways at once. (Resumed handshakes: socketio-bench --resume.)
TEST_P(LeanTlsStreamTest, PaddedRecordsBothWays) {
  // Every client record padded to 256 bytes.
  connect(0, 5, [](SSL* ssl) { SSL_set_block_padding(ssl, 256); });
  ASSERT_FALSE(HasFailure());

  const std::string up = pattern(40000, 9);
  const std::string down = pattern(30000, 10);
  std::string at_server(up.size(), '\0');
  std::string at_client(down.size(), '\0');
  int done = 0;
  asio::async_write(*client_, asio::buffer(up), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    ++done;
  });
  asio::async_read(*server_, asio::buffer(at_server), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    ++done;
  });
  asio::async_write(*server_, asio::buffer(down), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    ++done;
  });
  asio::async_read(*client_, asio::buffer(at_client), [&](error_code ec, std::size_t) {
    EXPECT_FALSE(ec) << ec.message();
    ++done;
  });
  run_until([&] { return done == 4; });
  EXPECT_TRUE(at_server == up);
  EXPECT_TRUE(at_client == down);
}

// A record that does not authenticate (here one forged on the client's socket) fails the read,
// every later op too, and the client hears an alert.
TEST_P(LeanTlsStreamTest, ForgedRecordFailsTheConnectionWithAnAlert) {
  connect(0, 5);
  ASSERT_FALSE(HasFailure());
  asio::write(*client_, asio::buffer("real", 4));
  unsigned char forged[5 + 40] = {23, 3, 3, 0, 40};
  for (std::size_t i = 5; i < sizeof forged; ++i) forged[i] = static_cast<unsigned char>(i * 31);
  asio::write(client_->next_layer(), asio::buffer(forged));
  std::string got;
  const error_code end = read_until_error(got);
  EXPECT_EQ(got, "real");
  EXPECT_TRUE(end);
  if (own()) {
    EXPECT_EQ(end, boost::system::errc::protocol_error) << end.message();
  }
  bool wrote = false;
  error_code write_ec;
  asio::async_write(*server_, asio::buffer("x", 1), [&](error_code ec, std::size_t) {
    write_ec = ec;
    wrote = true;
  });
  run_until([&] { return wrote; });
  EXPECT_TRUE(write_ec) << "a write after the failure";
  char byte = 0;
  error_code client_ec;
  asio::read(*client_, asio::buffer(&byte, 1), client_ec);
  EXPECT_TRUE(client_ec);  // the alert (bad_record_mac)
}

// Empty application-data records cost a decryption each and carry nothing: 32 in a row are
// taken (as OpenSSL takes them), the 33rd ends the connection. The client's traffic key, caught
// as the server catches its own, seals what OpenSSL's client never sends.
TEST_P(LeanTlsStreamTest, ThirtyThreeEmptyRecordsInARowEndTheConnection) {
  tls13::capture_secrets(client_ctx_.native_handle());
  for (const int empties : {32, 33}) {
    SCOPED_TRACE(empties);
    tls13::Secrets secrets;
    connect(0, 5, [&](SSL* ssl) { tls13::watch(ssl, &secrets); });
    ASSERT_FALSE(HasFailure());
    ASSERT_GT(secrets.client_size, 0);
    const SSL_CIPHER* cipher = SSL_get_current_cipher(client_->native_handle());
    auto client_records =
        tls13::RecordLayer::make(static_cast<std::uint16_t>(SSL_CIPHER_get_protocol_id(cipher)),
                                 secrets.server, secrets.client, secrets.client_size, 0, 0);
    ASSERT_TRUE(client_records);
    std::string wire;
    unsigned char record[16 + tls13::kSealOverhead];
    for (int i = 0; i < empties; ++i) {
      const std::size_t n = client_records->seal(tls13::ContentType::application_data, nullptr, 0, record);
      wire.append(reinterpret_cast<const char*>(record), n);
    }
    const tls13::RecordLayer::Part ok{"ok", 2};
    const std::size_t n = client_records->seal(tls13::ContentType::application_data, &ok, 1, record);
    wire.append(reinterpret_cast<const char*>(record), n);
    asio::write(client_->next_layer(), asio::buffer(wire));
    if (empties == 32) {
      char two[2];
      bool done = false;
      asio::async_read(*server_, asio::buffer(two), [&](error_code ec, std::size_t) {
        EXPECT_FALSE(ec) << ec.message();
        done = true;
      });
      run_until([&] { return done; });
      EXPECT_EQ(std::string(two, 2), "ok");
    } else {
      std::string got;
      const error_code end = read_until_error(got);
      EXPECT_EQ(got, "");
      EXPECT_TRUE(end);
    }
    server_.reset();
    client_.reset();
  }
}

INSTANTIATE_TEST_SUITE_P(Records, LeanTlsStreamTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Own" : "OpenSsl";
                         });

}  // namespace
}  // namespace socketio::net::detail
