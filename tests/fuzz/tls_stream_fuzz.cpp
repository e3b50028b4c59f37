// libFuzzer target for the server's TLS stream (src/net/tls_stream.*, LeanTlsStream): what a
// client sends on a TLS port, handshake records and the records after them, goes through the
// custom BIO exactly as on a live connection. The input's first byte says how many of the next
// bytes arrive as the detector's prefix (handed to async_handshake, as server.cpp does); the rest
// comes from the socket (a socketpair in place of TCP), then EOF. The server side runs the
// handshake and, if it completes, reads until the stream ends, then sends close_notify; every
// byte it writes back is read and dropped. The certificate is a self-signed one made by
// TlsContext at start-up. Built by scripts/fuzz.sh.
//
// Limit: the client's key share cannot match the server's fresh ephemeral key, so a replayed
// transcript never completes a handshake; what is covered is OpenSSL's record and handshake
// parsing driven through our BIO, the prefix, EOF/truncation and alert paths.
#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

namespace asio = boost::asio;
using socketio::net::TlsContext;
using socketio::net::TlsOptions;
using socketio::net::detail::LeanTlsStream;

std::shared_ptr<asio::ssl::context> server_context() {
  static const std::shared_ptr<TlsContext> ctx = [] {
    TlsOptions o;
    o.self_signed_host = "localhost";
    std::string err;
    auto c = TlsContext::create(o, err);
    if (!c) {
      std::fprintf(stderr, "tls context: %s\n", err.c_str());
      std::abort();
    }
    return std::shared_ptr<TlsContext>(std::move(c));
  }();
  return ctx->current();
}

void drain(int fd) {
  char sink[16384];
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
  }
}

struct Server {
  LeanTlsStream stream;
  std::array<char, 4096> buf{};
  bool done = false;

  void read() {
    stream.async_read_some(asio::buffer(buf), [this](boost::system::error_code ec, std::size_t) {
      if (ec) {
        stream.async_shutdown([this](boost::system::error_code) { done = true; });
        return;
      }
      read();
    });
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t prefix = std::min<std::size_t>(data[0], size - 1);
  const auto* bytes = reinterpret_cast<const char*>(data) + 1;
  const std::size_t rest = size - 1 - prefix;

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 0;
  int sndbuf = 1 << 20;
  ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (rest > 0 && ::send(fds[1], bytes + prefix, rest, MSG_DONTWAIT) < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return 0;
  }
  ::shutdown(fds[1], SHUT_WR);

  asio::io_context io;
  {
    asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    socket.assign(asio::ip::tcp::v4(), fds[0], ec);  // the stream only recv()s and send()s
    if (ec) std::abort();
    Server server{LeanTlsStream(boost::beast::tcp_stream(std::move(socket)), server_context())};
    server.stream.async_handshake(asio::ssl::stream_base::server, asio::buffer(bytes, prefix),
                                  [&server](boost::system::error_code e, std::size_t) {
                                    if (e)
                                      server.done = true;
                                    else
                                      server.read();
                                  });
    // Until the server is done, or nothing has run for a while (an op waiting for what the
    // input will never bring).
    for (int idle = 0; !server.done && idle < 200;) {
      idle = io.poll() == 0 ? idle + 1 : 0;
      if (io.stopped()) io.restart();
      drain(fds[1]);
    }
  }  // the stream closes its end
  io.poll();
  ::close(fds[1]);
  return 0;
}
