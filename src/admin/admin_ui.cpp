// socketio::instrument (include/socketio/admin_ui.hpp): the /admin namespace of
// @socket.io/admin-ui 0.5.1 on the public API, plus its UI files. The contract is the package's
// dist/index.js: middleware (basic auth + sessions), then on connection `config`, in development
// `all_sockets`, the command handlers; `server_stats` every 2 s to the whole namespace (through
// the adapter: every UI of a cluster sees every node). The aggregated events are the deltas of
// the server's own counters (socketio::Metrics) between two stats, so nothing is counted twice.
#include "socketio/admin_ui.hpp"

#include "admin/ui_files.hpp"
#include "net/shards.hpp"
#include "sio/server_access.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace socketio {

namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

constexpr auto kStatsInterval = std::chrono::seconds(2);
constexpr int kMaxConcurrentChecks = 4;  // bcrypt is slow on purpose: bound the threads it takes

bool is_bcrypt_hash(const std::string& h) {
  return h.size() == 60 && (h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$"));
}

// crypt(3) from libxcrypt verifies $2b$ hashes; the comparison is constant-time.
bool password_matches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_r(password.c_str(), hash.c_str(), data.get());
  return out && std::strlen(out) == hash.size() && CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
}

std::string random_id() {
  unsigned char b[8];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// What `new Date()` becomes in JSON: ISO 8601 with milliseconds, UTC.
json::value now_date() {
  const auto now = Clock::now();
  const auto t = Clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  return json::value(buf);
}

json::value data_without_admin(const json::value& data) {
  if (!data.is_object()) return json::object();
  json::object o = data.get_object();
  o.erase("_admin");
  return o;
}

json::value admin_field(const json::value& data, const char* key) {
  if (const auto* o = data.if_object())
    if (const auto* a = o->if_contains("_admin"))
      if (const auto* ao = a->if_object())
        if (const auto* v = ao->if_contains(key)) return *v;
  return nullptr;
}

// The package's serialize(socket, nsp).
json::object serialize(const SocketInfo& s, const std::string& nsp) {
  const Handshake& h = s.handshake;
  json::object headers, query;
  for (const auto& [k, v] : h.headers) headers[k] = v;
  for (const auto& [k, v] : h.query) query[k] = v;
  std::string address = h.address;
  if (auto it = h.headers.find("cf-connecting-ip"); it != h.headers.end()) {
    address = it->second;
  } else if (auto xf = h.headers.find("x-forwarded-for"); xf != h.headers.end()) {
    address = xf->second;
  }
  json::array rooms;
  for (const auto& r : s.rooms) rooms.emplace_back(r);
  return {
      {"id", s.id},
      {"clientId", admin_field(s.data, "clientId")},
      {"transport", admin_field(s.data, "transport")},
      {"nsp", nsp},
      {"data", data_without_admin(s.data)},
      {"handshake",
       {{"address", address},
        {"headers", std::move(headers)},
        {"query", std::move(query)},
        {"issued", h.issued},
        {"secure", h.secure},
        {"time", h.time},
        {"url", h.url},
        {"xdomain", h.xdomain}}},
      {"rooms", std::move(rooms)},
  };
}

SocketInfo info_of(const SocketPtr& s) {
  return SocketInfo{s->id(), s->handshake(), s->rooms(), s->data()};
}

json::array to_array(const Args& args) {
  return args.values();
}

class AdminUi : public std::enable_shared_from_this<AdminUi> {
 public:
  AdminUi(Server& server, AdminUiOptions options)
      : server_(server),
        o_(std::move(options)),
        nsp_(server.of(o_.namespace_name)),
        server_id_(o_.server_id.empty() ? host_name() : o_.server_id),
        hostname_(host_name()),
        started_(std::chrono::steady_clock::now()) {}

  void install() {
    auto self = shared_from_this();
    if (o_.auth) nsp_.use([self](const SocketPtr& s, auto next) { self->authenticate(s, std::move(next)); });
    if (o_.development) {
      // The application's namespaces as they are now, and this one (the package watches all).
      for (const std::string& name : server_.namespace_names()) watch(server_.of(name));
    }
    nsp_.on_connection([self](const SocketPtr& s) { self->on_admin(s); });
    auto& pool = ServerAccess::pool(server_);
    timer_ = std::make_unique<boost::asio::steady_timer>(pool.context(0));
    pool.post(0, [self] { self->tick(); });
  }

 private:
  // --- authentication: basic (bcrypt) and sessions ----------------------------------------
  void authenticate(const SocketPtr& s, std::function<void(std::optional<ConnectError>)> next) {
    const json::object& auth = s->handshake().auth;
    if (const auto* sid = auth.if_contains("sessionId"); sid && sid->is_string()) {
      bool known = false;
      {
        std::lock_guard lock(mutex_);
        known = sessions_.contains(std::string(sid->get_string()));
      }
      // Unlocked: next() runs the connection handlers (on_admin) right away.
      if (known) return next(std::nullopt);
    }
    const auto* user = auth.if_contains("username");
    const auto* pass = auth.if_contains("password");
    if (!user || !pass || !user->is_string() || !pass->is_string() || user->get_string() != o_.username ||
        pass->get_string().size() > 1024) {
      return next(ConnectError{"invalid credentials", nullptr});
    }
    if (checks_.fetch_add(1) >= kMaxConcurrentChecks) {
      --checks_;
      return next(ConnectError{"invalid credentials", nullptr});
    }
    // Off the shard: a bcrypt check takes tens of milliseconds by design.
    const std::size_t shard = net::ShardPool::current();
    std::thread([self = shared_from_this(), s, next = std::move(next), shard,
                 password = std::string(pass->get_string())]() mutable {
      const bool ok = password_matches(password, self->o_.password_hash);
      --self->checks_;
      std::string session;
      if (ok) {
        session = random_id();
        std::lock_guard lock(self->mutex_);
        self->sessions_.insert(session);
        self->new_sessions_[s->id()] = session;
      }
      auto done = [s, next = std::move(next), ok] {
        if (ok) {
          next(std::nullopt);
        } else {
          next(ConnectError{"invalid credentials", nullptr});
        }
      };
      auto& pool = ServerAccess::pool(self->server_);
      if (shard < pool.size()) {
        pool.post(shard, std::move(done));
      } else {
        done();
      }
    }).detach();
  }

  // --- an admin socket ----------------------------------------------------------------------
  void on_admin(const SocketPtr& s) {
    std::string session;
    {
      std::lock_guard lock(mutex_);
      if (auto it = new_sessions_.find(s->id()); it != new_sessions_.end()) {
        session = it->second;
        new_sessions_.erase(it);
      }
    }
    if (!session.empty()) s->emit("session", Args().add(session));
    json::array features;
    if (!o_.readonly) {
      for (const char* f : {"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"})
        features.emplace_back(f);
      register_commands(s);
    }
    features.emplace_back("AGGREGATED_EVENTS");
    if (o_.development) features.emplace_back("ALL_EVENTS");
    s->emit("config", Args().add(json::object{{"supportedFeatures", std::move(features)}}));
    if (o_.development) send_all_sockets(s);
  }

  // fetchSockets() of every namespace (through the adapter: every node), then one all_sockets.
  void send_all_sockets(const SocketPtr& s) {
    const auto names = server_.namespace_names();
    struct Acc {
      std::size_t left;
      json::array all;
    };
    auto acc = std::make_shared<Acc>(Acc{names.size(), {}});
    for (const std::string& name : names) {
      // The UI shows handshakes and rooms whatever the namespace's default detail.
      server_.of(name)
          .all()
          .detail(SocketDetail::full)
          .fetch_sockets([acc, s, name](std::vector<SocketInfo> sockets) {
            for (const auto& info : sockets) acc->all.emplace_back(serialize(info, name));
            if (--acc->left == 0) s->emit("all_sockets", Args().add(std::move(acc->all)));
          });
    }
  }

  bool known_namespace(const json::value& v) const {
    if (!v.is_string()) return false;
    const auto names = server_.namespace_names();
    return std::find(names.begin(), names.end(), std::string(v.get_string())) != names.end();
  }

  // The package's registerFeatureHandlers (Socket.IO v4 variant): a filter is a room (a socket
  // id is a room too); without one, the whole namespace.
  void register_commands(const SocketPtr& s) {
    auto self = shared_from_this();
    auto target = [self](const json::value& nsp, const json::value& filter) {
      BroadcastOperator op = self->server_.of(std::string(nsp.get_string())).all();
      if (filter.is_string() && !filter.get_string().empty()) op = op.to(std::string(filter.get_string()));
      return op;
    };
    s->on("emit", [self, target](Event& ev) {
      const auto& a = ev.args;
      if (a.size() < 3 || !self->known_namespace(a[0]) || !a[2].is_string()) return;
      Args rest = ev.args;
      const std::string event(a[2].get_string());
      rest.drop_front(3);
      target(a[0], a[1]).emit(event, std::move(rest));
    });
    s->on("join", [self, target](Event& ev) {
      const auto& a = ev.args;
      if (a.size() < 2 || !self->known_namespace(a[0]) || !a[1].is_string()) return;
      target(a[0], a.size() > 2 ? a[2] : json::value()).sockets_join({std::string(a[1].get_string())});
    });
    s->on("leave", [self, target](Event& ev) {
      const auto& a = ev.args;
      if (a.size() < 2 || !self->known_namespace(a[0]) || !a[1].is_string()) return;
      target(a[0], a.size() > 2 ? a[2] : json::value()).sockets_leave({std::string(a[1].get_string())});
    });
    s->on("_disconnect", [self, target](Event& ev) {
      const auto& a = ev.args;
      if (a.empty() || !self->known_namespace(a[0])) return;
      const bool close = a.size() > 1 && a[1].is_bool() && a[1].get_bool();
      target(a[0], a.size() > 2 ? a[2] : json::value()).disconnect_sockets(close);
    });
  }

  // --- development mode: the sockets of a namespace ------------------------------------------
  void watch(Namespace& nsp) {
    auto self = shared_from_this();
    const std::string name = nsp.name();
    const bool is_admin = name == o_.namespace_name;
    nsp.on_connection([self, name, is_admin](const SocketPtr& s) {
      // Like the package: socket.data._admin travels with fetchSockets to the other nodes.
      if (!s->data().is_object()) s->data() = json::object();
      s->data().get_object()["_admin"] = {{"clientId", s->client_id().substr(0, 12)},
                                          {"transport", std::string(s->transport())}};
      auto& admin = self->nsp_;
      admin.emit("socket_connected", Args().add(serialize(info_of(s), name)).add(now_date()));
      if (!is_admin) {
        std::weak_ptr<Socket> w = s;
        s->on_any([self, name, w](const std::string& event, const Args& args) {
          auto sock = w.lock();
          if (!sock) return;
          json::array all = to_array(args);
          all.insert(all.begin(), json::value(event));
          self->nsp_.emit("event_received",
                          Args().add(name).add(sock->id()).add(std::move(all)).add(now_date()));
        });
        s->on_any_outgoing([self, name, w](const std::string& event, const Args& args) {
          auto sock = w.lock();
          if (!sock) return;
          json::array all = to_array(args);
          all.insert(all.begin(), json::value(event));
          self->nsp_.emit("event_sent", Args().add(name).add(sock->id()).add(std::move(all)).add(now_date()));
        });
      }
      const std::string id = s->id();
      s->on_disconnect([self, name, id](const std::string& reason) {
        self->nsp_.emit("socket_disconnected", Args().add(name).add(id).add(reason).add(now_date()));
      });
    });
  }

  // --- server_stats every 2 s (on shard 0) -------------------------------------------------
  void tick() {
    emit_stats();
    timer_->expires_after(kStatsInterval);
    timer_->async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = w.lock(); self && !ec) self->tick();
    });
  }

  // The counters the UI's charts aggregate, read from the metrics registry.
  struct Totals {
    double connections = 0, packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
    std::map<std::string, double> disconnections;
  };

  Totals read_totals() const {
    const Metrics& m = server_.metrics();
    Totals t;
    for (const char* transport : {"polling", "websocket"})
      for (const char* tls : {"false", "true"})
        t.connections += m.value("socketio_handshakes_total", {{"transport", transport}, {"tls", tls}});
    t.packets_in = m.value("socketio_packets_received_total");
    t.packets_out = m.value("socketio_packets_sent_total");
    t.bytes_in = m.value("socketio_received_bytes_total");
    t.bytes_out = m.value("socketio_sent_bytes_total");
    for (const char* reason : {"transport close", "transport error", "ping timeout", "parse error",
                               "forced close", "server shutting down", "other"})
      t.disconnections[reason] = m.value("socketio_disconnections_total", {{"reason", reason}});
    return t;
  }

  void emit_stats() {
    const Totals now = read_totals();
    const auto ts =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count() * 1000;
    json::array events;
    auto add = [&](const char* type, double delta, const char* sub = nullptr) {
      if (delta <= 0) return;
      json::object e{{"timestamp", ts}, {"type", type}, {"count", static_cast<std::int64_t>(delta)}};
      if (sub) e["subType"] = sub;
      events.emplace_back(std::move(e));
    };
    add("rawConnection", now.connections - last_.connections);
    for (const auto& [reason, n] : now.disconnections)
      add("rawDisconnection", n - last_.disconnections[reason], reason.c_str());
    add("packetsIn", now.packets_in - last_.packets_in);
    add("packetsOut", now.packets_out - last_.packets_out);
    add("bytesIn", now.bytes_in - last_.bytes_in);
    add("bytesOut", now.bytes_out - last_.bytes_out);
    last_ = now;

    json::array namespaces;
    for (const std::string& name : server_.namespace_names())
      namespaces.push_back({{"name", name}, {"socketsCount", server_.of(name).local_socket_count()}});
    const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    json::object stats{
        {"serverId", server_id_},
        {"hostname", hostname_},
        {"pid", static_cast<std::int64_t>(getpid())},
        {"uptime", uptime},
        {"clientsCount", server_.client_count()},
        {"pollingClientsCount", static_cast<std::int64_t>(server_.metrics().value(
                                    "socketio_connected_clients", {{"transport", "polling"}}))},
        {"aggregatedEvents", std::move(events)},
        {"namespaces", std::move(namespaces)},
    };
    nsp_.emit("server_stats", Args().add(std::move(stats)));
  }

  Server& server_;
  const AdminUiOptions o_;
  Namespace& nsp_;
  const std::string server_id_;
  const std::string hostname_;
  const std::chrono::steady_clock::time_point started_;
  std::unique_ptr<boost::asio::steady_timer> timer_;  // shard 0
  Totals last_;                                       // shard 0
  std::atomic<int> checks_{0};
  std::mutex mutex_;
  std::set<std::string> sessions_;                   // the package's InMemoryStore
  std::map<std::string, std::string> new_sessions_;  // socket id -> session to send
};

}  // namespace

void instrument(Server& server, AdminUiOptions options) {
  if (options.namespace_name.empty() || options.namespace_name.front() != '/')
    throw std::invalid_argument("admin UI: the namespace must start with '/'");
  if (options.auth && (options.username.empty() || !is_bcrypt_hash(options.password_hash)))
    throw std::invalid_argument(
        "admin UI: basic auth needs a username and a bcrypt hash ($2b$...) of the password");
  if (options.serve_ui) admin::serve_ui_files(server, options.ui_path);
  auto admin = std::make_shared<AdminUi>(server, std::move(options));
  admin->install();
}

}  // namespace socketio
