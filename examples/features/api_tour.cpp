// The example of docs/api.md, compiled with the build so it cannot rot: a small room chat with
// token middleware, acks both ways, a broadcast collecting acks, fetch_sockets and a dynamic
// namespace. Run it and connect with socket.io-client to http://localhost:3000.
#include <socketio/server.hpp>

#include <cstdio>
#include <regex>

using namespace socketio;
namespace json = boost::json;

int main() {
  ServerOptions options;
  options.port = 3000;
  options.threads = 4;  // 4 shards; each socket lives on one of them
  Server io(options);

  // Namespace middleware: runs on the connecting client's shard; refuse with {message, data}.
  io.use([](const SocketPtr& socket, std::function<void(std::optional<ConnectError>)> next) {
    const auto* token = socket->handshake().auth.if_contains("token");
    if (!token || !token->is_string())
      return next(ConnectError{"unauthorized", json::object{{"hint", "auth.token"}}});
    socket->data() = json::object{{"user", token->get_string()}};  // socket.data, seen by fetch_sockets
    next(std::nullopt);
  });

  io.on_connection([](const SocketPtr& socket) {  // the socket's shard, like every handler below
    socket->on("join", [](Event& ev) {
      if (!ev.args.empty() && ev.args[0].is_string()) ev.socket->join(std::string(ev.args.string_at(0)));
      ev.ack(Args().add(json::object{{"ok", true}}));  // answers the client's ack callback
    });
    socket->on("say", [](Event& ev) {  // say(room, text): to the room, the sender excluded
      const std::string room(ev.args.string_at(0));
      Args rest = ev.args;
      rest.drop_front();
      ev.socket->to(room).emit("said", std::move(rest));
    });
    socket->on("poll", [](Event& ev) {  // poll(room, question): collect every member's answer
      const std::string room(ev.args.string_at(0));
      ev.socket->nsp()
          .to(room)
          .timeout(std::chrono::seconds(5))
          .emit_with_ack(
              "question", Args().add(ev.args.size() > 1 ? ev.args[1] : json::value()),
              [ev](bool timed_out, std::vector<Args> answers) {  // back on this socket's shard
                ev.ack(Args().add(json::object{{"complete", !timed_out}, {"answers", answers.size()}}));
              });
    });
    socket->on("who", [](Event& ev) {  // who(room): members on every shard (and node)
      ev.socket->nsp()
          .in(std::string(ev.args.string_at(0)))
          .fetch_sockets([ev](std::vector<SocketInfo> sockets) {
            json::array users;
            for (const auto& s : sockets) users.push_back(s.data);
            ev.ack(Args().add(std::move(users)));
          });
    });
    // Server → client with an ack: the callback runs on this shard, exactly once.
    socket->emit_with_ack(
        "welcome", Args().add("hi"),
        [](bool timed_out, Args) { std::printf("welcome %s\n", timed_out ? "timed out" : "acked"); },
        std::chrono::seconds(5));
    std::weak_ptr<Socket> weak = socket;  // handlers live in the socket: never capture the SocketPtr
    socket->on_disconnecting([weak](const std::string& reason) {
      if (auto s = weak.lock())
        std::printf("%s leaves %zu rooms: %s\n", s->id().c_str(), s->rooms().size(), reason.c_str());
    });
  });

  // Dynamic namespaces: "/team-<digits>" created on first connect, with these handlers.
  io.of(std::regex("^/team-[0-9]+$")).on_connection([](const SocketPtr& socket) {
    socket->emit("team", Args().add(socket->nsp().name()));
  });

  io.listen();
  io.run();  // until io.stop() from another thread (e.g. a signal handler's)
}
