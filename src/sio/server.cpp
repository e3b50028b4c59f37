// socketio::Server: wires the shards, the listener, the Engine.IO server and the namespaces.
#include "eio/server.hpp"
#include "net/loop_lag.hpp"
#include "net/ops_handler.hpp"
#include "net/router.hpp"
#include "net/server.hpp"
#include "net/static_files.hpp"
#include "net/tls_context.hpp"
#include "sio/internal.hpp"
#include "sio/server_access.hpp"

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <stdexcept>
#include <thread>

namespace socketio::sio {

namespace {

// The adapter of a dynamic namespace's parent: what is done on the parent is done on every
// child it created, like the reference's ParentNamespace.
class ParentAdapter final : public Adapter {
 public:
  explicit ParentAdapter(NamespaceImpl& parent) : Adapter(parent.local()), parent_(parent) {}

  void broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) override {
    for (const auto& c : parent_.children()) {
      auto p = packet;
      p.nsp = c->name();
      c->adapter().broadcast(p, opts);
    }
  }
  void broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                          std::function<void(std::size_t)> client_count,
                          std::function<void(Args)> on_ack) override {
    auto kids = parent_.children();
    struct Sum {
      std::size_t left, total = 0;
      std::function<void(std::size_t)> done;
    };
    auto sum = std::make_shared<Sum>(Sum{kids.size(), 0, std::move(client_count)});
    if (kids.empty()) {
      if (sum->done) sum->done(0);
      return;
    }
    for (const auto& c : kids) {
      auto p = packet;
      p.nsp = c->name();
      c->adapter().broadcast_with_ack(
          p, opts,
          [sum](std::size_t n) {
            sum->total += n;
            if (--sum->left == 0 && sum->done) sum->done(sum->total);
          },
          on_ack);
    }
  }
  void fetch_sockets(const BroadcastOptions& opts,
                     std::function<void(std::vector<SocketInfo>)> done) override {
    auto kids = parent_.children();
    struct Acc {
      std::size_t left;
      std::vector<SocketInfo> all;
      std::function<void(std::vector<SocketInfo>)> done;
      std::mutex m;
    };
    auto acc = std::make_shared<Acc>();
    acc->left = kids.size();
    acc->done = std::move(done);
    if (kids.empty()) {
      if (acc->done) acc->done({});
      return;
    }
    for (const auto& c : kids)
      c->adapter().fetch_sockets(opts, [acc](std::vector<SocketInfo> part) {
        std::unique_lock lock(acc->m);
        for (auto& i : part) acc->all.push_back(std::move(i));
        if (--acc->left == 0 && acc->done) {
          auto all = std::move(acc->all);
          auto cb = std::move(acc->done);
          lock.unlock();
          cb(std::move(all));
        }
      });
  }
  void add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) override {
    for (const auto& c : parent_.children()) c->adapter().add_sockets(opts, rooms);
  }
  void del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) override {
    for (const auto& c : parent_.children()) c->adapter().del_sockets(opts, rooms);
  }
  void disconnect_sockets(const BroadcastOptions& opts, bool close) override {
    for (const auto& c : parent_.children()) c->adapter().disconnect_sockets(opts, close);
  }

 private:
  NamespaceImpl& parent_;
};

}  // namespace

net::ProxyTrust proxy_trust(const ServerOptions& o) {
  if (!o.trust_proxy) return {};
  if (o.trusted_proxies.empty()) {
    net::ProxyTrust t;
    t.enabled = o.trust_proxy_hops > 0;
    t.hops = o.trust_proxy_hops;
    return t;
  }
  std::string list;
  for (const auto& p : o.trusted_proxies) list += p + ",";
  std::string error;
  auto t = net::ProxyTrust::parse(list, error);
  if (!t) throw std::invalid_argument("trusted_proxies: " + error);
  return *t;
}

net::ws::DeflateConfig deflate_config(const PerMessageDeflate& p) {
  const auto check = [](int v, int lo, int hi, const char* name) {
    if (v < lo || v > hi)
      throw std::invalid_argument(std::string("per_message_deflate.") + name + ": " + std::to_string(v) +
                                  " is not in " + std::to_string(lo) + ".." + std::to_string(hi));
  };
  check(p.server_max_window_bits, 9, 15, "server_max_window_bits");
  check(p.client_max_window_bits, 8, 15, "client_max_window_bits");
  check(p.mem_level, 1, 9, "mem_level");
  check(p.level, 0, 9, "level");
  net::ws::DeflateConfig c;
  c.enabled = p.enabled;
  c.threshold = p.threshold;
  c.server_no_context_takeover = p.server_no_context_takeover;
  c.client_no_context_takeover = p.client_no_context_takeover;
  c.server_max_window_bits = p.server_max_window_bits;
  c.client_max_window_bits = p.client_max_window_bits;
  c.mem_level = p.mem_level;
  c.level = p.level;
  return c;
}

std::shared_ptr<net::AddressLimits> make_address_limits(const ServerOptions& o, const net::ProxyTrust& trust,
                                                        Metrics& metrics) {
  net::AddressLimitOptions lo;
  lo.max_connections = o.max_connections;
  if (lo.max_connections == 0) {
    // Descriptors for files, Redis, TLS reloads and the listeners stay free: a full table makes
    // accept fail and spin (and the kernel's backlog fill) instead of closing one connection.
    constexpr rlim_t kReserve = 128;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 2 * kReserve)
      lo.max_connections = static_cast<std::size_t>(rl.rlim_cur - kReserve);
  }
  lo.max_connections_per_address = o.max_connections_per_address;
  lo.max_sessions_per_address = o.max_sessions_per_address;
  lo.handshake_rate = o.handshake_rate;
  lo.handshake_burst = o.handshake_burst;
  lo.max_addresses = std::max<std::size_t>(1, o.max_client_addresses);
  lo.trust = trust;
  return std::make_shared<net::AddressLimits>(lo, metrics);
}

// The public EngineError mirrors the engine's codes (the public headers do not include src/).
static_assert(static_cast<int>(EngineError::unknown_transport) ==
              static_cast<int>(eio::ErrorCode::unknown_transport));
static_assert(static_cast<int>(EngineError::unsupported_protocol_version) ==
              static_cast<int>(eio::ErrorCode::unsupported_protocol_version));

void wire_engine_hooks(const ServerOptions& o, eio::Options& eo) {
  if (o.cookie) eo.cookie = [c = *o.cookie](std::string_view sid) { return serialize_cookie(c, sid); };
  if (o.allow_request)
    eo.allow_request = [f = o.allow_request](const net::HttpRequest& r) { return f(EngineRequest(r)); };
  if (o.initial_headers || o.headers) {
    // engine.io emits initial_headers, then headers, on the same header object.
    eo.headers = [initial_hook = o.initial_headers, every_hook = o.headers](
                     eio::Options::ExtraHeaders& h, const net::HttpRequest& r, bool initial) {
      const EngineRequest req(r);
      if (initial && initial_hook) initial_hook(h, req);
      if (every_hook) every_hook(h, req);
    };
  }
  if (o.on_connection_error) {
    eo.connection_error = [f = o.on_connection_error](eio::ErrorCode code, const boost::json::object& context,
                                                      const net::HttpRequest& r) {
      const EngineRequest req(r);
      f(ConnectionError{static_cast<EngineError>(code), eio::error_message(code), context, req});
    };
  }
}

std::unique_ptr<Adapter> ServerCore::make_adapter(NamespaceImpl& nsp) {
  if (options.adapter) return options.adapter(nsp.local());
  return std::make_unique<Adapter>(nsp.local());
}

NamespaceImpl& ServerCore::get_or_create(const std::string& name) {
  std::lock_guard lock(ns_mutex);
  auto it = namespaces.find(name);
  if (it != namespaces.end()) return *it->second;
  auto nsp = std::make_shared<NamespaceImpl>(*this, name, std::make_shared<Handlers>());
  nsp->set_adapter(make_adapter(*nsp));
  auto& ref = *nsp;
  namespaces.emplace(name, std::move(nsp));
  return ref;
}

std::shared_ptr<NamespaceImpl> ServerCore::find_for_connect(const std::string& name,
                                                            const boost::json::object& auth,
                                                            ConnectRefusal& why) {
  why = ConnectRefusal::none;
  std::lock_guard lock(ns_mutex);
  auto it = namespaces.find(name);
  if (it != namespaces.end()) {
    it->second->connect_started();
    return it->second;
  }
  for (auto& p : parents) {
    if (!p.match(name, auth)) continue;
    if (options.max_dynamic_namespaces > 0 && dynamic_count >= options.max_dynamic_namespaces) {
      why = ConnectRefusal::too_many;
      return nullptr;
    }
    // A child shares its parent's handlers, so what is registered on the parent applies.
    auto child = std::make_shared<NamespaceImpl>(*this, name, p.nsp->handlers());
    child->set_adapter(make_adapter(*child));
    child->set_parent_of(p.nsp.get());
    child->connect_started();
    namespaces.emplace(name, child);
    p.nsp->add_child(child);
    ++dynamic_count;
    return child;
  }
  why = ConnectRefusal::unknown;
  return nullptr;
}

WireFormatSet ServerCore::formats_in_use() const noexcept {
  WireFormatSet set = 0;
  for (std::size_t i = 0; i < kWireFormats; ++i)
    if (clients_by_format[i].load(std::memory_order_relaxed) > 0) set |= WireFormatSet{1} << i;
  return set;
}

WireFormat ServerCore::format_for(const eio::Session& session) const noexcept {
  if (session.protocol() == 3) return WireFormat::json_v4;  // socket.io-client 2.x (--allow-eio3)
  return options.parser == Parser::msgpack ? WireFormat::msgpack_v5 : WireFormat::json_v5;
}

void ServerCore::maybe_remove_child(NamespaceImpl& child) {
  if (!options.cleanup_empty_child_namespaces) return;
  std::shared_ptr<NamespaceImpl> keep;  // destroyed after the lock is released
  {
    std::lock_guard lock(ns_mutex);
    // Re-checked under the lock: a CONNECT that found the child counts as pending first.
    const auto it = namespaces.find(child.name());
    if (it == namespaces.end() || it->second.get() != &child || child.in_use()) return;
    keep = std::move(it->second);
    namespaces.erase(it);
    child.parent()->remove_child(&child);
    --dynamic_count;
  }
  counters.namespaces_removed.inc();
  spdlog::debug("sio: dynamic namespace {} is empty, removed (cleanupEmptyChildNamespaces)", child.name());
}

LimitLogs& ServerCore::limit_logs_here() {
  const auto here = net::ShardPool::current();
  return *limit_logs[here < limit_logs.size() - 1 ? here : limit_logs.size() - 1];
}

static void collect_recovery(MetricsSink& sink, const std::string& nsp, const SessionStore& store) {
  const MetricLabels l{{"namespace", nsp}};
  const auto& c = store.counters();
  const auto n = [](const std::atomic<std::uint64_t>& a) { return static_cast<double>(a.load()); };
  sink.gauge("socketio_recovery_retained_bytes", "Bytes of packets kept for connection state recovery", l,
             static_cast<double>(store.retained_bytes()));
  sink.gauge("socketio_recovery_retained_packets", "Packets kept for connection state recovery", l,
             static_cast<double>(store.retained_packets()));
  sink.gauge("socketio_recovery_sessions", "Disconnected sessions kept for connection state recovery", l,
             static_cast<double>(store.kept_sessions()));
  sink.counter("socketio_recovery_packets_evicted_total",
               "Packets dropped for --recovery-max-bytes before their window ended", l, n(c.packets_evicted));
  sink.counter("socketio_recovery_sessions_evicted_total",
               "Sessions dropped for --recovery-max-sessions before their window ended", l,
               n(c.sessions_evicted));
  sink.counter("socketio_recovery_restored_total", "Sessions recovered", l, n(c.sessions_restored));
  sink.counter("socketio_recovery_failed_total",
               "Recoveries refused (unknown or expired session, offset out of the window)", l,
               n(c.restores_failed));
}

}  // namespace socketio::sio

namespace socketio {

// The forwarding drain's share of a graceful stop (usually one Redis round trip).
constexpr std::chrono::milliseconds kForwardDrainWait{500};

struct Server::Impl {
  sio::ServerCore core;
  // Before pool, so destroyed after it: what the shards' io_contexts still hold when they go (a
  // listener whose stop never ran, its shard's zlib compressor) counts what it frees into these.
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<net::ShardPool> pool;
  std::unique_ptr<net::LoopLag> loop_lag;  // after pool: its timers go first
  std::shared_ptr<net::AddressLimits> limits;
  net::ws::DeflateConfig deflate;  // ServerOptions::per_message_deflate, checked
  std::unique_ptr<eio::Server> engine;
  std::unique_ptr<net::Router> router;
  std::unique_ptr<net::StaticFiles> statics;
  std::shared_ptr<net::TlsContext> tls;
  std::unique_ptr<net::Server> http;
  std::vector<std::pair<std::string, net::OpsHandler::Check>> readiness_checks;
  std::unique_ptr<net::OpsHandler> ops;      // the main port's /metrics, /healthz, /readyz
  std::unique_ptr<net::OpsHandler> ops_own;  // the operations listener's
  std::unique_ptr<net::Router> ops_router;
  std::unique_ptr<net::Server> ops_http;
  std::uint16_t ops_port = 0;
  std::atomic<bool> listening{false};
  std::mutex run_mutex;
  std::condition_variable run_cv;
  bool running = false;
  bool stopped = false;
  std::atomic<bool> stopping{false};
  std::string node_tag;  // ServerAccess::set_forwarding
  std::shared_ptr<eio::Forwarder> forwarder;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.threads == 0) options.threads = std::max(1u, std::thread::hardware_concurrency());
  if (options.threads > 64) options.threads = 64;
  impl_->core.options = std::move(options);
  const auto& o = impl_->core.options;
  impl_->core.proxy_trust = sio::proxy_trust(o);
  impl_->deflate = sio::deflate_config(o.per_message_deflate);
  impl_->core.limits.max_attachments = o.max_attachments;
  impl_->core.limits.max_depth = o.max_json_depth;
  impl_->core.limits.max_packet_size = o.max_http_buffer_size;
  impl_->pool = std::make_unique<net::ShardPool>(o.threads);
  impl_->core.pool = impl_->pool.get();
  impl_->metrics = std::make_unique<Metrics>(o.threads);
  impl_->core.metrics = impl_->metrics.get();
  impl_->core.counters = sio::Counters(*impl_->metrics);
  impl_->loop_lag = std::make_unique<net::LoopLag>(*impl_->pool, std::chrono::milliseconds(1000));
  // Read at scrape time (they exist elsewhere already): sockets per namespace, loop lag, build.
  impl_->metrics->add_collector([impl = impl_.get()](MetricsSink& sink) {
    {
      std::lock_guard lock(impl->core.ns_mutex);
      for (const auto& [name, nsp] : impl->core.namespaces) {
        sink.gauge("socketio_connected_sockets", "Sockets connected to a namespace on this node",
                   {{"namespace", name}}, static_cast<double>(nsp->local_socket_count()));
        if (const auto* store = nsp->local().sessions()) sio::collect_recovery(sink, name, *store);
      }
    }
    for (std::size_t i = 0; i < impl->pool->size(); ++i)
      sink.gauge("socketio_event_loop_lag_seconds",
                 "How late a 1 s timer fired on the shard, last measure (a busy or starved shard)",
                 {{"shard", std::to_string(i)}}, impl->loop_lag->lag_seconds(i));
    sink.gauge("socketio_build_info", "Build of the server (always 1)", {{"version", SIO_LIB_VERSION}}, 1);
    sink.gauge("socketio_worker_threads", "Shards (worker threads)", {},
               static_cast<double>(impl->pool->size()));
  });
  for (std::size_t i = 0; i <= o.threads; ++i)
    impl_->core.limit_logs.push_back(std::make_unique<sio::LimitLogs>());
  impl_->router = std::make_unique<net::Router>();
  of("/");
}

Server::~Server() {
  if (impl_->running && !impl_->stopped) stop(std::chrono::milliseconds(0));
  if (impl_->pool) {
    impl_->pool->stop();
    impl_->pool->join();
  }
  // Sessions (and their timers) go before the shards' io_contexts.
  impl_->ops_http.reset();
  impl_->http.reset();
  impl_->engine.reset();
  // The adapters go now, while the metrics their cluster requests report into still exist: a
  // namespace may outlive this destructor (whatever still refers to it), and an answer the Redis
  // thread handles later must find no request of ours (seen under ASan at shutdown).
  for (auto& [name, nsp] : impl_->core.namespaces) nsp->set_adapter(nullptr);
  impl_->core.namespaces.clear();
  impl_->core.parents.clear();
}

const ServerOptions& Server::options() const noexcept {
  return impl_->core.options;
}

Namespace& Server::of(const std::string& name) {
  std::string n = name.empty() || name.front() != '/' ? "/" + name : name;
  return impl_->core.get_or_create(n);
}

Namespace& Server::of(std::function<bool(const std::string&, const boost::json::object&)> predicate) {
  auto& core = impl_->core;
  std::lock_guard lock(core.ns_mutex);
  auto parent = std::make_shared<sio::NamespaceImpl>(core, "/_" + std::to_string(core.parents.size()),
                                                     std::make_shared<sio::Handlers>());
  parent->set_parent();
  parent->set_adapter(std::make_unique<sio::ParentAdapter>(*parent));
  auto& ref = *parent;
  core.parents.push_back({std::move(predicate), std::move(parent)});
  return ref;
}

Namespace& Server::of(const std::regex& pattern) {
  return of([pattern](const std::string& name, const boost::json::object&) {
    return std::regex_match(name, pattern);
  });
}

std::uint16_t Server::listen() {
  auto& o = impl_->core.options;
  eio::Options eo;
  eo.path = o.path;
  eo.ping_interval = o.ping_interval;
  eo.ping_timeout = o.ping_timeout;
  eo.upgrade_timeout = o.upgrade_timeout;
  eo.max_http_buffer_size = o.max_http_buffer_size;
  eo.allow_polling = o.allow_polling;
  eo.allow_websocket = o.allow_websocket;
  eo.allow_upgrades = o.allow_upgrades;
  eo.allow_eio3 = o.allow_eio3;
  eo.http_compression = o.http_compression;
  eo.http_compression_threshold = o.http_compression_threshold;
  eo.cors.enabled = o.cors.enabled;
  eo.cors.origins = o.cors.origins;
  eo.cors.credentials = o.cors.credentials;
  eo.cors.methods = o.cors.methods;
  eo.cors.allowed_headers = o.cors.allowed_headers;
  sio::wire_engine_hooks(o, eo);
  eo.metrics = impl_->metrics.get();
  eo.outbox.high_water = o.outbox_high_water;
  eo.outbox.slow_timeout = o.slow_client_timeout;
  eo.outbox.hold_senders = o.hold_senders;
  eo.outbox.hold_timeout = o.hold_senders_timeout;
  eo.trust_proxy = impl_->core.proxy_trust;
  eo.node_tag = impl_->node_tag;
  eo.forwarder = impl_->forwarder;
  impl_->limits = sio::make_address_limits(o, impl_->core.proxy_trust, *impl_->metrics);
  eo.limits = impl_->limits;
  impl_->metrics->add_collector([limits = impl_->limits](MetricsSink& sink) {
    sink.gauge("socketio_client_addresses_tracked", "Client addresses in the per-address limits' table", {},
               static_cast<double>(limits->tracked_addresses()));
  });
  impl_->engine = std::make_unique<eio::Server>(*impl_->pool, eo);
  impl_->engine->on_connection([core = &impl_->core](const std::shared_ptr<eio::Session>& session) {
    auto client = std::make_shared<sio::Client>(*core, session);
    session->set_handler(client);
    client->start();
  });

  setup_ops();
  impl_->router->add([engine = impl_->engine.get()](const net::HttpRequest& r) { return engine->matches(r); },
                     *impl_->engine);
  if (o.serve_client || o.serve_static) {
    // It claims every GET/HEAD outside the Engine.IO path (unknown paths get 404).
    net::StaticOptions st;
    st.client_prefix = impl_->engine->options().path;
    st.serve_client = o.serve_client;
    st.client_dir = o.client_dir;
    st.static_dir = o.static_dir;
    st.serve_static = o.serve_static;
    st.max_pending = o.static_max_pending;
    st.metrics = impl_->metrics.get();
    impl_->statics = std::make_unique<net::StaticFiles>(st);
    impl_->router->add([s = impl_->statics.get()](const net::HttpRequest& r) { return s->matches(r); },
                       *impl_->statics);
  }
  // Then the rest of the path (e.g. a bundle file with --serve-client=false) goes to Engine.IO too.
  impl_->router->add(
      [engine = impl_->engine.get()](const net::HttpRequest& r) { return engine->matches_under(r); },
      *impl_->engine);

  net::ServerOptions so;
  so.limits = impl_->limits;
  so.header_limit = o.max_header_size;
  so.max_header_count = o.max_headers_count;
  so.header_timeout = o.headers_timeout;
  so.keepalive_timeout = o.keep_alive_timeout;
  so.host = o.host;
  so.port = o.port;
  so.body_limit = o.max_http_buffer_size;
  so.ws_message_limit = o.max_http_buffer_size;
  so.backpressure_bytes = o.outbox_high_water;
  so.close_timeout = o.close_timeout;
  so.write_timeout = o.close_timeout;
  so.per_message_deflate = impl_->deflate;
  so.tls_handshake_timeout = o.tls_handshake_timeout;
  so.max_tls_handshakes = o.max_tls_handshakes;
  if (o.tls.enabled()) {
    net::TlsOptions to;
    to.cert = {o.tls.cert_file, o.tls.key_file, o.tls.ca_file};
    to.key_passphrase_file = o.tls.key_passphrase_file;
    to.min_version = o.tls.min_version;
    to.ciphers = o.tls.ciphers;
    to.self_signed_host = o.tls.self_signed_host;
    to.own_record_layer = o.tls.own_record_layer;
    for (const auto& s : o.tls.sni) {
      std::string err;
      auto spec = net::parse_sni_spec(s, err);
      if (!spec) throw std::runtime_error("--tls-sni " + s + ": " + err);
      to.sni.push_back(std::move(*spec));
    }
    std::string err;
    auto ctx = net::TlsContext::create(to, err);
    if (!ctx) throw std::runtime_error(err);
    impl_->tls = std::move(ctx);
    so.tls = impl_->tls;
    so.tls_redirect = o.tls.redirect_plain;
  }
  so.metrics = impl_->metrics.get();
  impl_->http = std::make_unique<net::Server>(*impl_->pool, so, *impl_->router);
  const auto port = impl_->http->listen();
  if (impl_->ops_router) {
    net::ServerOptions oo;
    oo.host = o.ops_host;
    oo.port = o.ops_port;
    oo.body_limit = 0;
    impl_->ops_http = std::make_unique<net::Server>(*impl_->pool, oo, *impl_->ops_router);
    impl_->ops_port = impl_->ops_http->listen();
  }
  impl_->pool->start(o.busy_poll);
  impl_->loop_lag->start();
  impl_->listening = true;
  {
    std::lock_guard lock(impl_->run_mutex);
    impl_->running = true;
  }
  return port;
}

void Server::run() {
  std::unique_lock lock(impl_->run_mutex);
  impl_->run_cv.wait(lock, [this] { return impl_->stopped || !impl_->running; });
}

void Server::stop(std::chrono::milliseconds drain) {
  if (impl_->stopping.exchange(true)) return;
  spdlog::debug("stopping: /readyz now answers 503");
  // Clients of other nodes whose requests this node relays go on elsewhere, unharmed; a quick
  // step (one Redis round trip), bounded so that this node's own clients keep their share.
  if (impl_->forwarder && !impl_->forwarder->drain(std::min(drain, kForwardDrainWait)))
    spdlog::warn("forwarding: exchanges for other nodes' sessions still open after {} ms",
                 std::min(drain, kForwardDrainWait).count());
  if (impl_->engine) {
    // New sessions are refused, but the listener stays open until the sessions are closed: a
    // polling client's next request often comes on a new connection, and it must still get
    // the DISCONNECT. Tell every client first (DISCONNECT per namespace: the client sees "io
    // server disconnect"), give the transports a moment to take it, then close the sessions.
    impl_->engine->refuse_handshakes();
    std::vector<std::shared_ptr<sio::NamespaceImpl>> all;
    {
      std::lock_guard lock(impl_->core.ns_mutex);
      for (auto& [name, nsp] : impl_->core.namespaces) all.push_back(nsp);
    }
    for (const auto& nsp : all) nsp->shutdown_sockets();
    std::this_thread::sleep_for(std::min(drain, std::chrono::milliseconds(200)));
    impl_->engine->close_all("server shutting down");
    // Give the transports a moment to flush the close to every client.
    const auto deadline = std::chrono::steady_clock::now() + drain;
    while (impl_->engine->session_count() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::min(drain, std::chrono::milliseconds(100)));
  }
  if (impl_->http) impl_->http->stop_accepting();
  if (impl_->ops_http) impl_->ops_http->stop_accepting();
  // Polls relayed since the first drain (released at once, on connections closed after them)
  // get their answers before the connections go: an answer lost here would be data lost.
  if (impl_->forwarder) impl_->forwarder->drain(std::min(drain, kForwardDrainWait));
  impl_->pool->stop();
  impl_->pool->join();
  {
    std::lock_guard lock(impl_->run_mutex);
    impl_->stopped = true;
  }
  impl_->run_cv.notify_all();
}

bool Server::reload_tls(std::string& error) {
  if (!impl_->tls) {
    error = "TLS is not enabled";
    return false;
  }
  return impl_->tls->reload(error);
}

std::vector<std::string> Server::tls_warnings() const {
  return impl_->tls ? impl_->tls->warnings() : std::vector<std::string>{};
}

std::string Server::tls_fingerprint() const {
  return impl_->tls ? impl_->tls->fingerprint_sha256() : std::string();
}

net::ShardPool& ServerAccess::pool(Server& s) {
  return *s.impl_->pool;
}

void ServerAccess::add_route(Server& s, net::Router::Matcher matcher, net::HttpHandler& handler) {
  s.impl_->router->add(std::move(matcher), handler);
}

void ServerAccess::add_cors_headers(const Server& s, const net::HttpRequest& req, net::HttpResponse& res) {
  if (s.impl_->engine) s.impl_->engine->add_cors_headers(req, res);
}

std::optional<net::HttpResponse> ServerAccess::cors_preflight(const Server& s, const net::HttpRequest& req) {
  return s.impl_->engine ? s.impl_->engine->preflight_response(req) : std::nullopt;
}

void ServerAccess::set_forwarding(Server& s, std::string tag, std::shared_ptr<eio::Forwarder> forwarder) {
  s.impl_->node_tag = std::move(tag);
  s.impl_->forwarder = std::move(forwarder);
}

void ServerAccess::handle_forwarded(Server& s, net::HttpRequest&& req, net::ResponderPtr res) {
  if (s.impl_->engine) s.impl_->engine->on_request(std::move(req), std::move(res));
}

void ServerAccess::handle_forwarded(Server& s, net::WebSocketPtr ws) {
  if (s.impl_->engine) s.impl_->engine->on_upgrade(std::move(ws));
}

std::vector<std::string> Server::namespace_names() const {
  std::lock_guard lock(impl_->core.ns_mutex);
  std::vector<std::string> names;
  for (const auto& [name, nsp] : impl_->core.namespaces) names.push_back(name);
  return names;
}

Metrics& Server::metrics() noexcept {
  return *impl_->metrics;
}

void Server::add_readiness_check(std::string name, std::function<bool(std::string&)> check) {
  impl_->readiness_checks.emplace_back(std::move(name), std::move(check));
}

std::uint16_t Server::ops_port() const noexcept {
  return impl_->ops_port;
}

// The operations endpoints: on the main port (before the Engine.IO and static routes, which
// would otherwise claim the paths) and on their own listener when asked.
void Server::setup_ops() {
  const auto& o = impl_->core.options;
  std::vector<std::pair<std::string, net::OpsHandler::Check>> checks;
  checks.emplace_back("server", [impl = impl_.get()](std::string& why) {
    if (impl->stopping.load()) {
      why = "draining";
      return false;
    }
    if (!impl->listening.load()) {
      why = "not listening yet";
      return false;
    }
    return true;
  });
  for (auto& c : impl_->readiness_checks) checks.push_back(c);
  auto make = [&](net::OpsHandler::Endpoints e) {
    auto h = std::make_unique<net::OpsHandler>(*impl_->pool, *impl_->metrics, e);
    for (auto& [name, check] : checks) h->add_readiness_check(name, check);
    return h;
  };
  if (o.serve_metrics || o.serve_health) {
    impl_->ops = make({o.serve_metrics, o.serve_health});
    impl_->router->add([h = impl_->ops.get()](const net::HttpRequest& r) { return h->matches(r); },
                       *impl_->ops);
  }
  if (o.ops_listen) {
    impl_->ops_own = make({true, true});
    impl_->ops_router = std::make_unique<net::Router>();
    impl_->ops_router->add([h = impl_->ops_own.get()](const net::HttpRequest& r) { return h->matches(r); },
                           *impl_->ops_own);
  }
}

std::size_t Server::client_count() const noexcept {
  return impl_->engine ? impl_->engine->session_count() : 0;
}

}  // namespace socketio
