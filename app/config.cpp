// Flags and config file of socketio-server (see config.hpp). One table, keys(), describes every
// setting once: its name (flag and config key), its kind, its help text, its range and how it
// is stored. The command line is parsed by CLI11 into raw strings only, so that the same
// conversions and the same messages apply to a flag and to a config-file value; the file is
// applied first, then every flag that was given, then the cross-key checks.
#include "config.hpp"

#include "adapter/cluster/node_record.hpp"
#include "net/forwarded.hpp"

#include <arpa/inet.h>
#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#ifndef SIO_VERSION
#define SIO_VERSION "0.0.0"
#endif

namespace socketio::app {

namespace {

namespace json = boost::json;

using Value = std::variant<std::string, std::int64_t, bool, std::vector<std::string>>;

// switch_text: a switch on the command line ("--trust-proxy" means true) that may also take a
// value ("--trust-proxy=2"); in a config file a boolean, an integer, a string or a list of strings.
enum class Kind { text, integer, boolean, list, switch_text };

// A bad value. The reason says what is wrong with the value only; the caller prefixes where it
// came from ("--port: " or "config.toml: key 'port': ").
struct Invalid : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A complete message, ready to print after "error: ".
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Apply = void (*)(AppSettings&, const Value&);

struct Key {
  std::string_view name;
  Kind kind;
  std::string_view group;
  std::string_view type_name;  // shown by --help; a flag's "[=BOOL]": no separate value
  std::string_view help;
  Apply apply;
  std::int64_t min = 0;  // integers only
  std::int64_t max = 0;
};

const std::string& text(const Value& v) {
  return std::get<std::string>(v);
}
std::int64_t integer(const Value& v) {
  return std::get<std::int64_t>(v);
}
bool boolean(const Value& v) {
  return std::get<bool>(v);
}
const std::vector<std::string>& list(const Value& v) {
  return std::get<std::vector<std::string>>(v);
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Items of a list value, each also split on commas (so "a,b" and ["a", "b"] mean the same).
std::vector<std::string> split_items(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& item : items) {
    std::string_view rest = item;
    for (;;) {
      const std::size_t comma = rest.find(',');
      const std::string_view part = trim(rest.substr(0, comma));
      if (part.empty()) throw Invalid("empty item in " + in_quotes(item));
      out.emplace_back(part);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

std::chrono::milliseconds ms(const Value& v) {
  return std::chrono::milliseconds(integer(v));
}

bool is_ip_address(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

void apply_host(AppSettings& s, const Value& v) {
  std::string host(trim(text(v)));
  // "[::1]" is how IPv6 addresses appear in URLs; accept it.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") {
    // The listener takes addresses only (no resolver at start-up); localhost is the one name
    // everybody expects to work.
    s.server.host = "127.0.0.1";
  } else if (is_ip_address(host)) {
    s.server.host = host;
  } else {
    throw Invalid(in_quotes(host) +
                  " is not an IP address (host names other than localhost are not resolved)");
  }
  s.host_label = host;
}

void apply_path(AppSettings& s, const Value& v) {
  std::string path = text(v);
  if (path.empty() || path.front() != '/') throw Invalid(in_quotes(path) + " does not start with '/'");
  if (path.find_first_of("?# \t\r\n") != std::string::npos) {
    throw Invalid(in_quotes(path) + " contains a character not allowed in a path");
  }
  // The client asks for "<path>?EIO=4..." with the trailing slash; normalise so "/ws" works.
  if (path.back() != '/') path += '/';
  s.server.path = path;
}

void apply_cors(AppSettings& s, const Value& v) {
  const std::vector<std::string> origins = split_items(list(v));
  if (origins.empty() || (origins.size() == 1 && origins[0] == "none")) {
    s.server.cors.enabled = false;
    s.server.cors.origins.clear();
    return;
  }
  for (const std::string& o : origins) {
    if (o == "*") continue;
    const std::size_t scheme = o.find("://");
    const bool ok = scheme != std::string::npos && scheme > 0 && o.size() > scheme + 3 &&
                    o.find('/', scheme + 3) == std::string::npos &&
                    std::none_of(o.begin(), o.end(), [](unsigned char c) { return std::isspace(c); });
    if (!ok) throw Invalid(in_quotes(o) + " is not an origin: expected *, none or scheme://host[:port]");
  }
  s.server.cors.enabled = true;
  s.server.cors.origins = origins;
}

void apply_trust_proxy(AppSettings& s, const Value& v) {
  std::string error;
  const auto trust = net::ProxyTrust::parse(text(v), error);
  if (!trust) throw Invalid(error);
  s.server.trust_proxy = trust->enabled;
  s.server.trust_proxy_hops = trust->hops;
  s.server.trusted_proxies.clear();
  if (!trust->networks.empty()) s.server.trusted_proxies = split_items({text(v)});
}

void apply_log_level(AppSettings& s, const Value& v) {
  static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "off"};
  const std::string& level = text(v);
  if (std::find(std::begin(levels), std::end(levels), level) == std::end(levels)) {
    throw Invalid(in_quotes(level) + " is not one of trace, debug, info, warn, error, off");
  }
  s.log_level = level;
}

void apply_transports(AppSettings& s, const Value& v) {
  bool polling = false;
  bool websocket = false;
  for (const std::string& t : split_items(list(v))) {
    if (t == "polling") {
      polling = true;
    } else if (t == "websocket") {
      websocket = true;
    } else {
      throw Invalid(in_quotes(t) + " is not a transport: expected polling and/or websocket");
    }
  }
  if (!polling && !websocket) throw Invalid("no transport: expected polling and/or websocket");
  s.server.allow_polling = polling;
  s.server.allow_websocket = websocket;
  s.server.allow_upgrades = polling && websocket;
}

void apply_static(AppSettings& s, const Value& v) {
  const std::string& dir = text(v);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw Invalid(in_quotes(dir) + " is not a directory");
  s.server.static_dir = dir;
}

void apply_parser(AppSettings& s, const Value& v) {
  const auto& name = text(v);
  if (name == "json")
    s.server.parser = socketio::Parser::json;
  else if (name == "msgpack")
    s.server.parser = socketio::Parser::msgpack;
  else
    throw Invalid(in_quotes(name) + " is not a parser: use json or msgpack");
}

// --cookie-* imply --cookie, with engine.io's defaults for the rest.
socketio::CookieOptions& cookie(AppSettings& s) {
  if (!s.server.cookie) s.server.cookie.emplace();
  return *s.server.cookie;
}

void apply_cookie_name(AppSettings& s, const Value& v) {
  const auto& name = text(v);
  // The `cookie` package refuses a name that is not an RFC 6265 token.
  const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
  if (!ok) throw Invalid(in_quotes(name) + " is not a valid cookie name");
  cookie(s).name = name;
}

void apply_cookie_same_site(AppSettings& s, const Value& v) {
  std::string value = text(v);
  for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (value == "false") value.clear();
  if (value != "lax" && value != "strict" && value != "none" && !value.empty())
    throw Invalid(in_quotes(text(v)) + " is not a SameSite value: use lax, strict, none or false");
  cookie(s).same_site = value;
}

void apply_tls_min_version(AppSettings& s, const Value& v) {
  std::string version = text(v);
  for (std::string_view prefix : {"TLSv", "tlsv", "TLS", "tls"}) {
    if (version.starts_with(prefix)) {
      version = version.substr(prefix.size());
      break;
    }
  }
  if (version != "1.2" && version != "1.3")
    throw Invalid(in_quotes(text(v)) + " is not supported: use 1.2 or 1.3");
  s.server.tls.min_version = version;
}

void apply_tls_sni(AppSettings& s, const Value& v) {
  for (const std::string& spec : list(v)) {
    // The TLS layer checks the files and the host pattern at start-up; here only the shape, so
    // that a typo is reported against the flag rather than as a TLS error.
    const std::size_t eq = spec.find('=');
    const std::size_t commas = static_cast<std::size_t>(std::count(spec.begin(), spec.end(), ','));
    const bool ok = eq != std::string::npos && eq > 0 && (commas == 1 || commas == 2) &&
                    spec.find(",,") == std::string::npos && spec.back() != ',' && spec[eq + 1] != ',' &&
                    spec.find(',') > eq;
    if (!ok) throw Invalid(in_quotes(spec) + " is not HOST=CERT,KEY[,CA]");
  }
  s.server.tls.sni = list(v);
}

void apply_redis(AppSettings& s, const Value& v) {
  const std::string& url = text(v);
  if (!url.empty() && !url.starts_with("redis://") && !url.starts_with("rediss://") &&
      !url.starts_with("unix://")) {
    throw Invalid(in_quotes(url) + " is not a Redis URL (redis://, rediss:// or unix://)");
  }
  s.redis_url = url;
}

void apply_public_url(AppSettings& s, const Value& v) {
  std::string why;
  if (!cluster::check_public_url(text(v), &why)) throw Invalid(in_quotes(text(v)) + ": " + why);
  s.topology.public_url = text(v);
}

std::string route_path(const Value& v) {
  const std::string& path = text(v);
  if (path.empty() || path.front() != '/' || path.find_first_of("?# \t\r\n") != std::string::npos)
    throw Invalid(in_quotes(path) + " is not a path starting with '/'");
  return path;
}

// "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces) for --metrics-listen.
void apply_metrics_listen(AppSettings& s, const Value& v) {
  const std::string& spec = text(v);
  const std::size_t colon = spec.rfind(':');
  if (colon == std::string::npos) throw Invalid(in_quotes(spec) + " is not HOST:PORT");
  std::string host = spec.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  if (!is_ip_address(host)) throw Invalid(in_quotes(spec) + ": " + in_quotes(host) + " is not an IP address");
  const std::string_view port_text = std::string_view(spec).substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty() || port > 65535)
    throw Invalid(in_quotes(spec) + ": the port is not in 0..65535");
  s.server.ops_listen = true;
  s.server.ops_host = host;
  s.server.ops_port = static_cast<std::uint16_t>(port);
}

constexpr std::string_view kServer = "Server";
constexpr std::string_view kEngine = "Engine.IO";
constexpr std::string_view kLimits = "Limits";
constexpr std::string_view kTls = "TLS";
constexpr std::string_view kCluster = "Cluster";
constexpr std::string_view kOps = "Operations";
constexpr std::int64_t kMaxMs = 86'400'000;  // a day: far beyond any sane timeout, and fits JS timers

const std::vector<Key>& keys() {
  static const std::vector<Key> table = {
      {"host", Kind::text, kServer, "ADDR", "address to bind: an IPv4/IPv6 address or localhost [0.0.0.0]",
       apply_host},
      {"port", Kind::integer, kServer, "PORT", "port to listen on; 0 picks a free port [3000]",
       [](AppSettings& s, const Value& v) { s.server.port = static_cast<std::uint16_t>(integer(v)); }, 0,
       65535},
      {"threads", Kind::integer, kServer, "N", "worker threads; 0: one per CPU core [0]",
       [](AppSettings& s, const Value& v) { s.server.threads = static_cast<std::size_t>(integer(v)); }, 0,
       1024},
      {"busy-poll", Kind::integer, kServer, "MICROS",
       "after its last event a worker thread polls for more for MICROS before it sleeps: lower latency "
       "at moderate load for that thread's CPU while traffic flows; 0: off [0]",
       [](AppSettings& s, const Value& v) { s.server.busy_poll = std::chrono::microseconds(integer(v)); }, 0,
       1'000'000},
      {"path", Kind::text, kServer, "PATH", "Socket.IO endpoint path [/socket.io/]", apply_path},
      {"cors-origin", Kind::list, kServer, "ORIGIN",
       "allowed cross-origin origin, repeatable or comma-separated; * any, none disables CORS [*]",
       apply_cors},
      {"serve-client", Kind::boolean, kServer, "[=BOOL]",
       "serve the Socket.IO client bundle under the path [true]",
       [](AppSettings& s, const Value& v) { s.server.serve_client = boolean(v); }},
      {"static", Kind::text, kServer, "DIR", "directory served at / [the built-in chat page]", apply_static},
      {"static-max-pending", Kind::integer, kServer, "N",
       "--static files waiting for an I/O thread to read them; over it, 503 with Retry-After [1024]",
       [](AppSettings& s, const Value& v) {
         s.server.static_max_pending = static_cast<std::size_t>(integer(v));
       },
       1, 1'000'000},
      {"cors-credentials", Kind::boolean, kServer, "[=BOOL]",
       "send Access-Control-Allow-Credentials to the origins listed by --cors-origin (not with *) [false]",
       [](AppSettings& s, const Value& v) { s.server.cors.credentials = boolean(v); }},
      {"trust-proxy", Kind::switch_text, kServer, "[=HOPS|LIST]",
       "client address and scheme from X-Forwarded-For/-Proto, read from the right: true (=1), a hop "
       "count, or the proxies' addresses/CIDRs/loopback/linklocal/uniquelocal [false]",
       apply_trust_proxy},
      {"max-connections", Kind::integer, kLimits, "N",
       "TCP connections in total; more are closed at accept; 0: the open-file limit minus 128 (no limit "
       "when that is unlimited or at most 256) [0]",
       [](AppSettings& s, const Value& v) {
         s.server.max_connections = static_cast<std::size_t>(integer(v));
       },
       0, 10'000'000},
      {"max-connections-per-address", Kind::integer, kLimits, "N",
       "TCP connections per peer address (IPv6: per /64), closed at accept; trusted proxies exempt (with "
       "--trust-proxy=true or a hop count every peer is one: list the proxies instead); 0: no limit [0]",
       [](AppSettings& s, const Value& v) {
         s.server.max_connections_per_address = static_cast<std::size_t>(integer(v));
       },
       0, 10'000'000},
      {"max-sessions-per-address", Kind::integer, kLimits, "N",
       "Engine.IO sessions per client address (through --trust-proxy), 403 over it (a WebSocket "
       "handshake: 400); 0: no limit [0]",
       [](AppSettings& s, const Value& v) {
         s.server.max_sessions_per_address = static_cast<std::size_t>(integer(v));
       },
       0, 10'000'000},
      {"handshake-rate", Kind::integer, kLimits, "N",
       "handshakes per second per client address (token bucket), 403 over it (a WebSocket handshake: "
       "400); 0: no limit [0]",
       [](AppSettings& s, const Value& v) {
         s.server.handshake_rate = static_cast<std::uint32_t>(integer(v));
       },
       0, 1'000'000},
      {"handshake-burst", Kind::integer, kLimits, "N",
       "handshakes an address may make at once; 0: 2 x rate [0]",
       [](AppSettings& s, const Value& v) {
         s.server.handshake_burst = static_cast<std::uint32_t>(integer(v));
       },
       0, 1'000'000},
      {"max-client-addresses", Kind::integer, kLimits, "N",
       "client addresses tracked at once for the per-address limits (bounded memory) [65536]",
       [](AppSettings& s, const Value& v) {
         s.server.max_client_addresses = static_cast<std::size_t>(integer(v));
       },
       1, 100'000'000},
      {"max-header-size", Kind::integer, kLimits, "BYTES",
       "largest HTTP request head (Node's --max-http-header-size); 431 over it [16384]",
       [](AppSettings& s, const Value& v) {
         s.server.max_header_size = static_cast<std::size_t>(integer(v));
       },
       1024, 1'048'576},
      {"max-headers-count", Kind::integer, kLimits, "N",
       "most header fields in one HTTP request (Node's maxHeadersCount); 431 over it [100]",
       [](AppSettings& s, const Value& v) {
         s.server.max_headers_count = static_cast<std::size_t>(integer(v));
       },
       1, 100'000},
      {"headers-timeout", Kind::integer, kLimits, "MS",
       "a new connection's first HTTP request must arrive whole within this long (Node's headersTimeout); "
       "then it is closed [10000]",
       [](AppSettings& s, const Value& v) { s.server.headers_timeout = ms(v); }, 1, kMaxMs},
      {"keep-alive-timeout", Kind::integer, kLimits, "MS",
       "an HTTP connection idle this long between requests is closed (Node's keepAliveTimeout; a held long "
       "poll is not idle) [60000]",
       [](AppSettings& s, const Value& v) { s.server.keep_alive_timeout = ms(v); }, 1, kMaxMs},
      {"max-rooms-per-socket", Kind::integer, kLimits, "N",
       "rooms one socket may be in besides its own; a join over it is refused; 0: no limit [1024]",
       [](AppSettings& s, const Value& v) {
         s.server.max_rooms_per_socket = static_cast<std::size_t>(integer(v));
       },
       0, 100'000'000},
      {"max-pending-client-acks", Kind::integer, kLimits, "N",
       "acks a client may await from one socket; over it the oldest is forgotten [1024]",
       [](AppSettings& s, const Value& v) {
         s.server.max_pending_client_acks = static_cast<std::size_t>(integer(v));
       },
       1, 100'000'000},
      {"max-namespace-name-length", Kind::integer, kLimits, "BYTES",
       "longest namespace name a CONNECT may ask for (CONNECT_ERROR over it) [256]",
       [](AppSettings& s, const Value& v) {
         s.server.max_namespace_name_length = static_cast<std::size_t>(integer(v));
       },
       1, 1'000'000},
      {"max-dynamic-namespaces", Kind::integer, kLimits, "N",
       "dynamic namespaces at once (CONNECT_ERROR over it); 0: no limit [1024]",
       [](AppSettings& s, const Value& v) {
         s.server.max_dynamic_namespaces = static_cast<std::size_t>(integer(v));
       },
       0, 100'000'000},
      {"cleanup-empty-child-namespaces", Kind::boolean, kLimits, "[=BOOL]",
       "remove a dynamic namespace when its last socket leaves (Node's cleanupEmptyChildNamespaces) [false]",
       [](AppSettings& s, const Value& v) { s.server.cleanup_empty_child_namespaces = boolean(v); }},
      {"log-level", Kind::text, kServer, "LEVEL", "trace, debug, info, warn, error or off [info]",
       apply_log_level},
      {"presence-limit", Kind::integer, kServer, "N",
       "send 'presence' events only for rooms of at most N local members; 0: never [100]",
       [](AppSettings& s, const Value& v) { s.presence_limit = static_cast<std::size_t>(integer(v)); }, 0,
       1'000'000},

      {"ping-interval", Kind::integer, kEngine, "MS", "heartbeat interval [25000]",
       [](AppSettings& s, const Value& v) { s.server.ping_interval = ms(v); }, 1, kMaxMs},
      {"ping-timeout", Kind::integer, kEngine, "MS", "how long to wait for a pong [20000]",
       [](AppSettings& s, const Value& v) { s.server.ping_timeout = ms(v); }, 1, kMaxMs},
      {"connect-timeout", Kind::integer, kEngine, "MS",
       "close a session that has not joined a namespace in time [45000]",
       [](AppSettings& s, const Value& v) { s.server.connect_timeout = ms(v); }, 1, kMaxMs},
      {"max-http-buffer-size", Kind::integer, kEngine, "BYTES", "largest message or polling body [1000000]",
       [](AppSettings& s, const Value& v) {
         s.server.max_http_buffer_size = static_cast<std::size_t>(integer(v));
       },
       1, std::numeric_limits<std::uint32_t>::max()},
      {"upgrade-timeout", Kind::integer, kEngine, "MS",
       "how long a polling session may take to finish its upgrade to WebSocket [10000]",
       [](AppSettings& s, const Value& v) { s.server.upgrade_timeout = ms(v); }, 1, kMaxMs},
      {"max-attachments", Kind::integer, kEngine, "N",
       "most binary attachments in one Socket.IO packet; more closes the connection [10]",
       [](AppSettings& s, const Value& v) {
         s.server.max_attachments = static_cast<std::size_t>(integer(v));
       },
       0, 100'000},
      {"outbox-high-water", Kind::integer, kEngine, "BYTES",
       "bytes queued for one client above which volatile packets to it are dropped [1048576]",
       [](AppSettings& s, const Value& v) {
         s.server.outbox_high_water = static_cast<std::size_t>(integer(v));
       },
       1, std::numeric_limits<std::uint32_t>::max()},
      {"slow-client-timeout", Kind::integer, kEngine, "MS",
       "disconnect a client that stays above --outbox-high-water this long [10000]",
       [](AppSettings& s, const Value& v) { s.server.slow_client_timeout = ms(v); }, 1, kMaxMs},
      {"hold-senders", Kind::boolean, kEngine, "[=BOOL]",
       "stop reading a client whose messages put receivers over --outbox-high-water until they drain "
       "(publisher backpressure, before any receiver is dropped) [true]",
       [](AppSettings& s, const Value& v) { s.server.hold_senders = boolean(v); }},
      {"hold-senders-timeout", Kind::integer, kEngine, "MS",
       "a receiver over --outbox-high-water holds its senders this long, and again as long as each period "
       "saw its queue shrink; then they go on and it faces --slow-client-timeout alone [1000]",
       [](AppSettings& s, const Value& v) { s.server.hold_senders_timeout = ms(v); }, 1, kMaxMs},
      {"close-timeout", Kind::integer, kEngine, "MS",
       "a connection that must go, or an HTTP response the peer does not read, is destroyed after this long "
       "[30000]",
       [](AppSettings& s, const Value& v) { s.server.close_timeout = ms(v); }, 1, kMaxMs},
      {"transports", Kind::list, kEngine, "LIST", "allowed transports: polling,websocket [both]",
       apply_transports},
      {"allow-eio3", Kind::boolean, kEngine, "[=BOOL]",
       "accept Engine.IO v3 clients (socket.io-client 2.x) [false]",
       [](AppSettings& s, const Value& v) { s.server.allow_eio3 = boolean(v); }},
      {"http-compression", Kind::boolean, kEngine, "[=BOOL]",
       "gzip/deflate long-polling responses by Accept-Encoding (bodies up to --max-http-buffer-size) [true]",
       [](AppSettings& s, const Value& v) { s.server.http_compression = boolean(v); }},
      {"http-compression-threshold", Kind::integer, kEngine, "BYTES",
       "smallest polling response body that is compressed [1024]",
       [](AppSettings& s, const Value& v) {
         s.server.http_compression_threshold = static_cast<std::size_t>(integer(v));
       },
       0, std::numeric_limits<std::uint32_t>::max()},
      {"per-message-deflate", Kind::boolean, kEngine, "[=BOOL]",
       "permessage-deflate WebSocket compression, when the client offers it (engine.io's perMessageDeflate) "
       "[false]",
       [](AppSettings& s, const Value& v) { s.server.per_message_deflate.enabled = boolean(v); }},
      {"per-message-deflate-threshold", Kind::integer, kEngine, "BYTES",
       "smallest WebSocket message that is compressed [1024]",
       [](AppSettings& s, const Value& v) {
         s.server.per_message_deflate.threshold = static_cast<std::size_t>(integer(v));
       },
       0, std::numeric_limits<std::uint32_t>::max()},
      {"per-message-deflate-server-no-context-takeover", Kind::boolean, kEngine, "[=BOOL]",
       "compress each message on its own: a broadcast is compressed once for all, no zlib memory per "
       "connection; false: per-connection streams (better ratio, ~256 KiB each) [true]",
       [](AppSettings& s, const Value& v) {
         s.server.per_message_deflate.server_no_context_takeover = boolean(v);
       }},
      {"per-message-deflate-client-no-context-takeover", Kind::boolean, kEngine, "[=BOOL]",
       "ask clients to compress each message on its own; false: a connection that receives compressed "
       "messages keeps an inflate stream (2^window + 7 KiB) [true]",
       [](AppSettings& s, const Value& v) {
         s.server.per_message_deflate.client_no_context_takeover = boolean(v);
       }},
      {"per-message-deflate-server-max-window-bits", Kind::integer, kEngine, "BITS",
       "deflate window of the server, 2^BITS bytes [15]",
       [](AppSettings& s, const Value& v) {
         s.server.per_message_deflate.server_max_window_bits = static_cast<int>(integer(v));
       },
       9, 15},
      {"per-message-deflate-client-max-window-bits", Kind::integer, kEngine, "BITS",
       "largest window a client may compress with when it keeps its context [15]",
       [](AppSettings& s, const Value& v) {
         s.server.per_message_deflate.client_max_window_bits = static_cast<int>(integer(v));
       },
       8, 15},
      {"per-message-deflate-mem-level", Kind::integer, kEngine, "N",
       "zlib memLevel of the deflate streams, 1 (least memory) to 9 [8]",
       [](AppSettings& s, const Value& v) {
         s.server.per_message_deflate.mem_level = static_cast<int>(integer(v));
       },
       1, 9},
      {"per-message-deflate-level", Kind::integer, kEngine, "N",
       "zlib compression level, 0 (none) to 9 (smallest) [6]",
       [](AppSettings& s, const Value& v) {
         s.server.per_message_deflate.level = static_cast<int>(integer(v));
       },
       0, 9},
      {"parser", Kind::text, kEngine, "NAME",
       "client packet format: json (socket.io-parser) or msgpack (socket.io-msgpack-parser) [json]",
       apply_parser},
      {"cookie", Kind::boolean, kEngine, "[=BOOL]",
       "set engine.io's io=<sid> cookie on the polling handshake (cookie-based sticky balancers) [false]",
       [](AppSettings& s, const Value& v) {
         if (boolean(v))
           cookie(s);
         else
           s.server.cookie.reset();
       }},
      {"cookie-name", Kind::text, kEngine, "NAME", "name of that cookie; implies --cookie [io]",
       apply_cookie_name},
      {"cookie-path", Kind::text, kEngine, "PATH", "its Path attribute, empty for none; implies --cookie [/]",
       [](AppSettings& s, const Value& v) { cookie(s).path = text(v); }},
      {"cookie-same-site", Kind::text, kEngine, "VALUE",
       "its SameSite attribute: lax, strict, none or false; implies --cookie [lax]", apply_cookie_same_site},

      {"tls-cert", Kind::text, kTls, "FILE", "PEM certificate chain: enables HTTPS/WSS",
       [](AppSettings& s, const Value& v) { s.server.tls.cert_file = text(v); }},
      {"tls-key", Kind::text, kTls, "FILE", "PEM private key of --tls-cert",
       [](AppSettings& s, const Value& v) { s.server.tls.key_file = text(v); }},
      {"tls-ca", Kind::text, kTls, "FILE", "more chain certificates (PEM), sent after --tls-cert",
       [](AppSettings& s, const Value& v) { s.server.tls.ca_file = text(v); }},
      {"tls-key-passphrase-file", Kind::text, kTls, "FILE", "first line: the passphrase of encrypted keys",
       [](AppSettings& s, const Value& v) { s.server.tls.key_passphrase_file = text(v); }},
      {"tls-sni", Kind::list, kTls, "HOST=CERT,KEY[,CA]", "a certificate for one SNI host name, repeatable",
       apply_tls_sni},
      {"tls-min-version", Kind::text, kTls, "VERSION", "1.2 or 1.3 [1.2]", apply_tls_min_version},
      {"tls-ciphers", Kind::text, kTls, "LIST", "OpenSSL TLS 1.2 cipher list [ECDHE with AES-GCM/ChaCha20]",
       [](AppSettings& s, const Value& v) { s.server.tls.ciphers = text(v); }},
      {"tls-self-signed", Kind::text, kTls, "HOST",
       "generate a self-signed certificate for HOST (development)",
       [](AppSettings& s, const Value& v) { s.server.tls.self_signed_host = text(v); }},
      {"tls-own-record-layer", Kind::boolean, kTls, "[=BOOL]",
       "after a TLS 1.3 handshake, free OpenSSL's connection state and protect records from the "
       "traffic keys (~12 KiB less per connection) [true]",
       [](AppSettings& s, const Value& v) { s.server.tls.own_record_layer = boolean(v); }},
      {"tls-redirect", Kind::boolean, kTls, "[=BOOL]",
       "answer plain HTTP on the TLS port with a redirect [false]",
       [](AppSettings& s, const Value& v) { s.server.tls.redirect_plain = boolean(v); }},
      {"tls-watch", Kind::boolean, kTls, "[=BOOL]",
       "reload the TLS files when they change (polls every 2 s) [false]",
       [](AppSettings& s, const Value& v) { s.tls_watch = boolean(v); }},
      {"tls-handshake-timeout", Kind::integer, kTls, "MS",
       "close a connection whose TLS handshake is not done this long after it was accepted [10000]",
       [](AppSettings& s, const Value& v) { s.server.tls_handshake_timeout = ms(v); }, 1, kMaxMs},
      {"max-tls-handshakes", Kind::integer, kTls, "N",
       "TLS handshakes in progress at once per thread; when all are taken, an address holding fewer "
       "takes the oldest of the address holding the most, others are closed at once [1024]",
       [](AppSettings& s, const Value& v) {
         s.server.max_tls_handshakes = static_cast<std::size_t>(integer(v));
       },
       1, 1'000'000},

      {"redis", Kind::text, kCluster, "URL", "Redis adapter URL (redis://host:port/db) for a cluster",
       apply_redis},
      {"redis-key", Kind::text, kCluster, "PREFIX", "Redis channel prefix [socket.io]",
       [](AppSettings& s, const Value& v) {
         if (text(v).empty()) throw Invalid("must not be empty");
         s.redis_key = text(v);
       }},
      {"redis-mode", Kind::text, kCluster, "MODE",
       "classic (PUBLISH/PSUBSCRIBE), sharded (Redis 7 SPUBLISH/SSUBSCRIBE) or streams (a Redis stream, "
       "as @socket.io/redis-streams-adapter; recovery across nodes) [classic]",
       [](AppSettings& s, const Value& v) {
         if (text(v) != "classic" && text(v) != "sharded" && text(v) != "streams")
           throw Invalid(in_quotes(text(v)) + " is not classic, sharded or streams");
         s.redis_sharded = text(v) == "sharded";
         s.redis_streams = text(v) == "streams";
       }},
      {"redis-cluster", Kind::boolean, kCluster, "[=BOOL]",
       "--redis is a Redis Cluster (sharded or streams mode): one seed URL or several, comma-separated; each "
       "channel and key goes to its slot's master, following MOVED/ASK and slot migrations [false]",
       [](AppSettings& s, const Value& v) { s.redis_cluster = boolean(v); }},
      {"redis-streams-max-len", Kind::integer, kCluster, "N",
       "streams mode: the stream is trimmed to about N entries (XADD MAXLEN ~, the adapter's maxLen) [10000]",
       [](AppSettings& s, const Value& v) { s.redis_streams_max_len = static_cast<std::size_t>(integer(v)); },
       1, std::int64_t{1} << 40},
      {"redis-streams-read-count", Kind::integer, kCluster, "N",
       "streams mode: entries read per XREAD (the adapter's readCount) [100]",
       [](AppSettings& s, const Value& v) {
         s.redis_streams_read_count = static_cast<std::size_t>(integer(v));
       },
       1, 100'000},
      {"connection-state-recovery", Kind::boolean, kServer, "[=BOOL]",
       "give a client that lost its connection its id, rooms, data and missed messages back [false]",
       [](AppSettings& s, const Value& v) { s.server.connection_state_recovery.enabled = boolean(v); }},
      {"max-disconnection-duration", Kind::integer, kServer, "MS",
       "how long a lost connection may be recovered [120000]",
       [](AppSettings& s,
          const Value& v) { s.server.connection_state_recovery.max_disconnection_duration = ms(v); },
       1, kMaxMs},
      {"recovery-skip-middlewares", Kind::boolean, kServer, "[=BOOL]",
       "a recovered connection skips the connection middlewares [true]",
       [](AppSettings& s,
          const Value& v) { s.server.connection_state_recovery.skip_middlewares = boolean(v); }},
      {"recovery-max-bytes", Kind::integer, kServer, "BYTES",
       "messages kept for recovery, per namespace; the oldest are dropped first [67108864]",
       [](AppSettings& s, const Value& v) {
         s.server.connection_state_recovery.max_bytes = static_cast<std::size_t>(integer(v));
       },
       1024, std::int64_t{1} << 40},
      {"recovery-max-sessions", Kind::integer, kServer, "N",
       "disconnected sessions kept for recovery, per namespace; the oldest are dropped first [100000]",
       [](AppSettings& s, const Value& v) {
         s.server.connection_state_recovery.max_sessions = static_cast<std::size_t>(integer(v));
       },
       1, 100'000'000},

      {"public-url", Kind::text, kCluster, "URL",
       "this node's origin for clients (https://node1.chat.example.com): announce it in the Redis node "
       "registry and answer the first-contact routes; needs --redis [none]",
       apply_public_url},
      {"node-weight", Kind::integer, kCluster, "N",
       "relative share of new clients /cluster/pick sends here; 0: never picked [1]",
       [](AppSettings& s, const Value& v) { s.topology.weight = static_cast<std::uint32_t>(integer(v)); }, 0,
       cluster::kMaxNodeWeight},
      {"node-ttl", Kind::integer, kCluster, "MS",
       "a node that stops refreshing leaves the registry within this long; refreshed every ttl/4 [10000]",
       [](AppSettings& s, const Value& v) { s.topology.ttl = ms(v); }, 1000, 600'000},
      {"cluster-nodes-path", Kind::text, kCluster, "PATH",
       "GET route listing the live nodes [/cluster/nodes]",
       [](AppSettings& s, const Value& v) { s.topology.nodes_path = route_path(v); }},
      {"cluster-pick-path", Kind::text, kCluster, "PATH",
       "GET route answering {\"url\"} of the node a new client should use [/cluster/pick]",
       [](AppSettings& s, const Value& v) { s.topology.pick_path = route_path(v); }},
      {"forward-sessions", Kind::boolean, kCluster, "[=BOOL]",
       "with --redis: serve a polling request or upgrade for another node's session by forwarding it there "
       "over Redis (no sticky sessions needed) [true]",
       [](AppSettings& s, const Value& v) { s.forward_sessions = boolean(v); }},
      {"forward-timeout", Kind::integer, kCluster, "MS",
       "how long a forwarded request waits for the session's node (keep above --ping-interval) [45000]",
       [](AppSettings& s, const Value& v) { s.forwarding.timeout = ms(v); }, 1000, kMaxMs},
      {"forward-max-pending", Kind::integer, kCluster, "N",
       "forwarded requests and WebSockets open at once on this node; more get 503 [10000]",
       [](AppSettings& s, const Value& v) {
         s.forwarding.max_pending = static_cast<std::size_t>(integer(v));
       },
       1, 10'000'000},
      {"redis-max-publish-queue", Kind::integer, kCluster, "BYTES",
       "bytes of publishes waiting for a slow Redis; beyond, dropped for the other nodes and counted "
       "[16777216]",
       [](AppSettings& s, const Value& v) {
         s.redis_max_publish_queue = static_cast<std::size_t>(integer(v));
       },
       1024, std::int64_t{1} << 40},
      {"redis-reconnect-max-delay", Kind::integer, kCluster, "MS",
       "a lost Redis connection is made again after 100 ms, the wait doubling up to this [5000]",
       [](AppSettings& s, const Value& v) {
         s.redis_reconnect_max_delay = std::chrono::milliseconds(integer(v));
       },
       100, 600'000},
      {"redis-requests-timeout", Kind::integer, kCluster, "MS",
       "how long fetchSockets and serverSideEmit wait for the other nodes' answers "
       "(the Redis adapter's requestsTimeout) [5000]",
       [](AppSettings& s, const Value& v) {
         s.redis_requests_timeout = std::chrono::milliseconds(integer(v));
       },
       1, 600'000},

      {"metrics", Kind::boolean, kOps, "[=BOOL]",
       "serve Prometheus metrics at GET /metrics on the main port [false]",
       [](AppSettings& s, const Value& v) { s.server.serve_metrics = boolean(v); }},
      {"metrics-listen", Kind::text, kOps, "HOST:PORT",
       "a separate listener for /metrics, /healthz and /readyz (e.g. 127.0.0.1:9464) [none]",
       apply_metrics_listen},
      {"health", Kind::boolean, kOps, "[=BOOL]", "serve GET /healthz and /readyz on the main port [true]",
       [](AppSettings& s, const Value& v) { s.server.serve_health = boolean(v); }},
      {"log-format", Kind::text, kOps, "FORMAT", "text, or json: one JSON object a line [text]",
       [](AppSettings& s, const Value& v) {
         if (text(v) != "text" && text(v) != "json")
           throw Invalid(in_quotes(text(v)) + " is not text or json");
         s.log_format = text(v);
       }},
      {"admin-ui", Kind::boolean, kOps, "[=BOOL]",
       "the Socket.IO Admin UI: its /admin namespace, and the UI itself at /admin-ui/ [false]",
       [](AppSettings& s, const Value& v) { s.admin_ui = boolean(v); }},
      {"admin-ui-username", Kind::text, kOps, "NAME", "Admin UI basic auth user [admin]",
       [](AppSettings& s, const Value& v) { s.admin.username = text(v); }},
      {"admin-ui-password-hash", Kind::text, kOps, "BCRYPT",
       "Admin UI password as a bcrypt hash ($2b$...; e.g. htpasswd -nbBC 10 \"\" PASSWORD) [required]",
       [](AppSettings& s, const Value& v) { s.admin.password_hash = text(v); }},
      {"admin-ui-auth", Kind::boolean, kOps, "[=BOOL]", "false: no authentication (development only) [true]",
       [](AppSettings& s, const Value& v) { s.admin.auth = boolean(v); }},
      {"admin-ui-readonly", Kind::boolean, kOps, "[=BOOL]",
       "the UI can look but not emit, join, leave or disconnect [false]",
       [](AppSettings& s, const Value& v) { s.admin.readonly = boolean(v); }},
      {"admin-ui-mode", Kind::text, kOps, "MODE",
       "development (sockets and events sent to the UI) or production (stats only) [development]",
       [](AppSettings& s, const Value& v) {
         if (text(v) != "development" && text(v) != "production")
           throw Invalid(in_quotes(text(v)) + " is not development or production");
         s.admin.development = text(v) == "development";
       }},
      {"admin-ui-server-id", Kind::text, kOps, "ID", "this node's name in the UI [the host name]",
       [](AppSettings& s, const Value& v) { s.admin.server_id = text(v); }},
      {"drain-timeout", Kind::integer, kOps, "MS",
       "on SIGTERM/SIGINT, how long clients get to receive their disconnect before connections are cut "
       "[1000]",
       [](AppSettings& s, const Value& v) { s.drain_timeout = ms(v); }, 0, 600'000},
      {"memory-trim-interval", Kind::integer, kOps, "MS",
       "how often freed heap memory is given back to the system (malloc_trim; after a burst of "
       "connections leaves, RSS otherwise stays at its peak); 0: never [30000]",
       [](AppSettings& s, const Value& v) { s.memory_trim_interval = ms(v); }, 0, 86'400'000},
      {"malloc-thread-cache", Kind::boolean, kOps, "[=BOOL]",
       "glibc's per-thread cache of freed blocks (tcache); false: the server starts itself again with "
       "GLIBC_TUNABLES=glibc.malloc.tcache_count=0, so that after a burst of connections the RSS comes "
       "back near its baseline, at ~10 % more CPU per message (docs/operations.md) [true]",
       [](AppSettings& s, const Value& v) { s.malloc_thread_cache = boolean(v); }},
  };
  return table;
}

const Key* find_key(std::string_view name) {
  for (const Key& k : keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::optional<bool> parse_bool(std::string_view s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return std::nullopt;
}

// A value from the command line: everything arrives as text.
Value from_text(const Key& key, const std::string& raw, const std::vector<std::string>& raw_list) {
  switch (key.kind) {
    case Kind::text:
      return raw;
    case Kind::integer: {
      const std::string_view s = trim(raw);
      std::int64_t n = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec == std::errc::result_out_of_range) {
        throw Invalid(std::string(s) + " is not in " + std::to_string(key.min) + ".." +
                      std::to_string(key.max));
      }
      if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
        throw Invalid(in_quotes(raw) + " is not an integer");
      }
      return n;
    }
    case Kind::boolean: {
      const auto b = parse_bool(raw);
      if (!b) throw Invalid(in_quotes(raw) + " is not a boolean (true or false)");
      return *b;
    }
    case Kind::list:
      return raw_list;
    case Kind::switch_text:
      return raw;
  }
  throw Invalid("unsupported kind");
}

Value from_toml(const Key& key, const toml::node& node) {
  switch (key.kind) {
    case Kind::text:
      if (!node.is_string()) throw Invalid("expected a string");
      return node.as_string()->get();
    case Kind::integer:
      if (!node.is_integer()) throw Invalid("expected an integer");
      return node.as_integer()->get();
    case Kind::boolean:
      if (!node.is_boolean()) throw Invalid("expected a boolean (true or false)");
      return node.as_boolean()->get();
    case Kind::list: {
      if (node.is_string()) return std::vector<std::string>{node.as_string()->get()};
      std::vector<std::string> out;
      if (const toml::array* array = node.as_array()) {
        for (const toml::node& item : *array) {
          if (!item.is_string()) throw Invalid("expected a string or an array of strings");
          out.push_back(item.as_string()->get());
        }
        return out;
      }
      throw Invalid("expected a string or an array of strings");
    }
    case Kind::switch_text: {
      if (node.is_boolean()) return std::string(node.as_boolean()->get() ? "true" : "false");
      if (node.is_integer()) return std::to_string(node.as_integer()->get());
      if (node.is_string()) return node.as_string()->get();
      std::string joined;
      if (const toml::array* array = node.as_array()) {
        for (const toml::node& item : *array) {
          if (!item.is_string()) throw Invalid("expected a boolean, an integer, a string or strings");
          joined += item.as_string()->get() + ",";
        }
        return joined;
      }
      throw Invalid("expected a boolean, an integer, a string or strings");
    }
  }
  throw Invalid("unsupported kind");
}

Value from_json(const Key& key, const json::value& v) {
  switch (key.kind) {
    case Kind::text:
      if (!v.is_string()) throw Invalid("expected a string");
      return std::string(v.get_string());
    case Kind::integer:
      if (v.is_int64()) return v.get_int64();
      if (v.is_uint64()) {
        throw Invalid(std::to_string(v.get_uint64()) + " is not in " + std::to_string(key.min) + ".." +
                      std::to_string(key.max));
      }
      throw Invalid("expected an integer");
    case Kind::boolean:
      if (!v.is_bool()) throw Invalid("expected a boolean (true or false)");
      return v.get_bool();
    case Kind::list: {
      if (v.is_string()) return std::vector<std::string>{std::string(v.get_string())};
      if (!v.is_array()) throw Invalid("expected a string or an array of strings");
      std::vector<std::string> out;
      for (const json::value& item : v.get_array()) {
        if (!item.is_string()) throw Invalid("expected a string or an array of strings");
        out.emplace_back(item.get_string());
      }
      return out;
    }
    case Kind::switch_text: {
      if (v.is_bool()) return std::string(v.get_bool() ? "true" : "false");
      if (v.is_int64()) return std::to_string(v.get_int64());
      if (v.is_string()) return std::string(v.get_string());
      std::string joined;
      if (!v.is_array()) throw Invalid("expected a boolean, an integer, a string or strings");
      for (const json::value& item : v.get_array()) {
        if (!item.is_string()) throw Invalid("expected a boolean, an integer, a string or strings");
        joined += std::string(item.get_string()) + ",";
      }
      return joined;
    }
  }
  throw Invalid("unsupported kind");
}

// Checks the range, then stores. `where` prefixes any message.
void apply(AppSettings& s, const Key& key, const Value& v, const std::string& where) {
  try {
    if (key.kind == Kind::integer && (integer(v) < key.min || integer(v) > key.max)) {
      throw Invalid(std::to_string(integer(v)) + " is not in " + std::to_string(key.min) + ".." +
                    std::to_string(key.max));
    }
    key.apply(s, v);
  } catch (const Invalid& e) {
    throw Failure(where + ": " + e.what());
  }
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Failure(path + ": is a directory, expected a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(path + ": cannot open: " + std::generic_category().message(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw Failure(path + ": cannot read");
  return std::move(buf).str();
}

std::string key_where(const std::string& file, std::string_view key) {
  return file + ": key " + in_quotes(key);
}

void load_toml(const std::string& file, const std::string& content, AppSettings& s) {
  toml::table table;
  try {
    table = toml::parse(content, file);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw Failure(file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " +
                  std::string(e.description()));
  }
  for (auto&& [name, node] : table) {
    const std::string_view n = name.str();
    const Key* key = find_key(n);
    if (!key) throw Failure(file + ": unknown key " + in_quotes(n));
    Value v;
    try {
      v = from_toml(*key, node);
    } catch (const Invalid& e) {
      throw Failure(key_where(file, n) + ": " + e.what());
    }
    apply(s, *key, v, key_where(file, n));
  }
}

void load_json(const std::string& file, const std::string& content, AppSettings& s) {
  // Comments and trailing commas are common in hand-written JSON settings; accept them.
  json::parse_options options;
  options.allow_comments = true;
  options.allow_trailing_commas = true;
  json::stream_parser parser({}, options);
  boost::system::error_code ec;
  const std::size_t used = parser.write(content.data(), content.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    // Line and column of the error, counted like an editor does (from 1).
    const std::string_view before = std::string_view(content).substr(0, std::min(used, content.size()));
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const std::size_t line_start = before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
    throw Failure(file + ":" + std::to_string(line) + ":" + std::to_string(before.size() - line_start + 1) +
                  ": invalid JSON: " + ec.message());
  }
  const json::value doc = parser.release();
  if (!doc.is_object()) throw Failure(file + ": expected a JSON object of settings");
  for (const auto& entry : doc.get_object()) {
    const std::string_view n = entry.key();
    const Key* key = find_key(n);
    if (!key) throw Failure(file + ": unknown key " + in_quotes(n));
    Value v;
    try {
      v = from_json(*key, entry.value());
    } catch (const Invalid& e) {
      throw Failure(key_where(file, n) + ": " + e.what());
    }
    apply(s, *key, v, key_where(file, n));
  }
}

void load_config_file(const std::string& file, AppSettings& s) {
  const std::string content = read_file(file);
  const std::string_view start = trim(content);
  if (file.ends_with(".json") || start.starts_with('{')) {
    load_json(file, content, s);
  } else {
    load_toml(file, content, s);
  }
}

// Settings that only make sense together. Named by flag: they may come from either source.
void check_consistency(const AppSettings& s) {
  const CorsConfig& cors = s.server.cors;
  if (cors.credentials &&
      (!cors.enabled || std::find(cors.origins.begin(), cors.origins.end(), "*") != cors.origins.end())) {
    throw Failure(
        "--cors-credentials: needs an explicit --cors-origin list (credentials are never sent to *, "
        "which any site matches)");
  }
  if (s.admin_ui && s.admin.auth && s.admin.password_hash.empty())
    throw Failure("--admin-ui: needs --admin-ui-password-hash (a bcrypt hash), or --admin-ui-auth=false");
  const redis::TopologyOptions& topo = s.topology;
  if (s.redis_cluster && (s.redis_url.empty() || !(s.redis_sharded || s.redis_streams)))
    throw Failure("--redis-cluster: needs --redis and --redis-mode sharded or streams");
  if (!topo.public_url.empty() && s.redis_url.empty())
    throw Failure("--public-url: needs --redis (the node registry lives in Redis)");
  if (topo.public_url.empty()) {
    const redis::TopologyOptions defaults;
    const std::pair<bool, std::string_view> needs_url[] = {
        {topo.weight != defaults.weight, "--node-weight"},
        {topo.ttl != defaults.ttl, "--node-ttl"},
        {topo.nodes_path != defaults.nodes_path, "--cluster-nodes-path"},
        {topo.pick_path != defaults.pick_path, "--cluster-pick-path"},
    };
    for (const auto& [set, flag] : needs_url)
      if (set) throw Failure(std::string(flag) + ": needs --public-url");
  }
  if (topo.nodes_path == topo.pick_path)
    throw Failure("--cluster-pick-path: the same path as --cluster-nodes-path");
  const TlsConfig& tls = s.server.tls;
  if (!tls.self_signed_host.empty() &&
      (!tls.cert_file.empty() || !tls.key_file.empty() || !tls.ca_file.empty())) {
    throw Failure("--tls-self-signed: cannot be combined with --tls-cert, --tls-key or --tls-ca");
  }
  if (!tls.cert_file.empty() && tls.key_file.empty()) throw Failure("--tls-cert: needs --tls-key");
  if (tls.cert_file.empty() && !tls.key_file.empty()) throw Failure("--tls-key: needs --tls-cert");
  if (!tls.enabled()) {
    const std::pair<bool, std::string_view> needs_tls[] = {
        {!tls.ca_file.empty(), "--tls-ca"},
        {!tls.key_passphrase_file.empty(), "--tls-key-passphrase-file"},
        {!tls.sni.empty(), "--tls-sni"},
        {!tls.ciphers.empty(), "--tls-ciphers"},
        {tls.redirect_plain, "--tls-redirect"},
        {s.tls_watch, "--tls-watch"},
    };
    for (const auto& [set, flag] : needs_tls) {
      if (set) throw Failure(std::string(flag) + ": needs --tls-cert and --tls-key (or --tls-self-signed)");
    }
  }
}

// "--port: 1 required TEXT missing" (CLI11) becomes "--port: needs a value".
std::string describe(const CLI::ParseError& e) {
  const std::string what = e.what();
  if (e.get_name() == "ArgumentMismatch" && what.find("required") != std::string::npos) {
    const std::size_t colon = what.find(':');
    if (colon != std::string::npos) return what.substr(0, colon) + ": needs a value";
  }
  return what;
}

// With allow_extras(), CLI11 leaves what it does not know to us, so the message can name it.
std::string describe_extra(const std::string& arg) {
  if (arg.starts_with('-')) return arg.substr(0, arg.find('=')) + ": unknown option (see --help)";
  if (parse_bool(arg)) {
    return "unexpected argument " + in_quotes(arg) + " (a boolean flag takes its value as --flag=" + arg +
           ")";
  }
  return "unexpected argument " + in_quotes(arg) + " (see --help)";
}

struct Slot {
  const Key* key;
  CLI::Option* option = nullptr;
  std::string raw;
  std::vector<std::string> raw_list;
};

}  // namespace

std::string version_string() {
  return std::string("socketio-server ") + SIO_VERSION;
}

ParseResult parse_command_line(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App cli{
      "socketio-server: a Socket.IO chat and message relay.\n"
      "Every option may also be set in the --config file under its name without dashes\n"
      "(port = 3000); options on the command line override the file.",
      "socketio-server"};
  cli.allow_extras();
  cli.get_formatter()->column_width(40);

  std::string config_file;
  cli.add_option("--config", config_file, "settings file: TOML, or JSON (*.json or text starting with '{')")
      ->type_name("FILE")
      ->group(std::string(kServer));
  cli.set_version_flag("--version", version_string(), "print the version and exit");

  std::vector<Slot> slots;
  slots.reserve(keys().size());  // options keep pointers into the slots: no reallocation
  for (const Key& key : keys()) {
    Slot& slot = slots.emplace_back(Slot{&key});
    const std::string flag = "--" + std::string(key.name);
    const std::string help(key.help);
    if (key.kind == Kind::list) {
      slot.option = cli.add_option(flag, slot.raw_list, help);
      // Origins never contain commas, so they may be given as one comma-separated value; SNI
      // specs and transports are split (or not) by their own rules.
      if (key.name == "cors-origin") slot.option->delimiter(',');
    } else if (key.kind == Kind::boolean || key.kind == Kind::switch_text) {
      // A flag: "--allow-eio3" means true, "--serve-client=false" sets it explicitly.
      slot.option = cli.add_flag(flag, slot.raw, help);
      slot.option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    } else {
      slot.option = cli.add_option(flag, slot.raw, help);
      slot.option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    slot.option->type_name(std::string(key.type_name))->group(std::string(key.group));
  }

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return {std::nullopt, cli.exit(e, out, err)};
  } catch (const CLI::CallForAllHelp& e) {
    return {std::nullopt, cli.exit(e, out, err)};
  } catch (const CLI::CallForVersion& e) {
    return {std::nullopt, cli.exit(e, out, err)};
  } catch (const CLI::ParseError& e) {
    err << "error: " << describe(e) << '\n';
    return {std::nullopt, 2};
  }
  if (!cli.remaining().empty()) {
    err << "error: " << describe_extra(cli.remaining().front()) << '\n';
    return {std::nullopt, 2};
  }

  AppSettings settings;
  settings.server.serve_health = true;  // the binary answers probes by default (--health=false)
  // The binary serves browsers from any origin by default, without credentials (the library's
  // own default is no CORS at all, as in the reference).
  settings.server.cors.enabled = true;
  settings.config_file = config_file;
  try {
    if (!config_file.empty()) load_config_file(config_file, settings);
    for (const Slot& slot : slots) {
      if (slot.option->count() == 0) continue;
      const std::string where = "--" + std::string(slot.key->name);
      Value v;
      try {
        v = from_text(*slot.key, slot.raw, slot.raw_list);
      } catch (const Invalid& e) {
        throw Failure(where + ": " + e.what());
      }
      apply(settings, *slot.key, v, where);
    }
    check_consistency(settings);
  } catch (const Failure& e) {
    err << "error: " << e.what() << '\n';
    return {std::nullopt, 2};
  }
  return {std::move(settings), 0};
}

}  // namespace socketio::app
