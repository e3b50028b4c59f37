// socketio-conformance-server --port P [--host H] [--threads N]
// One port, two endpoints that exist so the wire protocol can be checked by independent test
// suites: /engine.io/ is a bare Engine.IO v4 server echoing every message unchanged (text as
// text, binary as binary), pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000.
#include "eio/server.hpp"
#include "net/router.hpp"
#include "net/server.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <thread>

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
  app.add_option("--host", host, "address to bind");
  app.add_option("--port", port, "port (0: any free port)");
  app.add_option("--threads", threads, "worker threads")->check(CLI::Range(1, 64));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));

  using namespace socketio;
  net::ShardPool pool(threads);
  eio::Options eo;
  eo.path = "/engine.io/";
  eo.ping_interval = std::chrono::milliseconds(300);
  eo.ping_timeout = std::chrono::milliseconds(200);
  eo.max_http_buffer_size = 1'000'000;
  eo.cors.enabled = true;
  eio::Server engine(pool, eo);
  engine.on_connection([](const std::shared_ptr<eio::Session>& s) { s->set_handler(std::make_shared<Echo>(s)); });

  net::Router router;
  router.add([&](const net::HttpRequest& r) { return engine.matches(r); }, engine);

  net::ServerOptions so;
  so.host = host;
  so.port = port;
  so.body_limit = eo.max_http_buffer_size;
  so.ws_message_limit = eo.max_http_buffer_size;
  net::Server server(pool, so, router);
  try {
    port = server.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  pool.start();
  std::printf("socketio-conformance-server listening on http://%s:%u\n", host.c_str(), port);
  std::fflush(stdout);

  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    server.stop_accepting();
    engine.close_all("server shutting down");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    pool.stop();
  });
  signals_io.run();
  pool.join();
  return 0;
}
