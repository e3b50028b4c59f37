// The configuration of the socketio-server binary: command-line flags (CLI11) and an optional
// config file (TOML, or JSON when the name ends in .json or the text starts with '{'), merged
// into socketio::ServerOptions plus the settings only the binary has (log level, presence,
// TLS file watching, Redis). Every setting has one key: the long flag without its dashes is
// also the config-file key (--ping-interval / ping-interval). Flags given on the command line
// override the file. Any bad value is reported as one line naming the flag or the file and key,
// and parsing then asks for exit code 2. Reads only the config file; writes only to the streams
// it is given, so it can be tested in process. Not thread-safe: call it once, from main().
#pragma once

#include "socketio/admin_ui.hpp"
#include "socketio/server.hpp"
#include "socketio/topology.hpp"

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>

namespace socketio::app {

struct AppSettings {
  ServerOptions server;
  // The host as the user wrote it, for the "listening on" line ("localhost" binds 127.0.0.1).
  std::string host_label = "0.0.0.0";
  std::string log_level = "info";  // trace|debug|info|warn|error|off
  // Rooms with more local members than this get no "presence" events (0: never), because each
  // presence event lists every member: unbounded, a room of N sockets would cost O(N^2).
  std::size_t presence_limit = 100;
  bool tls_watch = false;  // poll the TLS files every 2 s and reload when they change
  std::string redis_url;   // empty: in-process adapter
  std::string redis_key = "socket.io";
  bool redis_sharded = false;                                 // --redis-mode sharded
  bool redis_streams = false;                                 // --redis-mode streams
  bool redis_cluster = false;                                 // --redis-cluster: RedisConfig::cluster
  std::size_t redis_streams_max_len = 10'000;                 // RedisConfig::stream_max_len
  std::size_t redis_streams_read_count = 100;                 // RedisConfig::stream_read_count
  std::size_t redis_max_publish_queue = 16 * 1024 * 1024;     // RedisConfig::max_publish_queue_bytes
  std::chrono::milliseconds redis_requests_timeout{5000};     // RedisConfig::requests_timeout
  std::chrono::milliseconds redis_reconnect_max_delay{5000};  // RedisConfig::reconnect_max_delay
  std::string config_file;                                    // as given to --config; empty: none

  std::string log_format = "text";                        // text | json
  std::chrono::milliseconds drain_timeout{1000};          // graceful stop: --drain-timeout
  std::chrono::milliseconds memory_trim_interval{30000};  // --memory-trim-interval (0: off)
  bool malloc_thread_cache = true;                        // --malloc-thread-cache (false: glibc's tcache off)
  bool admin_ui = false;                                  // --admin-ui
  AdminUiOptions admin{"/admin", true, "admin"};          // --admin-ui-*
  // --public-url, --node-weight, --node-ttl, --cluster-*-path: the node registry and the first
  // contact routes (socketio/topology.hpp); off while public_url is empty.
  redis::TopologyOptions topology;
  // --forward-sessions (on with --redis), --forward-timeout, --forward-max-pending.
  bool forward_sessions = true;
  redis::ForwardingOptions forwarding;
};

struct ParseResult {
  // Empty: do not start; exit with exit_code (0 after --help/--version, 2 after an error that
  // has been written to the error stream).
  std::optional<AppSettings> settings;
  int exit_code = 0;
};

// argv[0] is the program name. --help and --version print to `out`; errors print one line,
// "error: ...", to `err`.
ParseResult parse_command_line(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// "socketio-server 0.1.0"
std::string version_string();

}  // namespace socketio::app
