// socketio-conformance-server --port P [--host H] [--threads N]
// One port, two endpoints that exist so the wire protocol can be checked by independent test
// suites (and by tests/integration):
//  - /engine.io/: a bare Engine.IO v4 server echoing every message unchanged (text as text,
//    binary as binary); pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000.
//  - /socket.io/: Socket.IO with pingInterval 300, pingTimeout 200, connectTimeout 45 s.
//    Namespace "/" emits `auth` with the CONNECT payload on connect, answers `message` with
//    `message-back` (same arguments) and acks `message-with-ack` with the same arguments;
//    "/custom" emits `auth` likewise; other namespaces are refused ("Invalid namespace").
#include "eio/server.hpp"
#include "sio/server_access.hpp"
#include "socketio/server.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/value_from.hpp>

#include <cstdio>

namespace {

class Echo final : public socketio::eio::SessionHandler {
 public:
  explicit Echo(std::weak_ptr<socketio::eio::Session> s) : session_(std::move(s)) {}
  void on_message(std::string_view data, bool binary) override {
    if (auto s = session_.lock()) s->send(socketio::core::make_bytes(data), binary);
  }
  void on_close(std::string_view, std::string_view) override {}

 private:
  std::weak_ptr<socketio::eio::Session> session_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Engine.IO / Socket.IO conformance server"};
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  std::size_t threads = 1;
  std::string log_level = "warn";
  int ping_interval = 300, ping_timeout = 200;
  app.add_option("--ping-interval", ping_interval, "ms (both endpoints)")->check(CLI::Range(1, 3'600'000));
  app.add_option("--ping-timeout", ping_timeout, "ms (both endpoints)")->check(CLI::Range(1, 3'600'000));
  app.add_option("--host", host, "address to bind");
  app.add_option("--port", port, "port (0: any free port)");
  app.add_option("--threads", threads, "worker threads")->check(CLI::Range(1, 64));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_default_logger(spdlog::stderr_color_mt("conformance"));

  using namespace socketio;
  ServerOptions so;
  so.host = host;
  so.port = port;
  so.threads = threads;
  so.ping_interval = std::chrono::milliseconds(ping_interval);
  so.ping_timeout = std::chrono::milliseconds(ping_timeout);
  so.connect_timeout = std::chrono::milliseconds(45'000);
  so.cors.credentials = false;
  Server io(so);

  auto emit_auth = [](const SocketPtr& s) {
    s->emit("auth", Args().add(boost::json::value(s->handshake().auth)));
  };
  io.on_connection([emit_auth](const SocketPtr& s) {
    emit_auth(s);
    s->on("message", [](Event& ev) { ev.socket->emit("message-back", ev.args); });
    s->on("message-with-ack", [](Event& ev) { ev.ack(ev.args); });
  });
  io.of("/custom").on_connection(emit_auth);

  eio::Options eo;
  eo.path = "/engine.io/";
  eo.ping_interval = std::chrono::milliseconds(ping_interval);
  eo.ping_timeout = std::chrono::milliseconds(ping_timeout);
  eo.max_http_buffer_size = 1'000'000;
  eo.cors.enabled = true;
  eio::Server engine(ServerAccess::pool(io), eo);
  engine.on_connection(
      [](const std::shared_ptr<eio::Session>& s) { s->set_handler(std::make_shared<Echo>(s)); });
  ServerAccess::add_route(
      io, [&](const net::HttpRequest& r) { return engine.matches(r); }, engine);

  try {
    port = io.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::printf("socketio-conformance-server listening on http://%s:%u\n", host.c_str(), port);
  std::fflush(stdout);

  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    engine.close_all("server shutting down");
    io.stop(std::chrono::milliseconds(500));
  });
  signals_io.run();
  io.run();
  return 0;
}
