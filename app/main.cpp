// socketio-server: the ready-made Socket.IO chat and message relay (chat.hpp), the target of the
// integration tests and the benchmarks. main() turns flags and config file into a
// socketio::Server, installs the chat handlers, listens, and prints one line on stdout,
// "socketio-server listening on http(s)://HOST:PORT", once clients can connect: scripts wait
// for it. Logs go to stderr. Exit codes: 0 after SIGINT/SIGTERM (graceful stop), 1 when it
// cannot listen (port in use), 2 for bad configuration, TLS files included.
//
// Threads: the server's workers; this (main) thread blocks in Server::run(); a control thread
// runs an io_context for the signals (SIGINT/SIGTERM stop, SIGHUP reloads TLS) and the
// --tls-watch timer. Server::stop() runs on a thread of its own so that the shutdown deadline
// (exit 1 if stopping takes longer than 2.8 s) still fires while it drains.
#include "chat.hpp"
#include "config.hpp"
#include "logging.hpp"
#include "page_config.hpp"
#include "tls_watch.hpp"

#include "socketio/server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>
#include "socketio/admin_ui.hpp"
#include "socketio/redis.hpp"
#include "socketio/topology.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

namespace {

namespace asio = boost::asio;
using socketio::app::AppSettings;

// A graceful stop lets clients receive their disconnect and the transports flush; the whole
// shutdown must stay well inside the 3 s that process managers and the tests allow.
// --drain-timeout (default 1 s) bounds the drain; the deadline adds a margin for the rest of the
// stop (the 200 ms notice, joining the threads): 2.8 s with the default.
constexpr auto kStopMargin = std::chrono::milliseconds(1800);
constexpr auto kTlsPollInterval = std::chrono::seconds(2);
constexpr auto kRedisReadyWait = std::chrono::milliseconds(10'000);
// Leaving the node registry comes first on SIGTERM (no new client is sent to a draining node);
// a Redis that does not answer must not eat the drain.
constexpr auto kWithdrawWait = std::chrono::milliseconds(500);

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

void report_tls_warnings(const socketio::Server& server) {
  for (const std::string& w : server.tls_warnings()) std::fprintf(stderr, "warning: tls: %s\n", w.c_str());
}

void reload_tls(socketio::Server& server, const AppSettings& settings, const char* why) {
  if (!settings.server.tls.enabled()) {
    spdlog::info("{}: TLS is off, nothing to reload", why);
    return;
  }
  std::string error;
  if (server.reload_tls(error)) {
    spdlog::info("tls: certificates reloaded ({})", why);
    for (const std::string& w : server.tls_warnings()) spdlog::warn("tls: {}", w);
  } else {
    spdlog::error("tls: reload refused ({}), keeping the current certificates: {}", why, error);
  }
}

// glibc's heap, read at scrape time (mallinfo2 walks the arenas' free lists: a scrape's cost, not
// the hot path's). Next to the process RSS it tells memory held by the server (in_use) from memory
// freed but not given back to the system (free: fragmentation, or waiting for the next
// --memory-trim-interval).
void expose_heap(socketio::Server& server) {
  server.metrics().add_collector([](socketio::MetricsSink& sink) {
    const struct mallinfo2 mi = mallinfo2();
    const auto heap = [&](const char* state, std::size_t bytes) {
      sink.gauge("socketio_heap_bytes", "glibc heap: bytes in use, free in the arenas, mmapped blocks",
                 {{"state", state}}, static_cast<double>(bytes));
    };
    heap("in_use", mi.uordblks);
    heap("free", mi.fordblks);
    heap("mmapped", mi.hblkhd);
  });
}

// --malloc-thread-cache=false (why, and the soak's figures: docs/reliability.md, session 12).
// glibc reads its tunables once, when the process starts, and has no call that turns the
// per-thread cache off later; so the server starts itself again, same pid, arguments and
// environment, with the tunable added.
constexpr const char* kNoThreadCache = "glibc.malloc.tcache_count=0";
// Set in the restarted process. Not the tunable itself: glibc 2.36 cuts GLIBC_TUNABLES at the first
// ':' as it reads it, so a caller's tunable before ours hides ours from getenv.
constexpr const char* kRestartedMarker = "SOCKETIO_SERVER_NO_THREAD_CACHE";

void restart_without_thread_cache(char** argv) {
  if (std::getenv(kRestartedMarker)) return;  // this is the restarted process
  const char* current = std::getenv("GLIBC_TUNABLES");
  const std::string tunables =
      current && *current ? std::string(current) + ":" + kNoThreadCache : kNoThreadCache;
  if (::setenv("GLIBC_TUNABLES", tunables.c_str(), 1) == 0 && ::setenv(kRestartedMarker, "1", 1) == 0)
    ::execv("/proc/self/exe", argv);
  std::fprintf(stderr,
               "warning: --malloc-thread-cache=false: could not restart with %s (%s); the cache stays on\n",
               kNoThreadCache, std::strerror(errno));
}

// The Redis adapter's counters in /metrics, and its subscriptions in /readyz.
void expose_redis(socketio::Server& server, const socketio::redis::RedisConnection& redis) {
  server.metrics().add_collector([&redis](socketio::MetricsSink& sink) {
    const auto& c = redis.counters();
    const auto get = [](const std::atomic<std::uint64_t>& a) { return static_cast<double>(a.load()); };
    sink.counter("socketio_redis_published_total", "Messages published to Redis", {}, get(c.published));
    sink.counter("socketio_redis_publish_failures_total", "Publishes that failed (Redis down or refused)", {},
                 get(c.publish_failed));
    sink.counter("socketio_redis_received_total", "Broadcasts from other nodes delivered locally", {},
                 get(c.received));
    sink.counter("socketio_redis_dropped_total", "Messages from Redis dropped (oversized, undecodable)", {},
                 get(c.dropped));
    sink.counter("socketio_redis_publish_overflow_total",
                 "Commands dropped because Redis was slow (--redis-max-publish-queue)", {},
                 get(c.publish_overflow));
    sink.counter("socketio_redis_sessions_saved_total", "Recovery sessions written to Redis (streams mode)",
                 {}, get(c.sessions_saved));
    sink.counter("socketio_redis_session_write_failures_total",
                 "Recovery session writes that failed or were dropped (streams mode)", {},
                 get(c.session_writes_failed));
    sink.counter("socketio_redis_sessions_restored_total", "Sessions recovered from Redis (streams mode)", {},
                 get(c.sessions_restored));
    sink.counter("socketio_redis_restores_failed_total",
                 "Recoveries that gave a fresh session instead (streams mode)", {}, get(c.restores_failed));
    sink.counter("socketio_redis_connection_losses_total",
                 "Redis connections lost (made again with --redis-reconnect-max-delay backoff)", {},
                 get(c.connection_losses));
    const char* cluster_help = "Redis Cluster: slot maps read, redirections, channels subscribed again";
    sink.counter("socketio_redis_cluster_events_total", cluster_help, {{"event", "refresh"}},
                 get(c.cluster_refreshes));
    sink.counter("socketio_redis_cluster_events_total", cluster_help, {{"event", "refresh_failure"}},
                 get(c.cluster_refresh_failures));
    sink.counter("socketio_redis_cluster_events_total", cluster_help, {{"event", "redirect"}},
                 get(c.cluster_redirects));
    sink.counter("socketio_redis_cluster_events_total", cluster_help, {{"event", "redirect_failure"}},
                 get(c.cluster_redirect_failures));
    sink.counter("socketio_redis_cluster_events_total", cluster_help, {{"event", "resubscribe"}},
                 get(c.cluster_resubscribes));
    sink.gauge("socketio_redis_subscribed", "1 when Redis confirmed every subscription", {},
               redis.wait_until_subscribed(std::chrono::milliseconds(0)) ? 1 : 0);
  });
  server.add_readiness_check("redis", [&redis](std::string& why) {
    if (redis.wait_until_subscribed(std::chrono::milliseconds(0))) return true;
    why = "subscriptions not confirmed by Redis";
    return false;
  });
}

// Runs the control io_context: signals and the TLS watch timer.
class Control {
 public:
  // before_stop runs on the stop thread, before the server drains.
  Control(socketio::Server& server, const AppSettings& settings, std::function<void()> before_stop)
      : server_(server),
        before_stop_(std::move(before_stop)),
        settings_(settings),
        stop_signals_(io_, SIGINT, SIGTERM),
        hup_(io_, SIGHUP),
        watch_timer_(io_),
        trim_timer_(io_),
        deadline_(io_),
        watch_(settings.server.tls) {}

  void start() {
    wait_stop();
    wait_hup();
    if (settings_.tls_watch) {
      if (watch_.empty()) {
        std::fprintf(stderr,
                     "warning: --tls-watch: no certificate files to watch (self-signed certificate)\n");
      } else {
        poll_tls();
      }
    }
    if (settings_.memory_trim_interval.count() > 0) trim_memory();
    thread_ = std::thread([this] { io_.run(); });
  }

  // After Server::run() returned: ends the control thread and waits for the stop thread.
  void finish() {
    asio::post(io_, [this] { io_.stop(); });
    if (thread_.joinable()) thread_.join();
    if (stopper_.joinable()) stopper_.join();
  }

  bool stop_requested() const noexcept { return stop_requested_.load(); }

 private:
  void wait_stop() {
    stop_signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (stop_requested_.exchange(true)) {
        // Repeats are common (a process group signalled and the process itself, a wrapper that
        // forwards): they must not turn a graceful stop into an abrupt one. The deadline below
        // bounds the shutdown anyway.
        spdlog::info("{}: already shutting down", signal_name(signo));
        wait_stop();
        return;
      }
      spdlog::info("{}: shutting down", signal_name(signo));
      const auto deadline = settings_.drain_timeout + kStopMargin;
      deadline_.expires_after(deadline);
      deadline_.async_wait([deadline](const boost::system::error_code& e) {
        if (e) return;
        std::fprintf(stderr, "error: shutdown did not finish within %lld ms, exiting\n",
                     static_cast<long long>(deadline.count()));
        std::_Exit(1);
      });
      stopper_ = std::thread([this] {
        if (before_stop_) before_stop_();
        server_.stop(settings_.drain_timeout);
      });
      wait_stop();
    });
  }

  void wait_hup() {
    hup_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      reload_tls(server_, settings_, "SIGHUP");
      wait_hup();
    });
  }

  void poll_tls() {
    watch_timer_.expires_after(kTlsPollInterval);
    watch_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (watch_.changed()) reload_tls(server_, settings_, "files changed");
      poll_tls();
    });
  }

  // glibc keeps what a burst of connections freed (its arenas only shrink from the top): after
  // 5 000 WebSockets left, RSS stayed at 62 MB, 33 MB after a trim (docs/reliability.md). Runs
  // on this control thread; the shards only wait for an arena lock they need meanwhile.
  void trim_memory() {
    trim_timer_.expires_after(settings_.memory_trim_interval);
    trim_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (malloc_trim(0) == 1) spdlog::debug("memory: freed heap pages given back (malloc_trim)");
      trim_memory();
    });
  }

  static const char* signal_name(int signo) { return signo == SIGINT ? "SIGINT" : "SIGTERM"; }

  socketio::Server& server_;
  std::function<void()> before_stop_;
  const AppSettings& settings_;
  asio::io_context io_;
  asio::signal_set stop_signals_;
  asio::signal_set hup_;
  asio::steady_timer watch_timer_;
  asio::steady_timer trim_timer_;
  asio::steady_timer deadline_;
  socketio::app::TlsWatch watch_;
  std::atomic<bool> stop_requested_{false};
  std::thread thread_;
  std::thread stopper_;
};

}  // namespace

int main(int argc, char** argv) {
  socketio::app::ParseResult parsed = socketio::app::parse_command_line(argc, argv, std::cout, std::cerr);
  if (!parsed.settings) return parsed.exit_code;
  const AppSettings& settings = *parsed.settings;
  if (!settings.malloc_thread_cache) restart_without_thread_cache(argv);  // before any thread starts
  // Before anything logs from another thread (the Redis connections start at once).
  socketio::app::init_logging(settings.log_level, settings.log_format);
  socketio::ServerOptions server_options = settings.server;
  // engine.io's connection_error, which Node deployments log and alert on.
  server_options.on_connection_error = [](const socketio::ConnectionError& e) {
    spdlog::info("connection_error code={} message=\"{}\" context={} address={} url={}",
                 static_cast<int>(e.code), e.message, boost::json::serialize(e.context),
                 e.request.remote_address(), e.request.url());
  };
  std::optional<socketio::redis::RedisConnection> redis;
  if (!settings.redis_url.empty()) {
    socketio::redis::RedisConfig rc;
    rc.url = settings.redis_url;
    rc.key = settings.redis_key;
    rc.max_publish_queue_bytes = settings.redis_max_publish_queue;
    // Whatever this node accepts from a client must fit what the other nodes accept from Redis: a
    // packet over WebSocket may carry --max-attachments binary parts of --max-http-buffer-size
    // each besides its own text (same flags on every node, as a cluster runs them).
    const std::size_t packet = (server_options.max_attachments + 1) * server_options.max_http_buffer_size;
    rc.max_message_size = std::max(rc.max_message_size, packet + 64 * 1024);
    rc.requests_timeout = settings.redis_requests_timeout;
    rc.mode = settings.redis_streams   ? socketio::redis::RedisMode::streams
              : settings.redis_sharded ? socketio::redis::RedisMode::sharded
                                       : socketio::redis::RedisMode::classic;
    rc.cluster = settings.redis_cluster;
    rc.reconnect_max_delay = settings.redis_reconnect_max_delay;
    rc.stream_max_len = settings.redis_streams_max_len;
    rc.stream_read_count = settings.redis_streams_read_count;
    try {
      redis.emplace(rc);
      server_options.adapter = redis->factory();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: --redis: %s\n", e.what());
      return 2;
    }
  }

  // A client or a log reader that goes away must not kill the server; writes report EPIPE.
  std::signal(SIGPIPE, SIG_IGN);

  std::optional<socketio::Server> server;
  try {
    server.emplace(server_options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  socketio::app::install_chat(server->of("/"), {settings.presence_limit});
  expose_heap(*server);
  if (redis) expose_redis(*server, *redis);
  if (settings.admin_ui) {
    socketio::AdminUiOptions admin = settings.admin;
    admin.serve_ui = true;
    try {
      socketio::instrument(*server, admin);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 2;
    }
  }

  std::optional<socketio::redis::ClusterTopology> topology;
  if (!settings.topology.public_url.empty()) {
    try {
      topology.emplace(*server, *redis, settings.topology);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: --public-url: %s\n", e.what());
      return 2;
    }
  }
  socketio::app::serve_page_config(*server, topology ? settings.topology.pick_path : std::string());
  std::optional<socketio::redis::SessionForwarding> forwarding;
  if (redis && settings.forward_sessions) forwarding.emplace(*server, *redis, settings.forwarding);

  // The signal handlers exist before the listening line: a SIGTERM sent right after it must
  // stop the server gracefully, not kill it.
  Control control(*server, settings, [&topology] {
    if (topology && !topology->withdraw(kWithdrawWait))
      spdlog::warn("cluster: Redis did not confirm that this node left the registry; it expires by itself");
  });

  const bool tls = settings.server.tls.enabled();
  std::uint16_t port = 0;
  try {
    port = server->listen();
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "error: cannot listen on %s:%u: %s\n", settings.host_label.c_str(),
                 static_cast<unsigned>(settings.server.port), e.code().message().c_str());
    return 1;
  } catch (const std::runtime_error& e) {
    // Documented for TLS set-up: unreadable or mismatched certificate files, a bad passphrase.
    std::fprintf(stderr, "error: %s%s\n", tls ? "tls: " : "", e.what());
    return tls ? 2 : 1;
  }

  if (settings.server.ops_listen) {
    // Before the Redis wait below: probes may ask /readyz while the subscriptions are pending.
    std::printf("socketio-server metrics on http://%s:%u/metrics\n",
                url_host(settings.server.ops_host).c_str(), static_cast<unsigned>(server->ops_port()));
    std::fflush(stdout);
  }

  // The listening line promises that a client connecting now misses nothing: with Redis, that
  // needs the subscriptions of every namespace created so far confirmed. Redis being down is not
  // fatal (local delivery works and the adapter keeps reconnecting), so this wait is bounded.
  if (redis && !redis->wait_until_subscribed(kRedisReadyWait)) {
    spdlog::warn(
        "redis: not subscribed after {} ms; serving anyway, cross-node delivery starts once Redis answers",
        kRedisReadyWait.count());
  }

  if (topology) topology->start();

  if (tls) {
    report_tls_warnings(*server);
    if (!settings.server.tls.self_signed_host.empty()) {
      std::printf("tls: self-signed certificate for %s, SHA-256 fingerprint %s\n",
                  settings.server.tls.self_signed_host.c_str(), server->tls_fingerprint().c_str());
    }
  }
  std::printf("socketio-server listening on %s://%s:%u\n", tls ? "https" : "http",
              url_host(settings.host_label).c_str(), static_cast<unsigned>(port));
  std::fflush(stdout);
  spdlog::info("{} ready: path {}, {} worker thread(s), log level {}", socketio::app::version_string(),
               settings.server.path,
               settings.server.threads != 0 ? settings.server.threads : std::thread::hardware_concurrency(),
               settings.log_level);

  control.start();
  server->run();
  control.finish();
  if (!control.stop_requested()) {
    spdlog::error("the server stopped without being asked to");
    return 1;
  }
  spdlog::info("stopped");
  return 0;
}
