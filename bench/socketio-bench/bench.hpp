// socketio-bench: the interface between the command line / reporting side (main.cpp, no Asio)
// and the load engine (engine.cpp: Asio, one io_context per worker thread, raw WebSocket framing).
#pragma once

#include "histogram.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace bench {

enum class Scenario { echo, fanout, idle, handshake, sink };

struct Options {
  Scenario scenario = Scenario::echo;
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  std::string path = "/socket.io/";
  bool tls = false;
  bool allow_remote = false;
  unsigned threads = 1;
  unsigned procs = 1;
  unsigned proc_index = 0;      // set for the children of --procs
  std::uint32_t conns = 100;    // in this process (main.cpp splits the total over --procs)
  std::uint32_t conn_base = 0;  // global index of this process's first connection
  std::uint32_t window = 1;
  double duration = 10;  // seconds measured (idle: held after everyone connected)
  double warmup = 2;
  double drain = 30;
  double rate = 0;  // total messages/s (fanout publishes, echo sends); 0: as fast as the window allows
  std::uint32_t publishers = 1;
  std::uint16_t publish_port =
      0;                    // fanout: publishers connect to this port (another cluster node); 0: --port
  std::uint32_t size = 16;  // payload characters
  // "x": the payload is `size` x's (a string); "json": a chat event JSON object of about `size`
  // bytes, one of 64 different ones per publish (compressible like real events, not like x's).
  std::string payload = "x";
  // Offer permessage-deflate and inflate what comes compressed (the generator itself sends
  // uncompressed: the figure is the server's compression).
  bool deflate = false;
  std::uint64_t count = 0;  // stop the measurement after this many acks/deliveries/handshakes (0: no limit)
  double connect_rate = 2000;               // new connections per second, per process
  std::uint32_t connect_concurrency = 256;  // connections being set up at once, per process
  std::uint32_t src_addrs = 0;              // source addresses 127.x.y.z to spread over; 0: automatic
  double connect_timeout = 60;
  std::string stop_at = "sio";  // handshake: "sio" (Socket.IO CONNECT answered) or "tls"
  bool resume = false;          // handshake --tls: offer the session ticket of the worker's last connection"
  std::uint32_t concurrency = 16;  // handshake: connections in progress at once, per process
  bool msgpack = false;            // socket.io-msgpack-parser packets (binary frames) instead of JSON text
  // --rate: how the sends are spread in time. "tick": the sends due are made together once per
  // millisecond (a burst of rate/1000); "even": each at its own time, 1/rate apart; "poisson":
  // independent arrivals (exponential gaps of mean 1/rate), as many users' messages arrive.
  std::string arrivals = "tick";
  // Latency ends when the kernel queued the answer on the generator's socket (SO_TIMESTAMPNS),
  // not when the generator got to read it: a generator thread busy with a thousand receivers
  // would otherwise add its own queue to every server's figure. Plain connections only.
  bool rx_timestamps = false;
  bool spin = false;  // --spin: poll instead of sleeping (no timer or wake-up lateness)
};

struct Result {
  std::uint64_t connected = 0, connect_errors = 0, tls_errors = 0, upgrade_errors = 0, sio_errors = 0;
  std::uint64_t dropped = 0;  // connections the server closed after they were up
  std::uint64_t pings = 0;    // Engine.IO pings answered
  std::uint64_t sent = 0;     // echo requests / publishes / handshakes started in the window
  std::uint64_t done = 0;     // acks / deliveries / handshakes completed in the window
  std::uint64_t loss = 0, dups = 0, reordered = 0;  // loss: gaps + undelivered
  std::uint64_t undelivered = 0;     // fanout: of loss, what was still missing when the drain ended
  double drain_s = 0;                // how long the drain waited
  std::uint64_t expected = 0;        // fanout: deliveries expected (publishes x receivers)
  std::uint64_t wire_bytes = 0;      // bytes read from the servers in the measured window
  std::uint64_t compressed = 0;      // messages received with RSV1 in the window
  std::uint64_t deflate_agreed = 0;  // connections whose offer the server accepted
  double measured_s = 0;
  double connect_s = 0;  // time to open every connection
  Histogram lat;

  // Adds the counters of another worker or process (not expected, times or latencies).
  void add_counts(const Result& r) {
    connected += r.connected;
    connect_errors += r.connect_errors;
    tls_errors += r.tls_errors;
    upgrade_errors += r.upgrade_errors;
    sio_errors += r.sio_errors;
    dropped += r.dropped;
    pings += r.pings;
    sent += r.sent;
    done += r.done;
    loss += r.loss;
    dups += r.dups;
    wire_bytes += r.wire_bytes;
    compressed += r.compressed;
    deflate_agreed += r.deflate_agreed;
  }
};

// Called on the thread that runs the scenario: once every connection is up (or failed), before
// the warm-up (idle samples the server's RSS there); when the measured window opens and closes.
struct Hooks {
  std::function<void()> all_connected, measure_start, measure_end;
};

// Runs a client scenario in this process.
Result run_scenario(const Options& o, const Hooks& hooks);

// The trivial sink server: speaks just enough Engine.IO/Socket.IO to answer echo, join and
// chat message (broadcast) as cheaply as possible; runs until SIGINT/SIGTERM or --duration.
int run_sink(const Options& o);

}  // namespace bench
