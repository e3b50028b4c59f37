// The README's embedding example, compiled with the build so it cannot rot.
#include <socketio/server.hpp>

int main() {
  socketio::ServerOptions options;
  options.port = 3000;
  socketio::Server io(options);
  io.on_connection([](const socketio::SocketPtr& socket) {
    socket->on("join", [](socketio::Event& ev) {
      ev.socket->join(std::string(ev.args.string_at(0)));
      ev.ack(socketio::Args().add(boost::json::object{{"ok", true}}));
    });
    socket->on("chat message", [&io = socket->nsp()](socketio::Event& ev) {
      const std::string room(ev.args.string_at(0));
      socketio::Args out = ev.args;
      out.drop_front();
      io.to(room).emit("chat message", std::move(out));
    });
  });
  io.listen();
  io.run();
}
