// What the test servers under examples/ (conformance, features, cluster_node) share with the
// integration harness (tests/integration/README.md): the flags --host, --port, --threads and
// --log-level, logging to stderr, the "NAME listening on http://HOST:PORT" line on stdout, and a
// graceful stop on SIGINT/SIGTERM; and reattach() for relaying ack values with their binary.
#pragma once

#include "socketio/server.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>

namespace socketio::examples {

// A value of `from` with its binary placeholders re-attached to `to` (renumbered): for putting
// values received from several clients (acks) into one reply.
inline boost::json::value reattach(const Args& from, const boost::json::value& v, Args& to) {
  if (const auto* b = from.binary(v)) return to.attach(*b);
  if (v.is_array()) {
    boost::json::array a;
    for (const auto& x : v.get_array()) a.push_back(reattach(from, x, to));
    return a;
  }
  if (v.is_object()) {
    boost::json::object o;
    for (const auto& kv : v.get_object()) o[kv.key()] = reattach(from, kv.value(), to);
    return o;
  }
  return v;
}

struct CommonFlags {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  std::size_t threads = 1;
  std::string log_level = "warn";
};

inline void add_common_flags(CLI::App& app, CommonFlags& flags) {
  app.add_option("--host", flags.host, "address to bind");
  app.add_option("--port", flags.port, "port (0: any free port)");
  app.add_option("--threads", flags.threads, "worker threads")->check(CLI::Range(1, 64));
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error");
}

// socketio-server's permessage-deflate flags (app/config.cpp), same names and ranges, for the
// test servers: --per-message-deflate[=BOOL], then each option with a value.
inline void add_deflate_flags(CLI::App& app, PerMessageDeflate& d) {
  app.add_flag("--per-message-deflate", d.enabled, "permessage-deflate WebSocket compression");
  app.add_option("--per-message-deflate-threshold", d.threshold, "bytes");
  app.add_option("--per-message-deflate-server-no-context-takeover", d.server_no_context_takeover,
                 "true|false");
  app.add_option("--per-message-deflate-client-no-context-takeover", d.client_no_context_takeover,
                 "true|false");
  app.add_option("--per-message-deflate-server-max-window-bits", d.server_max_window_bits)
      ->check(CLI::Range(9, 15));
  app.add_option("--per-message-deflate-client-max-window-bits", d.client_max_window_bits)
      ->check(CLI::Range(8, 15));
  app.add_option("--per-message-deflate-mem-level", d.mem_level)->check(CLI::Range(1, 9));
  app.add_option("--per-message-deflate-level", d.level)->check(CLI::Range(0, 9));
}

// Parses the command line; returns the exit code to stop with (2 for bad flags), or -1 to go on.
inline int parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

inline void init_logging(const char* logger, const CommonFlags& flags) {
  spdlog::set_default_logger(spdlog::stderr_color_mt(logger));
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
}

inline void announce(const char* name, const CommonFlags& flags, std::uint16_t port,
                     const char* scheme = "http") {
  std::printf("%s listening on %s://%s:%u\n", name, scheme, flags.host.c_str(), static_cast<unsigned>(port));
  std::fflush(stdout);
}

// Runs the server until SIGINT/SIGTERM; then on_stop (on the signal thread), and the server stops
// within 500 ms. Returns once it has.
inline void serve_until_signal(Server& io, const std::function<void()>& on_stop = {}) {
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    if (on_stop) on_stop();
    io.stop(std::chrono::milliseconds(500));
  });
  std::thread signal_thread([&] { signals_io.run(); });
  io.run();
  signals_io.stop();
  signal_thread.join();
}

}  // namespace socketio::examples
