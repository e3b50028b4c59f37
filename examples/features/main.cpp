// socketio-features-server --port P [--host H] [--threads N] [--ping-interval MS] [--ping-timeout MS]
//                          [--trust-proxy] [--outbox-high-water BYTES] [--slow-client-timeout MS]
//                          [--max-dynamic-namespaces N] [--cleanup-empty-child-namespaces]
//                          [--parser json|msgpack] [--cookie] [--cookie-name N] [--cookie-path P]
//                          [--cookie-same-site S] [--engine-hooks]
// Exposes the server-side API of socketio::Server to a black-box test
// (tests/integration/sio_features.test.mjs): the test drives each feature with client events
// ("do:…", "get:…") and observes the server through acks, through what the clients receive, and
// through one JSON line per server-side event on stdout ("log {...}": connect, disconnecting with
// the rooms, disconnect with the reason). The Node reference implementation of the same contract
// is tests/reference/features-server.mjs; the contract is described there.
//
// It doubles as a tour of the API: namespace middleware, dynamic namespaces (regex and
// predicate), packet middleware, catch-all listeners, acks both ways, the broadcast operator with
// every flag, fetch_sockets & co., socket.data, the handshake, and the threading rules (each
// handler runs on its socket's shard; broadcast callbacks come back to the calling shard).
#include "socketio/server.hpp"
#include "test_server.hpp"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace json = boost::json;
using namespace socketio;

std::mutex g_stdout_mutex;

// One "log {json}" line on stdout, flushed at once (handlers run on every shard thread).
void log_line(const json::object& o) {
  const std::string line = "log " + json::serialize(o) + "\n";
  std::lock_guard lock(g_stdout_mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

json::array sorted_rooms(const std::vector<std::string>& rooms) {
  std::vector<std::string> r = rooms;
  std::sort(r.begin(), r.end());
  json::array out;
  for (auto& s : r) out.emplace_back(s);
  return out;
}

std::vector<std::string> strings(const json::value* v) {
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) out.emplace_back(v->get_string());
  if (v->is_array())
    for (const auto& e : v->get_array())
      if (e.is_string()) out.emplace_back(e.get_string());
  return out;
}

const json::value* field(const Args& args, std::size_t i, std::string_view key) {
  if (i >= args.size() || !args[i].is_object()) return nullptr;
  return args[i].get_object().if_contains(key);
}

bool flag(const Args& args, std::size_t i, std::string_view key) {
  const auto* v = field(args, i, key);
  return v && v->is_bool() && v->get_bool();
}

// The arguments of a spec's "args" array, keeping the binary attachments of the event.
Args spec_args(const Args& args, std::size_t i) {
  const auto* v = field(args, i, "args");
  if (!v || !v->is_array()) return Args({}, args.attachments());
  return Args(v->get_array(), args.attachments());
}

Args one(json::value v) {
  return Args().add(std::move(v));
}

// A broadcast operator from a spec {from: "socket"|"nsp", to, except, volatile, compress, local}.
BroadcastOperator make_operator(Socket& socket, const Args& args, std::size_t i) {
  const auto* from = field(args, i, "from");
  BroadcastOperator op =
      from && from->is_string() && from->get_string() == "socket" ? socket.broadcast() : socket.nsp().all();
  for (auto& r : strings(field(args, i, "to"))) op = op.to(r);
  for (auto& r : strings(field(args, i, "except"))) op = op.except(r);
  if (flag(args, i, "volatile")) op = op.volatile_();
  if (const auto* c = field(args, i, "compress"); c && c->is_bool()) op = op.compress(c->get_bool());
  if (flag(args, i, "local")) op = op.local();
  return op;
}

json::object handshake_json(const Handshake& h) {
  json::object headers, query;
  for (const auto& [k, v] : h.headers) headers[k] = v;
  for (const auto& [k, v] : h.query) query[k] = v;
  return {{"headers", std::move(headers)},
          {"query", std::move(query)},
          {"auth", h.auth},
          {"address", h.address},
          {"secure", h.secure},
          {"issued", h.issued},
          {"time", h.time},
          {"url", h.url},
          {"xdomain", h.xdomain}};
}

// A socket's recorded traffic, for the catch-all listeners. Shared by its handlers (which are
// stored in the socket, so they must not hold the socket itself: that would be a cycle).
struct Traffic {
  json::array incoming, outgoing;
};

json::array entry(const std::string& event, const Args& args) {
  json::array e;
  e.emplace_back(event);
  for (const auto& v : args.values()) e.push_back(v);
  return e;
}

// The handlers every socket gets, in every namespace.
void setup(const SocketPtr& socket) {
  auto traffic = std::make_shared<Traffic>();
  socket->on_any([traffic](const std::string& event, const Args& args) {
    traffic->incoming.push_back(entry(event, args));
  });
  socket->on_any_outgoing([traffic](const std::string& event, const Args& args) {
    traffic->outgoing.push_back(entry(event, args));
  });

  // Packet middleware: "mw:rewrite" gets its first argument upper-cased; "mw:block" is refused.
  socket->use([](Event& ev, std::function<void(std::optional<std::string>)> next) {
    if (ev.name == "mw:rewrite" && !ev.args.empty() && ev.args[0].is_string()) {
      std::string s(ev.args[0].get_string());
      for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ev.args.values()[0] = json::string(s);
    }
    if (ev.name == "mw:block") {
      ev.socket->emit("blocked", one("mw:block"));
      next("blocked by middleware");
      return;
    }
    next(std::nullopt);
  });
  socket->on("mw:rewrite", [](Event& ev) {
    if (ev.args.empty()) return ev.ack(one(json::value()));
    Args first = ev.args;  // a copy keeps the binary attachments the first argument refers to
    first.values().resize(1);
    ev.ack(std::move(first));
  });
  socket->on("mw:block", [](Event& ev) { ev.ack(one("handler ran")); });

  socket->on("get:any", [traffic](Event& ev) {
    ev.ack(one(json::object{{"incoming", traffic->incoming}, {"outgoing", traffic->outgoing}}));
  });
  socket->on("get:handshake", [](Event& ev) { ev.ack(one(handshake_json(ev.socket->handshake()))); });
  socket->on("get:rooms", [](Event& ev) { ev.ack(one(sorted_rooms(ev.socket->rooms()))); });
  // "order": the socket's own handler records its turn, then the namespace's (on_socket_event)
  // answers with the order both ran in (one array).
  socket->on("order", [](Event& ev) { ev.args.add("socket"); });
  // A socket.emit from the socket's "disconnect" handler: with connection state recovery it is
  // kept for the session, and replayed if the client comes back.
  socket->on("do:emit-on-disconnect", [](Event& ev) {
    if (ev.args.empty() || !ev.args[0].is_string()) return;
    const std::string event(ev.args.string_at(0));
    Args rest = ev.args;
    rest.drop_front();
    std::weak_ptr<Socket> weak = ev.socket;
    ev.socket->on_disconnect([weak, event, rest](const std::string&) {
      if (auto s = weak.lock()) s->emit(event, rest);
    });
    ev.ack(one(json::object{{"ok", true}}));
  });
  socket->on("get:recovered", [](Event& ev) { ev.ack(one(ev.socket->recovered())); });
  socket->on("get:id", [](Event& ev) {
    ev.ack(one(json::object{{"id", ev.socket->id()}, {"nsp", ev.socket->nsp().name()}}));
  });

  socket->on("join", [](Event& ev) {
    for (auto& r : strings(ev.args.empty() ? nullptr : &ev.args[0])) ev.socket->join(r);
    ev.ack(one(sorted_rooms(ev.socket->rooms())));
  });
  socket->on("leave", [](Event& ev) {
    for (auto& r : strings(ev.args.empty() ? nullptr : &ev.args[0])) ev.socket->leave(r);
    ev.ack(one(sorted_rooms(ev.socket->rooms())));
  });

  socket->on("data:set", [](Event& ev) {
    ev.socket->data() = ev.args.empty() ? json::value() : ev.args[0];
    ev.ack(one(json::object{{"ok", true}}));
  });
  socket->on("data:get", [](Event& ev) { ev.ack(one(ev.socket->data())); });

  socket->on("do:emit", [](Event& ev) {
    if (ev.args.empty() || !ev.args[0].is_string()) return;
    const std::string event(ev.args.string_at(0));
    Args rest = ev.args;
    rest.drop_front();
    ev.socket->emit(event, std::move(rest));
    ev.ack(one(json::object{{"ok", true}}));
  });

  // socket.compress(false).emit(...) in the reference.
  socket->on("do:emit-uncompressed", [](Event& ev) {
    if (ev.args.empty() || !ev.args[0].is_string()) return;
    const std::string event(ev.args.string_at(0));
    Args rest = ev.args;
    rest.drop_front();
    ev.socket->emit_uncompressed(event, std::move(rest));
    ev.ack(one(json::object{{"ok", true}}));
  });

  // Server → client with an ack and a timeout. The callback runs on this socket's shard.
  socket->on("do:emit-ack", [](Event& ev) {
    const auto* event = field(ev.args, 0, "event");
    const auto* timeout = field(ev.args, 0, "timeout");
    if (!event || !event->is_string() || !timeout || !timeout->is_int64()) return;
    ev.socket->emit_with_ack(
        std::string(event->get_string()), spec_args(ev.args, 0),
        [ev](bool timed_out, Args resp) {
          // resp's placeholders refer to resp's attachments: keep them together.
          json::object o{{"timedOut", timed_out}, {"resp", timed_out ? json::array() : resp.values()}};
          ev.ack(Args(json::array{std::move(o)}, timed_out ? std::vector<Bytes>{} : resp.attachments()));
        },
        std::chrono::milliseconds(timeout->get_int64()));
  });

  socket->on("do:broadcast", [](Event& ev) {
    const auto* event = field(ev.args, 0, "event");
    if (!event || !event->is_string()) return;
    auto op = make_operator(*ev.socket, ev.args, 0);
    const std::string name(event->get_string());
    if (const auto* t = field(ev.args, 0, "timeout"); t && t->is_int64()) {
      // Acks from many clients; the callback runs on this (the calling) shard.
      op.timeout(std::chrono::milliseconds(t->get_int64()))
          .emit_with_ack(name, spec_args(ev.args, 0), [ev](bool timed_out, std::vector<Args> responses) {
            // Like the reference: each client's first ack argument, its binary values included.
            Args out;
            json::array first;
            for (auto& r : responses)
              first.push_back(r.empty() ? json::value() : examples::reattach(r, r[0], out));
            out.add(json::object{{"timedOut", timed_out}, {"responses", std::move(first)}});
            ev.ack(std::move(out));
          });
      return;
    }
    op.emit(name, spec_args(ev.args, 0));
    ev.ack(one(json::object{{"ok", true}}));
  });

  socket->on("do:fetch", [](Event& ev) {
    make_operator(*ev.socket, ev.args, 0).fetch_sockets([ev](std::vector<SocketInfo> sockets) {
      std::sort(sockets.begin(), sockets.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
      json::array out;
      for (const auto& s : sockets)
        out.push_back(json::object{
            {"id", s.id}, {"rooms", sorted_rooms(s.rooms)}, {"data", s.data}, {"auth", s.handshake.auth}});
      ev.ack(one(std::move(out)));
    });
  });
  socket->on("do:sockets-join", [](Event& ev) {
    make_operator(*ev.socket, ev.args, 0).sockets_join(strings(field(ev.args, 0, "rooms")));
    ev.ack(one(json::object{{"ok", true}}));
  });
  socket->on("do:sockets-leave", [](Event& ev) {
    make_operator(*ev.socket, ev.args, 0).sockets_leave(strings(field(ev.args, 0, "rooms")));
    ev.ack(one(json::object{{"ok", true}}));
  });
  socket->on("do:disconnect-sockets", [](Event& ev) {
    ev.ack(one(json::object{{"ok", true}}));
    make_operator(*ev.socket, ev.args, 0).disconnect_sockets(flag(ev.args, 0, "close"));
  });

  // The rooms of this namespace on this node, with their sizes (the reference's adapter.rooms).
  socket->on("do:rooms", [](Event& ev) {
    ev.socket->nsp().rooms([ev](std::map<std::string, std::size_t> rooms) {
      json::object out;
      for (const auto& [room, size] : rooms) out[room] = size;
      ev.ack(one(std::move(out)));
    });
  });

  socket->on("do:disconnect", [](Event& ev) {
    ev.socket->disconnect(!ev.args.empty() && ev.args[0].is_bool() && ev.args[0].get_bool());
  });

  socket->on("do:server-side-emit", [](Event& ev) {
    const auto* event = field(ev.args, 0, "event");
    if (!event || !event->is_string()) return;
    const std::string name(event->get_string());
    if (!flag(ev.args, 0, "ack")) {
      ev.socket->nsp().server_side_emit(name, spec_args(ev.args, 0));
      ev.ack(one(json::object{{"ok", true}}));
      return;
    }
    ev.socket->nsp().server_side_emit(
        name, spec_args(ev.args, 0), [ev](bool timed_out, AckResponses responses) {
          json::array first;
          for (auto& r : responses) first.push_back(r.empty() ? json::value() : r[0]);
          ev.ack(one(json::object{{"err", timed_out ? json::value("timeout reached") : json::value()},
                                  {"responses", std::move(first)}}));
        });
  });

  socket->on("do:flood", [](Event& ev) {
    const auto* to = field(ev.args, 0, "to");
    const auto* count = field(ev.args, 0, "count");
    const auto* size = field(ev.args, 0, "size");
    if (!to || !to->is_string() || !count || !count->is_int64() || !size || !size->is_int64()) return;
    const std::string target(to->get_string());
    const json::value payload = json::string(static_cast<std::size_t>(size->get_int64()), 'x');
    const bool vol = flag(ev.args, 0, "volatile");
    auto& nsp = ev.socket->nsp();
    for (std::int64_t i = 0; i < count->get_int64(); ++i) {
      nsp.to(target).emit("big", Args().add(i).add(payload));
      if (vol) nsp.to(target).volatile_().emit("vol", Args().add(i));
    }
    ev.ack(one(json::object{{"ok", true}}));
  });

  // The handlers hold only a weak reference to their own socket.
  std::weak_ptr<Socket> weak = socket;
  const std::string id = socket->id();
  const std::string nsp = socket->nsp().name();
  socket->on_disconnecting([weak, id, nsp](const std::string& reason) {
    json::array rooms;
    if (auto s = weak.lock()) rooms = sorted_rooms(s->rooms());
    log_line(
        {{"ev", "disconnecting"}, {"nsp", nsp}, {"id", id}, {"reason", reason}, {"rooms", std::move(rooms)}});
  });
  socket->on_disconnect([weak, id, nsp](const std::string& reason) {
    json::array rooms;
    if (auto s = weak.lock()) rooms = sorted_rooms(s->rooms());
    log_line(
        {{"ev", "disconnect"}, {"nsp", nsp}, {"id", id}, {"reason", reason}, {"rooms", std::move(rooms)}});
  });
  log_line({{"ev", "connect"}, {"nsp", nsp}, {"id", id}});
}

// --engine-hooks: engine.io's allowRequest, initial_headers, headers and connection_error, observable
// by the test: a handshake with an X-Refuse header is refused with its value as the message
// (empty: the default); the handshake response gets "X-Initial: 1" and a "hook=1" cookie; every
// polling response and WebSocket upgrade gets "X-Every: <method>"; each refused request logs
// {"ev":"connection_error",code,message,context}.
void set_engine_hooks(ServerOptions& so) {
  so.allow_request = [](const EngineRequest& req) -> std::optional<std::string> {
    if (auto refuse = req.header("X-Refuse")) return std::string(*refuse);
    return std::nullopt;
  };
  so.initial_headers = [](ResponseHeaders& h, const EngineRequest&) {
    h.emplace_back("X-Initial", "1");
    h.emplace_back("Set-Cookie", "hook=1");
  };
  so.headers = [](ResponseHeaders& h, const EngineRequest& req) { h.emplace_back("X-Every", req.method()); };
  so.on_connection_error = [](const ConnectionError& e) {
    log_line({{"ev", "connection_error"},
              {"code", static_cast<int>(e.code)},
              {"message", e.message},
              {"context", e.context}});
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Socket.IO server features, exposed to a black-box test"};
  examples::CommonFlags flags;
  int ping_interval = 25'000, ping_timeout = 20'000, slow_client_timeout = 10'000;
  std::size_t outbox_high_water = 1024 * 1024;
  bool trust_proxy = false;
  ServerOptions so;
  examples::add_common_flags(app, flags);
  app.add_option("--max-dynamic-namespaces", so.max_dynamic_namespaces, "dynamic namespaces at once");
  app.add_flag("--cleanup-empty-child-namespaces", so.cleanup_empty_child_namespaces,
               "remove a dynamic namespace when its last socket leaves");
  std::string parser = "json";
  bool cookie = false, engine_hooks = false;
  std::optional<std::string> cookie_name, cookie_path, cookie_same_site;
  app.add_option("--parser", parser, "json or msgpack")->check(CLI::IsMember({"json", "msgpack"}));
  app.add_flag("--cookie", cookie, "engine.io's io=<sid> cookie");
  app.add_option("--cookie-name", cookie_name, "cookie name (implies --cookie)");
  app.add_option("--cookie-path", cookie_path, "cookie Path (implies --cookie)");
  app.add_option("--cookie-same-site", cookie_same_site, "lax|strict|none|false (implies --cookie)");
  app.add_flag("--engine-hooks", engine_hooks, "the test hooks: allow_request, headers, connection_error");
  app.add_option("--ping-interval", ping_interval, "ms")->check(CLI::Range(1, 3'600'000));
  app.add_option("--ping-timeout", ping_timeout, "ms")->check(CLI::Range(1, 3'600'000));
  app.add_flag("--trust-proxy", trust_proxy, "handshake address/secure from X-Forwarded-For/-Proto");
  bool http_compression = true, allow_eio3 = false;
  app.add_flag("--allow-eio3", allow_eio3, "accept Engine.IO v3 / socket.io-client 2.x");
  app.add_option("--http-compression", http_compression, "gzip/deflate polling responses (true|false)");
  examples::add_deflate_flags(app, so.per_message_deflate);
  app.add_option("--outbox-high-water", outbox_high_water,
                 "bytes queued per client before it counts as slow");
  app.add_option("--slow-client-timeout", slow_client_timeout,
                 "ms over the high-water mark before a disconnect")
      ->check(CLI::Range(1, 3'600'000));
  bool recovery = false, skip_middlewares = true;
  int max_disconnection_duration = 2 * 60 * 1000;
  app.add_flag("--connection-state-recovery", recovery, "connection state recovery");
  app.add_option("--max-disconnection-duration", max_disconnection_duration, "ms")
      ->check(CLI::Range(1, 86'400'000));
  app.add_option("--recovery-skip-middlewares", skip_middlewares, "true|false");
  if (const int code = examples::parse(app, argc, argv); code >= 0) return code;
  examples::init_logging("features", flags);

  so.host = flags.host;
  so.port = flags.port;
  so.threads = flags.threads;
  so.ping_interval = std::chrono::milliseconds(ping_interval);
  so.ping_timeout = std::chrono::milliseconds(ping_timeout);
  so.trust_proxy = trust_proxy;
  so.http_compression = http_compression;
  so.allow_eio3 = allow_eio3;
  so.cors.enabled = true;  // like the reference server: cors {origin: "*"}
  so.outbox_high_water = outbox_high_water;
  so.slow_client_timeout = std::chrono::milliseconds(slow_client_timeout);
  so.connection_state_recovery.enabled = recovery;
  so.connection_state_recovery.max_disconnection_duration =
      std::chrono::milliseconds(max_disconnection_duration);
  so.connection_state_recovery.skip_middlewares = skip_middlewares;
  so.serve_client = false;
  so.serve_static = false;
  so.parser = parser == "msgpack" ? Parser::msgpack : Parser::json;
  if (cookie || cookie_name || cookie_path || cookie_same_site) {
    CookieOptions c;
    if (cookie_name) c.name = *cookie_name;
    if (cookie_path) c.path = *cookie_path;
    if (cookie_same_site) c.same_site = *cookie_same_site == "false" ? "" : *cookie_same_site;
    so.cookie = c;
  }
  if (engine_hooks) set_engine_hooks(so);
  Server io(so);

  // Timers for the asynchronous middleware (next() may be called from any thread).
  boost::asio::io_context timers;
  auto work = boost::asio::make_work_guard(timers);
  std::thread timer_thread([&timers] { timers.run(); });

  // "/": middleware refusing with {message, data}, or accepting after a delay.
  io.use([&timers](const SocketPtr& socket, std::function<void(std::optional<ConnectError>)> next) {
    const auto& auth = socket->handshake().auth;
    if (const auto* reject = auth.if_contains("reject"); reject && reject->is_string()) {
      const auto* data = auth.if_contains("data");
      next(ConnectError{std::string(reject->get_string()), data ? *data : json::value()});
      return;
    }
    if (const auto* delay = auth.if_contains("delay"); delay && delay->is_int64()) {
      auto timer =
          std::make_shared<boost::asio::steady_timer>(timers, std::chrono::milliseconds(delay->get_int64()));
      timer->async_wait([timer, next](boost::system::error_code) { next(std::nullopt); });
      return;
    }
    next(std::nullopt);
  });
  io.on_connection([](const SocketPtr& socket) {
    const auto* name = socket->handshake().auth.if_contains("name");
    // A recovered socket keeps the data of its session.
    if (!socket->recovered()) socket->data() = json::object{{"name", name ? *name : json::value()}};
    setup(socket);
  });
  // Handlers every socket of "/" shares (held once, not per socket): after the socket's own.
  io.sockets().on_socket_event("order", [](Event& ev) { ev.ack(one(ev.args.add("namespace").values())); });
  io.sockets().on_socket_event("shared:echo", [](Event& ev) { ev.ack(one(ev.args.values())); });
  // Namespace-wide disconnect handlers (held once, not per socket): they log after the socket's
  // own "disconnecting" / "disconnect" lines, with the rooms the socket has at that point.
  io.sockets().on_socket_disconnecting([](Socket& s, const std::string& reason) {
    log_line({{"ev", "nsp:disconnecting"},
              {"id", s.id()},
              {"reason", reason},
              {"rooms", sorted_rooms(s.rooms())}});
  });
  io.sockets().on_socket_disconnect([](Socket& s, const std::string& reason) {
    log_line(
        {{"ev", "nsp:disconnect"}, {"id", s.id()}, {"reason", reason}, {"rooms", sorted_rooms(s.rooms())}});
  });
  // A server-side handler: never runs for this node's own server_side_emit.
  io.sockets().on_server_side("server-event", [](const Args&, std::function<void(Args)>) {
    log_line({{"ev", "server-side handler ran"}});
  });

  // Dynamic namespaces: what is registered on the parent applies to every child it creates.
  Namespace& regex_parent = io.of(std::regex("^/dyn-[a-z0-9]+$"));
  regex_parent.use([](const SocketPtr& socket, std::function<void(std::optional<ConnectError>)> next) {
    // auth.deny truthy (true, or a non-empty string: socket.io-client 2.x sends query strings).
    const auto* deny = socket->handshake().auth.if_contains("deny");
    const bool plain = deny && deny->is_string() && deny->get_string() == "plain";
    if (deny &&
        ((deny->is_bool() && deny->get_bool()) || (deny->is_string() && !deny->get_string().empty()))) {
      next(plain ? ConnectError{"denied by parent", {}}
                 : ConnectError{"denied by parent", json::object{{"nsp", socket->nsp().name()}}});
      return;
    }
    next(std::nullopt);
  });
  auto hello = [](const SocketPtr& socket) {
    setup(socket);
    socket->emit("hello", one(json::object{{"nsp", socket->nsp().name()}}));
  };
  regex_parent.on_connection(hello);
  Namespace& predicate_parent = io.of([](const std::string& name, const json::object& auth) {
    const auto* allow = auth.if_contains("allow");
    return name.starts_with("/pred-") && allow && allow->is_bool() && allow->get_bool();
  });
  predicate_parent.on_connection(hello);

  io.on_connection([&regex_parent, &predicate_parent](const SocketPtr& socket) {
    socket->on("do:parent-emit", [&regex_parent, &predicate_parent](Event& ev) {
      const auto* parent = field(ev.args, 0, "parent");
      const auto* event = field(ev.args, 0, "event");
      if (!event || !event->is_string()) return;
      Namespace& p = parent && parent->is_string() && parent->get_string() == "predicate" ? predicate_parent
                                                                                          : regex_parent;
      p.emit(std::string(event->get_string()), spec_args(ev.args, 0));
      ev.ack(one(json::object{{"ok", true}}));
    });
  });

  std::uint16_t port = 0;
  try {
    port = io.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    work.reset();
    timers.stop();
    timer_thread.join();
    return 1;
  }
  {
    std::lock_guard lock(g_stdout_mutex);
    examples::announce("socketio-features-server", flags, port);
  }
  examples::serve_until_signal(io);
  work.reset();
  timers.stop();
  timer_thread.join();
  return 0;
}
