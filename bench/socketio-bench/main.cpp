// socketio-bench: a load generator for Socket.IO servers (Engine.IO v4 / Socket.IO v5 over
// WebSocket, optionally TLS). Scenarios: echo, fanout, idle, handshake; `sink` is a trivial
// server that shows the generator's own ceiling. Each scenario prints a human table and then one
// JSON line (the last line of stdout). Loopback targets only, unless --allow-remote.
//
// This file: the command line, --procs (forked children, each a share of the connections, their
// results merged), server RSS/CPU sampling from /proc, and the report. The load itself is in
// engine.cpp.
#include "bench.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using bench::Options;
using bench::Result;
using bench::Scenario;

// VmRSS of a process in KiB, or -1.
long rss_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// utime + stime of a process in seconds, or -1.
double cpu_seconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; in >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// What a child of --procs sends back: its counters, generator CPU and histogram, one line.
std::string serialize(const Result& r, double gen_cpu) {
  std::ostringstream o;
  o << "result " << r.connected << ' ' << r.connect_errors << ' ' << r.tls_errors << ' ' << r.upgrade_errors
    << ' ' << r.sio_errors << ' ' << r.dropped << ' ' << r.pings << ' ' << r.sent << ' ' << r.done << ' '
    << r.loss << ' ' << r.dups << ' ' << r.expected << ' ' << r.measured_s << ' ' << r.connect_s << ' '
    << gen_cpu << ' ' << r.wire_bytes << ' ' << r.compressed << ' ' << r.deflate_agreed << ' '
    << r.lat.serialize() << '\n';
  return o.str();
}

void merge_serialized(const std::string& line, Result& total, double& gen_cpu) {
  std::istringstream in(line);
  std::string tag, hist;
  Result r;
  double cpu = 0;
  in >> tag >> r.connected >> r.connect_errors >> r.tls_errors >> r.upgrade_errors >> r.sio_errors >>
      r.dropped >> r.pings >> r.sent >> r.done >> r.loss >> r.dups >> r.expected >> r.measured_s >>
      r.connect_s >> cpu >> r.wire_bytes >> r.compressed >> r.deflate_agreed >> hist;
  total.add_counts(r);
  total.expected += r.expected;
  total.measured_s = std::max(total.measured_s, r.measured_s);
  total.connect_s = std::max(total.connect_s, r.connect_s);
  gen_cpu += cpu;
  total.lat.merge_serialized(hist);
}

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one '\n'-terminated line from fd (blocking); empty on EOF.
std::string read_line(int fd) {
  std::string line;
  char ch;
  while (::read(fd, &ch, 1) == 1) {
    if (ch == '\n') return line;
    line += ch;
  }
  return line;
}

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::echo:
      return "echo";
    case Scenario::fanout:
      return "fanout";
    case Scenario::idle:
      return "idle";
    case Scenario::handshake:
      return "handshake";
    case Scenario::sink:
      return "sink";
  }
  return "?";
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

// The latency distribution as [[quantile, µs], ...] (bench/report.mjs draws the CDF from it):
// dense towards the tail, where servers differ, and the maximum last. [] when nothing was timed.
std::string cdf_json(const bench::Histogram& h) {
  static constexpr double kQuantiles[] = {0.01, 0.1,   0.25,  0.5,    0.75,   0.9,    0.95,
                                          0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999};
  if (h.count() == 0) return "[]";
  std::string out = "[";
  char item[64];
  for (double q : kQuantiles) {
    std::snprintf(item, sizeof item, "[%g,%.1f],", q, static_cast<double>(h.quantile(q)) / 1000.0);
    out += item;
  }
  std::snprintf(item, sizeof item, "[1,%.1f]]", static_cast<double>(h.max()) / 1000.0);
  return out + item;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string scenario;
  std::string label;
  int server_pid = 0;
  double settle = 2;
  std::uint32_t total_conns = 100;

  CLI::App app{
      "socketio-bench: load generator for Socket.IO servers (Engine.IO v4 / Socket.IO v5 over WebSocket).\n"
      "Scenarios: echo, fanout, idle, handshake; sink runs a trivial server (the generator's ceiling).\n"
      "Prints a table, then one JSON line. Targets must be loopback unless --allow-remote."};
  app.add_option("scenario", scenario, "echo | fanout | idle | handshake | sink")
      ->required()
      ->check(CLI::IsMember({"echo", "fanout", "idle", "handshake", "sink"}));
  app.add_option("--host", o.host, "target host (sink: address to bind)")->capture_default_str();
  app.add_option("--port", o.port, "target port (sink: port to listen on, 0: any)")->capture_default_str();
  app.add_option("--path", o.path, "Socket.IO endpoint path")->capture_default_str();
  app.add_flag("--tls", o.tls, "WSS (TLS, certificate not verified, no session resumption)");
  app.add_flag("--resume", o.resume,
               "handshake --tls: each connection offers the session ticket the worker's last one got "
               "(resumed handshakes; the count goes to stderr); with --stop-at sio");
  app.add_flag("--allow-remote", o.allow_remote, "allow a non-loopback --host");
  app.add_option("-c,--conns", total_conns, "connections (all processes)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 200000u));
  app.add_option("-t,--threads", o.threads, "worker threads per process")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--procs", o.procs,
                 "processes (each --threads threads and a share of --conns); not for fanout")
      ->capture_default_str()
      ->check(CLI::Range(1u, 32u));
  app.add_option("--publish-port", o.publish_port,
                 "fanout: the publishers connect to this port of --host (another node of a cluster, "
                 "e.g. two nodes on one Redis); 0: --port")
      ->capture_default_str();
  app.add_option("-w,--window", o.window,
                 "echo: requests in flight per connection; fanout: own messages in "
                 "flight per publisher when --rate is 0")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  app.add_option(
         "-d,--duration", o.duration,
         "seconds measured (idle: held after all connected; sink: serve this long, default until a signal)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--warmup", o.warmup, "seconds of load before the measurement")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option(
         "--drain", o.drain,
         "at most this many seconds to wait for answers in flight (echo: until none for 300 ms; fanout: "
         "until every receiver has every publish, or none arrives for 5 s)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("-r,--rate", o.rate, "total messages/s (echo requests, fanout publishes); 0: closed loop")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e8));
  app.add_option("--arrivals", o.arrivals,
                 "with --rate: tick (the sends due made together once per millisecond), even (each "
                 "at its own time, 1/rate apart) or poisson (independent arrivals, exponential gaps); "
                 "even and poisson count latency from each send's intended time")
      ->capture_default_str()
      ->check(CLI::IsMember({"tick", "even", "poisson"}));
  app.add_flag("--rx-timestamps", o.rx_timestamps,
               "latency ends when the answer reached the generator's socket (the kernel's receive "
               "timestamp, SO_TIMESTAMPNS), not when the generator read it (plain connections)");
  app.add_flag("--spin", o.spin,
               "each generator thread polls its sockets and timers instead of sleeping: sends leave "
               "at their intended time without the kernel's timer and wake-up lateness (costs the "
               "generator's cores)");
  app.add_option("-p,--publishers", o.publishers, "fanout: publishing connections")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  app.add_option_function<std::string>(
         "--parser",
         [&o](const std::string& v) {
           if (v != "json" && v != "msgpack") throw CLI::ValidationError("--parser", "json or msgpack");
           o.msgpack = v == "msgpack";
         },
         "Socket.IO packet format: json (text frames) or msgpack (socket.io-msgpack-parser, binary frames)")
      ->default_str("json");
  app.add_option("--size", o.size, "payload characters")
      ->capture_default_str()
      ->check(CLI::Range(0u, 1000000u));
  app.add_option(
         "--payload", o.payload,
         "fanout: x (the payload is --size x's) or json (chat event objects of about --size bytes, 64 "
         "different ones)")
      ->capture_default_str()
      ->check(CLI::IsMember({"x", "json"}));
  app.add_flag("--deflate", o.deflate,
               "offer permessage-deflate (as Chromium and ws do) and inflate what comes compressed");
  app.add_option("-n,--count", o.count,
                 "stop the measurement after this many acks/deliveries/handshakes (0: none)")
      ->capture_default_str();
  app.add_option("--connect-rate", o.connect_rate, "new connections per second per process")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  app.add_option("--connect-concurrency", o.connect_concurrency, "connections set up at once per process")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  app.add_option("--concurrency", o.concurrency, "handshake: handshakes in progress at once per process")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--src-addrs", o.src_addrs,
                 "spread connections over this many source addresses 127.P.x.y (P = process); 0: do not bind")
      ->capture_default_str()
      ->check(CLI::Range(0u, 60000u));
  app.add_option("--connect-timeout", o.connect_timeout, "seconds allowed to open every connection")
      ->capture_default_str();
  app.add_option("--stop-at", o.stop_at,
                 "handshake: sio (Socket.IO CONNECT answered) or tls (TLS handshake only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"sio", "tls"}));
  app.add_option("--server-pid", server_pid, "server process: its RSS (idle) and CPU use are reported");
  app.add_option("--settle", settle, "idle: seconds between the last connection and the RSS sample")
      ->capture_default_str();
  app.add_option("--label", label, "free text copied into the JSON line");
  CLI11_PARSE(app, argc, argv);

  static const std::map<std::string, Scenario> kScenarios{{"echo", Scenario::echo},
                                                          {"fanout", Scenario::fanout},
                                                          {"idle", Scenario::idle},
                                                          {"handshake", Scenario::handshake},
                                                          {"sink", Scenario::sink}};
  o.scenario = kScenarios.at(scenario);
  o.conns = total_conns;
  if (o.scenario == Scenario::sink && app.count("--duration") == 0) o.duration = 0;  // until a signal
  try {
    if (o.scenario == Scenario::sink) return bench::run_sink(o);
    if (o.scenario == Scenario::fanout && o.procs > 1) {
      std::fprintf(stderr, "error: fanout runs in one process (loss accounting needs every publisher)\n");
      return 2;
    }
    if (o.scenario == Scenario::fanout && o.publishers > o.conns) o.publishers = o.conns;
    if (o.payload == "json" && o.msgpack) {
      std::fprintf(stderr, "error: --payload json is for the JSON parser (its events are JSON objects)\n");
      return 2;
    }
    if (o.rx_timestamps && o.tls) {
      std::fprintf(
          stderr, "error: --rx-timestamps is for plain connections (a TLS record is read through OpenSSL)\n");
      return 2;
    }
    if (o.arrivals != "tick" && o.rate <= 0) {
      std::fprintf(stderr, "error: --arrivals %s needs --rate (a closed loop has no arrivals to spread)\n",
                   o.arrivals.c_str());
      return 2;
    }
    if (o.scenario == Scenario::handshake && !o.tls) std::fprintf(stderr, "note: handshake without --tls\n");
    if (o.scenario == Scenario::idle && settle >= o.duration)
      std::fprintf(stderr, "note: --duration %.1f is not longer than --settle %.1f\n", o.duration, settle);

    const long rss_before = rss_kib(server_pid);
    long rss_after = -1;
    double srv_cpu0 = 0, srv_cpu1 = 0, gen_cpu0 = 0, gen_cpu1 = 0, wall0 = 0, wall1 = 0;
    double gen_cpu = 0;
    bench::Hooks hooks;
    hooks.measure_start = [&] {
      srv_cpu0 = cpu_seconds(server_pid);
      gen_cpu0 = self_cpu_seconds();
      wall0 = wall_seconds();
    };
    hooks.measure_end = [&] {
      srv_cpu1 = cpu_seconds(server_pid);
      gen_cpu1 = self_cpu_seconds();
      wall1 = wall_seconds();
    };
    auto sample_rss = [&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(settle));
      rss_after = rss_kib(server_pid);
    };
    Result r;
    if (o.procs <= 1) {
      if (o.scenario == Scenario::idle) hooks.all_connected = sample_rss;
      // fanout: what the server holds after the traffic, still connected (per connection: the
      // transport's buffers, and per-connection compression state if any).
      if (o.scenario == Scenario::fanout) {
        auto end = hooks.measure_end;
        hooks.measure_end = [&, end] {
          end();
          rss_after = rss_kib(server_pid);
        };
      }
      r = bench::run_scenario(o, hooks);
      gen_cpu = gen_cpu1 - gen_cpu0;
    } else {
      // Children: a share each of the connections (and of the rate), their own source addresses.
      std::vector<int> fds;
      std::vector<pid_t> pids;
      for (unsigned i = 0; i < o.procs; ++i) {
        Options co = o;
        co.proc_index = i;
        co.conns = total_conns / o.procs + (i < total_conns % o.procs ? 1 : 0);
        co.conn_base = i * (total_conns / o.procs) + std::min<std::uint32_t>(i, total_conns % o.procs);
        co.rate = o.rate / o.procs;
        co.concurrency = std::max(1u, o.concurrency / o.procs);
        int p[2];
        if (::pipe(p) != 0) throw std::runtime_error("pipe failed");
        std::fflush(stdout);
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) {
          ::close(p[0]);
          for (int fd : fds) ::close(fd);
          bench::Hooks ch;
          double c0 = 0, c1 = 0;
          ch.all_connected = [&] { write_all(p[1], "connected\n"); };
          ch.measure_start = [&] { c0 = self_cpu_seconds(); };
          ch.measure_end = [&] { c1 = self_cpu_seconds(); };
          const Result cr = bench::run_scenario(co, ch);
          write_all(p[1], serialize(cr, c1 - c0));
          ::_exit(0);
        }
        ::close(p[1]);
        fds.push_back(p[0]);
        pids.push_back(pid);
      }
      for (int fd : fds) read_line(fd);  // "connected" from every child
      if (o.scenario == Scenario::idle) sample_rss();
      hooks.measure_start();
      for (int fd : fds) {
        const std::string line = read_line(fd);
        if (line.rfind("result ", 0) == 0) merge_serialized(line, r, gen_cpu);
        ::close(fd);
      }
      hooks.measure_end();
      for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
    }

    const double secs = r.measured_s > 0 ? r.measured_s : 1;
    const double per_s = static_cast<double>(r.done) / secs;
    const double wall = wall1 - wall0 > 0 ? wall1 - wall0 : secs;
    // -1 when the server could not be sampled (no --server-pid, or it exited during the run).
    const double srv_cpu =
        server_pid > 0 && srv_cpu0 >= 0 && srv_cpu1 >= 0 ? (srv_cpu1 - srv_cpu0) / wall : -1;
    const double gen_cpu_frac = gen_cpu / wall;
    const std::uint64_t errors = r.connect_errors + r.tls_errors + r.upgrade_errors + r.sio_errors;
    auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
    double per_conn = -1;
    if (rss_before >= 0 && rss_after >= 0 && r.connected > 0)
      per_conn = static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(r.connected);

    const char* unit = o.scenario == Scenario::echo        ? "acks/s"
                       : o.scenario == Scenario::fanout    ? "deliveries/s"
                       : o.scenario == Scenario::handshake ? "handshakes/s"
                                                           : "-";
    std::printf("socketio-bench %s -> %s:%u (%s)%s%s\n", scenario_name(o.scenario), o.host.c_str(),
                static_cast<unsigned>(o.port), o.tls ? "wss" : "ws", label.empty() ? "" : "  ",
                label.c_str());
    std::printf("  %-22s %u (%u procs x %u threads)\n", "connections", total_conns, o.procs, o.threads);
    std::printf(
        "  %-22s %llu up, %llu errors (connect %llu, tls %llu, upgrade %llu, sio %llu), %llu dropped\n",
        "outcome", static_cast<unsigned long long>(r.connected), static_cast<unsigned long long>(errors),
        static_cast<unsigned long long>(r.connect_errors), static_cast<unsigned long long>(r.tls_errors),
        static_cast<unsigned long long>(r.upgrade_errors), static_cast<unsigned long long>(r.sio_errors),
        static_cast<unsigned long long>(r.dropped));
    if (o.scenario != Scenario::idle) {
      std::printf("  %-22s %.1f s\n", "measured", secs);
      std::printf("  %-22s %.0f\n", unit, per_s);
      std::printf("  %-22s p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n", "latency (us)",
                  us(r.lat.quantile(0.5)), us(r.lat.quantile(0.99)), us(r.lat.quantile(0.999)),
                  us(r.lat.max()));
    }
    const double wire_per = r.done > 0 ? static_cast<double>(r.wire_bytes) / static_cast<double>(r.done) : -1;
    if (o.scenario == Scenario::fanout) {
      std::printf(
          "  %-22s %llu lost (%llu of them still missing after a %.1f s drain), %llu duplicated/reordered "
          "(of "
          "%llu expected)\n",
          "delivery", static_cast<unsigned long long>(r.loss), static_cast<unsigned long long>(r.undelivered),
          r.drain_s, static_cast<unsigned long long>(r.dups), static_cast<unsigned long long>(r.expected));
      std::printf("  %-22s %.0f bytes read per delivery; %llu compressed messages; deflate agreed on %llu\n",
                  "wire", wire_per, static_cast<unsigned long long>(r.compressed),
                  static_cast<unsigned long long>(r.deflate_agreed));
      std::printf("  %-22s %ld KiB -> %ld KiB after the run, %.0f bytes per connection\n", "server RSS",
                  rss_before, rss_after, per_conn);
    }
    if (o.scenario == Scenario::idle) {
      std::printf("  %-22s %.1f s to connect all, held %.1f s, %llu pings answered\n", "hold", r.connect_s,
                  secs, static_cast<unsigned long long>(r.pings));
      std::printf("  %-22s %ld KiB -> %ld KiB, %.0f bytes per connection\n", "server RSS", rss_before,
                  rss_after, per_conn);
    }
    std::printf("  %-22s server %.0f%%  generator %.0f%% (of one core, measured window)\n", "cpu",
                srv_cpu * 100, gen_cpu_frac * 100);

    std::printf(
        "{\"scenario\":\"%s\",\"label\":\"%s\",\"host\":\"%s\",\"port\":%u,\"tls\":%s,\"conns\":%u,\"procs\":"
        "%u,"
        "\"threads\":%u,\"parser\":\"%s\",\"window\":%u,\"rate\":%.0f,\"publishers\":%u,\"size\":%u,"
        "\"measured_s\":%.3f,"
        "\"connected\":%llu,\"errors\":%llu,\"dropped\":%llu,\"done\":%llu,\"sent\":%llu,\"per_s\":%.1f,"
        "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"loss\":%llu,\"dups\":%llu,"
        "\"expected\":%llu,\"pings\":%llu,\"connect_s\":%.2f,\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,"
        "\"rss_per_conn_bytes\":%.0f,\"server_cpu\":%.3f,\"generator_cpu\":%.3f,\"payload\":\"%s\","
        "\"deflate\":%s,\"deflate_agreed\":%llu,\"compressed\":%llu,\"wire_bytes\":%llu,"
        "\"wire_bytes_per_delivery\":%.1f,\"undelivered\":%llu,\"drain_s\":%.2f,\"arrivals\":\"%s\","
        "\"rx_timestamps\":%s,\"cdf\":%s}\n",
        scenario_name(o.scenario), json_escape(label).c_str(), json_escape(o.host).c_str(),
        static_cast<unsigned>(o.port), o.tls ? "true" : "false", total_conns, o.procs, o.threads,
        o.msgpack ? "msgpack" : "json", o.window, o.rate, o.publishers, o.size, secs,
        static_cast<unsigned long long>(r.connected), static_cast<unsigned long long>(errors),
        static_cast<unsigned long long>(r.dropped), static_cast<unsigned long long>(r.done),
        static_cast<unsigned long long>(r.sent), per_s, us(r.lat.quantile(0.5)), us(r.lat.quantile(0.99)),
        us(r.lat.quantile(0.999)), us(r.lat.max()), static_cast<unsigned long long>(r.loss),
        static_cast<unsigned long long>(r.dups), static_cast<unsigned long long>(r.expected),
        static_cast<unsigned long long>(r.pings), r.connect_s, rss_before, rss_after, per_conn, srv_cpu,
        gen_cpu_frac, json_escape(o.payload).c_str(), o.deflate ? "true" : "false",
        static_cast<unsigned long long>(r.deflate_agreed), static_cast<unsigned long long>(r.compressed),
        static_cast<unsigned long long>(r.wire_bytes), wire_per,
        static_cast<unsigned long long>(r.undelivered), r.drain_s, o.arrivals.c_str(),
        o.rx_timestamps ? "true" : "false", cdf_json(r.lat).c_str());
    std::fflush(stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
