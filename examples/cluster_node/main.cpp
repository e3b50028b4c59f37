// socketio-cluster-node --port P --redis URL [--host H] [--threads N] [--redis-key K]
//                       [--redis-mode classic|sharded|streams] [--redis-cluster] [--redis-streams-max-len N]
//                       [--connection-state-recovery] [--max-disconnection-duration MS] [--name NAME]
// An example of a cluster member written against the public API: the chat of socketio-server
// (app/chat.hpp) on namespace "/", the Redis adapter, and events that let a client drive the
// cluster-wide server operations, so tests (tests/integration/redis*.test.mjs) can exercise them
// from the C++ side; tests/reference/redis-cluster.mjs gives the Node reference the same events.
// SPEC is {rooms?: [..], except?: [..]}, the broadcast operator to use.
//
//   cluster:emit (SPEC, event, ...args)                  SPEC.emit(event, ...args)
//   cluster:emitWithAck (SPEC, timeoutMs, event, ...args, ack)
//                                                       SPEC.timeout(ms).emitWithAck -> ack({timedOut,
//                                                       responses})
//   cluster:fetch (SPEC, ack)                            ack([{id, rooms, data}]) sorted by id
//   cluster:join / cluster:leave (SPEC, rooms, ack)      socketsJoin / socketsLeave -> ack({ok:true})
//   cluster:disconnect (SPEC, close, ack)                disconnectSockets(close) -> ack({ok:true})
//   cluster:serverSideEmit (event, ...args, ack)         serverSideEmit with an ack -> ack({timedOut,
//   responses}) cluster:serverSideEmitNoAck (event, ...args, ack)    serverSideEmit without one ->
//   ack({ok:true}) cluster:whereami (ack)                               ack({node: NAME, id})
//   cluster:state (ack)                                  ack({node: NAME, id, rooms (sorted), data,
//                                                        recovered})
// Server-side events it answers (from other nodes): "hello" (...args, ack) -> ack({node: NAME, args});
// "relay" (...args) -> emits "relayed" (...args) to this node's clients (local()).
#include "chat.hpp"

#include "adapter/redis/redis_adapter.hpp"
#include "socketio/server.hpp"
#include "test_server.hpp"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <thread>

namespace {

namespace json = boost::json;
using namespace socketio;

BroadcastOperator operator_of(Namespace& nsp, const json::value& spec) {
  BroadcastOperator op = nsp.all();
  if (!spec.is_object()) return op;
  auto strings = [&](std::string_view key) {
    std::vector<std::string> out;
    if (const auto* v = spec.get_object().if_contains(key); v && v->is_array())
      for (const auto& x : v->get_array())
        if (x.is_string()) out.emplace_back(x.get_string());
    return out;
  };
  for (auto& r : strings("rooms")) op = op.to(std::move(r));
  for (auto& r : strings("except")) op = op.except(std::move(r));
  return op;
}

std::vector<std::string> string_list(const Args& args, std::size_t i) {
  std::vector<std::string> out;
  if (i < args.size() && args[i].is_array())
    for (const auto& x : args[i].get_array())
      if (x.is_string()) out.emplace_back(x.get_string());
  return out;
}

// {timedOut, responses}: one value per response (its first argument), binary included.
Args result(bool timed_out, std::vector<Args>& responses) {
  Args out;
  json::array list;
  for (auto& r : responses)
    list.push_back(r.empty() ? json::value(nullptr) : examples::reattach(r, r[0], out));
  out.add(json::object{{"timedOut", timed_out}, {"responses", std::move(list)}});
  return out;
}

void install_cluster_events(Namespace& nsp, const std::string& name) {
  nsp.on_server_side("hello", [name](const Args& args, std::function<void(Args)> ack) {
    ack(Args().add(json::object{{"node", name}, {"args", args.values()}}));
  });
  nsp.on_server_side(
      "relay", [&nsp](const Args& args, std::function<void(Args)>) { nsp.local().emit("relayed", args); });
  nsp.on_connection([&nsp, name](const SocketPtr& socket) {
    socket->on("cluster:whereami", [name](Event& ev) {
      ev.ack(Args().add(json::object{{"node", name}, {"id", ev.socket->id()}}));
    });
    socket->on("cluster:state", [name](Event& ev) {
      auto rooms = ev.socket->rooms();
      std::sort(rooms.begin(), rooms.end());
      json::array list;
      for (auto& r : rooms) list.emplace_back(r);
      ev.ack(Args().add(json::object{{"node", name},
                                     {"id", ev.socket->id()},
                                     {"rooms", std::move(list)},
                                     {"data", ev.socket->data()},
                                     {"recovered", ev.socket->recovered()}}));
    });
    socket->on("cluster:emit", [&nsp](Event& ev) {
      if (ev.args.size() < 2 || !ev.args[1].is_string()) return;
      const auto op = operator_of(nsp, ev.args[0]);
      const std::string event(ev.args.string_at(1));
      Args rest = ev.args;
      rest.drop_front(2);
      op.emit(event, std::move(rest));
      if (ev.has_ack()) ev.ack(Args().add(json::object{{"ok", true}}));
    });
    socket->on("cluster:emitWithAck", [&nsp](Event& ev) {
      if (!ev.has_ack() || ev.args.size() < 3 || !ev.args[1].is_number() || !ev.args[2].is_string()) return;
      const auto timeout =
          std::chrono::milliseconds(static_cast<std::int64_t>(ev.args[1].to_number<double>()));
      const auto op = operator_of(nsp, ev.args[0]).timeout(timeout);
      const std::string event(ev.args.string_at(2));
      Args rest = ev.args;
      rest.drop_front(3);
      op.emit_with_ack(event, std::move(rest), [ev](bool timed_out, std::vector<Args> responses) {
        ev.ack(result(timed_out, responses));
      });
    });
    socket->on("cluster:fetch", [&nsp](Event& ev) {
      if (!ev.has_ack()) return;
      operator_of(nsp, ev.args.empty() ? json::value() : ev.args[0])
          .fetch_sockets([ev](std::vector<SocketInfo> sockets) {
            std::sort(sockets.begin(), sockets.end(),
                      [](const auto& a, const auto& b) { return a.id < b.id; });
            json::array list;
            for (auto& s : sockets) {
              json::array rooms;
              std::sort(s.rooms.begin(), s.rooms.end());
              for (auto& r : s.rooms) rooms.emplace_back(r);
              list.push_back(json::object{{"id", s.id}, {"rooms", std::move(rooms)}, {"data", s.data}});
            }
            ev.ack(Args().add(std::move(list)));
          });
    });
    auto rooms_op = [&nsp](bool join) {
      return [&nsp, join](Event& ev) {
        if (!ev.has_ack() || ev.args.size() < 2) return;
        const auto op = operator_of(nsp, ev.args[0]);
        if (join)
          op.sockets_join(string_list(ev.args, 1));
        else
          op.sockets_leave(string_list(ev.args, 1));
        ev.ack(Args().add(json::object{{"ok", true}}));
      };
    };
    socket->on("cluster:join", rooms_op(true));
    socket->on("cluster:leave", rooms_op(false));
    socket->on("cluster:disconnect", [&nsp](Event& ev) {
      if (!ev.has_ack() || ev.args.empty()) return;
      const bool close = ev.args.size() > 1 && ev.args[1].is_bool() && ev.args[1].get_bool();
      // Answer first: the caller may be among the sockets disconnected.
      ev.ack(Args().add(json::object{{"ok", true}}));
      operator_of(nsp, ev.args[0]).disconnect_sockets(close);
    });
    auto server_side = [&nsp](bool with_ack) {
      return [&nsp, with_ack](Event& ev) {
        if (!ev.has_ack() || ev.args.empty() || !ev.args[0].is_string()) return;
        const std::string event(ev.args.string_at(0));
        Args rest = ev.args;
        rest.drop_front();
        if (!with_ack) {
          nsp.server_side_emit(event, std::move(rest));
          ev.ack(Args().add(json::object{{"ok", true}}));
          return;
        }
        nsp.server_side_emit(event, std::move(rest), [ev](bool timed_out, AckResponses responses) {
          ev.ack(result(timed_out, responses));
        });
      };
    };
    socket->on("cluster:serverSideEmit", server_side(true));
    socket->on("cluster:serverSideEmitNoAck", server_side(false));
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Socket.IO cluster node (example)"};
  std::string redis_url, redis_key = "socket.io", redis_mode = "classic", name = "cpp";
  std::size_t max_len = 10'000;
  bool recovery = false, redis_cluster = false;
  std::int64_t max_disconnection_ms = 120'000;
  socketio::examples::CommonFlags flags;
  flags.threads = 2;
  socketio::examples::add_common_flags(app, flags);
  app.add_option("--redis", redis_url, "redis://host:port")->required();
  app.add_option("--redis-key", redis_key, "channel prefix");
  app.add_option("--redis-mode", redis_mode, "classic|sharded|streams")
      ->check(CLI::IsMember({"classic", "sharded", "streams"}));
  app.add_flag("--redis-cluster", redis_cluster, "--redis is a Redis Cluster: seed URLs, comma-separated");
  app.add_option("--redis-streams-max-len", max_len, "streams mode: MAXLEN ~ of the stream");
  app.add_flag("--connection-state-recovery", recovery, "connection state recovery");
  app.add_option("--max-disconnection-duration", max_disconnection_ms, "recovery window (ms)");
  app.add_option("--name", name, "node name reported by whereami and hello");
  if (const int code = socketio::examples::parse(app, argc, argv); code >= 0) return code;
  socketio::examples::init_logging("cluster-node", flags);

  redis::RedisConfig rc;
  rc.url = redis_url;
  rc.key = redis_key;
  rc.mode = redis_mode == "sharded"   ? redis::RedisMode::sharded
            : redis_mode == "streams" ? redis::RedisMode::streams
                                      : redis::RedisMode::classic;
  rc.stream_max_len = max_len;
  rc.cluster = redis_cluster;
  std::optional<redis::RedisConnection> cluster;
  try {
    cluster.emplace(rc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: --redis: %s\n", e.what());
    return 2;
  }

  ServerOptions so;
  so.host = flags.host;
  so.port = flags.port;
  so.threads = flags.threads;
  so.adapter = cluster->factory();
  so.connection_state_recovery.enabled = recovery;
  so.connection_state_recovery.max_disconnection_duration = std::chrono::milliseconds(max_disconnection_ms);
  Server io(so);
  app::install_chat(io.of("/"));
  install_cluster_events(io.of("/"), name);

  std::uint16_t port = 0;
  try {
    port = io.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  if (!cluster->wait_until_subscribed(std::chrono::seconds(10))) spdlog::warn("redis: not subscribed yet");
  socketio::examples::announce("socketio-cluster-node", flags, port);
  socketio::examples::serve_until_signal(io);
  return 0;
}
