// A minimal application on the installed library (find_package(socketio)): an echo server with
// its Prometheus metrics and an optional Redis cluster. Only the public headers are used.
//   socketio-consumer [--redis redis://127.0.0.1:6379] [--once]
// --once: listen on a free port, scrape its own metrics, print them and stop (the install test).
#include <socketio/metrics.hpp>
#include <socketio/redis.hpp>
#include <socketio/server.hpp>

#include <cstdio>
#include <optional>
#include <string>

int main(int argc, char** argv) {
  std::string redis_url;
  bool once = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--redis" && i + 1 < argc) redis_url = argv[++i];
    if (a == "--once") once = true;
  }
  std::optional<socketio::redis::RedisConnection> redis;
  socketio::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = once ? 0 : 3000;
  options.serve_metrics = true;
  options.serve_health = true;
  if (!redis_url.empty()) {
    socketio::redis::RedisConfig rc;
    rc.url = redis_url;
    redis.emplace(rc);
    options.adapter = redis->factory();
  }
  socketio::Server io(options);
  auto greetings = io.metrics().counter("consumer_greetings_total", "Greetings answered");
  io.on_connection([greetings](const socketio::SocketPtr& s) {
    s->on("hello", [greetings](socketio::Event& ev) {
      greetings.inc();
      ev.ack(socketio::Args().add("hello from C++"));
    });
  });
  const auto port = io.listen();
  std::printf("socketio-consumer listening on http://127.0.0.1:%u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
  if (once) {
    const std::string text = io.metrics().scrape();
    std::fputs(text.c_str(), stdout);
    io.stop(std::chrono::milliseconds(0));
    return text.find("consumer_greetings_total 0") != std::string::npos ? 0 : 1;
  }
  io.run();
  return 0;
}
