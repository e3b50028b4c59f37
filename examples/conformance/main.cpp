// socketio-conformance-server --port P [--host H] [--threads N] [--allow-eio3]
//                             [--tls-cert F --tls-key F [--tls-ca F]] [--per-message-deflate ...]
// One port, two endpoints that exist so the wire protocol can be checked by independent test
// suites (and by tests/integration):
//  - /engine.io/: a bare Engine.IO v4 server echoing every message unchanged (text as text,
//    binary as binary); pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000.
//  - /socket.io/: Socket.IO with pingInterval 300, pingTimeout 200, connectTimeout 45 s.
//    Namespace "/" emits `auth` with the CONNECT payload on connect, answers `message` with
//    `message-back` (same arguments) and acks `message-with-ack` with the same arguments;
//    "/custom" emits `auth` likewise; other namespaces are refused ("Invalid namespace").
//  - /ws-echo: a plain WebSocket (no Engine.IO) echoing every message, text as text and binary
//    as binary, on the server's own WebSocket session and framing (src/net/websocket.cpp): what
//    tests/integration/ws_conformance.test.mjs walks Autobahn's cases against. Message limit:
//    maxPayload (1000000).
#include "eio/server.hpp"
#include "sio/server_access.hpp"
#include "socketio/server.hpp"
#include "test_server.hpp"

#include <boost/json/value_from.hpp>

#include <cstdio>

namespace {

class Echo final : public socketio::eio::SessionHandler {
 public:
  explicit Echo(std::weak_ptr<socketio::eio::Session> s) : session_(std::move(s)) {}
  void on_message(std::string_view data, bool binary) override {
    if (auto s = session_.lock()) s->send(socketio::core::make_bytes(data), binary);
  }
  void on_close(std::string_view, std::string_view) override {}

 private:
  std::weak_ptr<socketio::eio::Session> session_;
};

// One /ws-echo connection: keeps itself alive until the WebSocket is gone (the WebSocket holds
// its handler weakly). Callbacks run on the connection's shard.
class WsEchoConnection final : public socketio::net::WebSocketHandler {
 public:
  static void start(socketio::net::WebSocketPtr ws) {
    auto conn = std::make_shared<WsEchoConnection>();
    conn->ws_ = ws;
    conn->self_ = conn;
    ws->accept(conn, [conn](bool ok) {
      if (!ok) conn->self_.reset();
    });
  }
  void on_ws_message(std::string_view data, bool binary) override {
    socketio::net::WsFrame f;
    f.binary = binary;
    f.body = socketio::core::make_bytes(data);
    if (ws_) ws_->send(std::move(f));
  }
  void on_ws_closed(std::string_view) override {
    ws_.reset();
    self_.reset();
  }

 private:
  socketio::net::WebSocketPtr ws_;
  std::shared_ptr<WsEchoConnection> self_;
};

class WsEcho final : public socketio::net::HttpHandler {
 public:
  static bool matches(const socketio::net::HttpRequest& r) { return r.path() == "/ws-echo"; }
  void on_request(socketio::net::HttpRequest&&, socketio::net::ResponderPtr res) override {
    socketio::net::HttpResponse r;
    r.status = 426;
    r.set("Upgrade", "websocket");
    r.set("Content-Type", "text/plain; charset=UTF-8");
    r.body = "WebSocket only\n";
    res->respond(std::move(r));
  }
  void on_upgrade(socketio::net::WebSocketPtr ws) override { WsEchoConnection::start(std::move(ws)); }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Engine.IO / Socket.IO conformance server"};
  socketio::examples::CommonFlags flags;
  int ping_interval = 300, ping_timeout = 200;
  bool allow_eio3 = false;
  socketio::TlsConfig tls;
  socketio::examples::add_common_flags(app, flags);
  app.add_flag("--allow-eio3", allow_eio3, "accept Engine.IO v3 clients (both endpoints)");
  app.add_option("--tls-cert", tls.cert_file, "PEM certificate chain: serve HTTPS/WSS");
  app.add_option("--tls-key", tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-ca", tls.ca_file, "more chain certificates (PEM)");
  app.add_option("--ping-interval", ping_interval, "ms (both endpoints)")->check(CLI::Range(1, 3'600'000));
  app.add_option("--ping-timeout", ping_timeout, "ms (both endpoints)")->check(CLI::Range(1, 3'600'000));
  socketio::PerMessageDeflate deflate;
  socketio::examples::add_deflate_flags(app, deflate);
  if (const int code = socketio::examples::parse(app, argc, argv); code >= 0) return code;
  socketio::examples::init_logging("conformance", flags);

  using namespace socketio;
  ServerOptions so;
  so.host = flags.host;
  so.port = flags.port;
  so.threads = flags.threads;
  so.ping_interval = std::chrono::milliseconds(ping_interval);
  so.ping_timeout = std::chrono::milliseconds(ping_timeout);
  so.connect_timeout = std::chrono::milliseconds(45'000);
  so.cors.enabled = true;  // like the reference server: cors {origin: "*"}
  so.allow_eio3 = allow_eio3;
  so.tls = tls;
  so.per_message_deflate = deflate;  // /ws-echo and both endpoints' WebSockets
  Server io(so);

  auto emit_auth = [](const SocketPtr& s) {
    s->emit("auth", Args().add(boost::json::value(s->handshake().auth)));
  };
  io.on_connection([emit_auth](const SocketPtr& s) {
    emit_auth(s);
    s->on("message", [](Event& ev) { ev.socket->emit("message-back", ev.args); });
    s->on("message-with-ack", [](Event& ev) { ev.ack(ev.args); });
  });
  io.of("/custom").on_connection(emit_auth);

  eio::Options eo;
  eo.path = "/engine.io/";
  eo.ping_interval = std::chrono::milliseconds(ping_interval);
  eo.ping_timeout = std::chrono::milliseconds(ping_timeout);
  eo.max_http_buffer_size = 1'000'000;
  eo.cors.enabled = true;
  eo.allow_eio3 = allow_eio3;
  eio::Server engine(ServerAccess::pool(io), eo);
  engine.on_connection(
      [](const std::shared_ptr<eio::Session>& s) { s->set_handler(std::make_shared<Echo>(s)); });
  ServerAccess::add_route(
      io, [&](const net::HttpRequest& r) { return engine.matches_under(r); }, engine);
  WsEcho ws_echo;
  ServerAccess::add_route(io, &WsEcho::matches, ws_echo);

  std::uint16_t port = 0;
  try {
    port = io.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  examples::announce("socketio-conformance-server", flags, port, tls.enabled() ? "https" : "http");
  examples::serve_until_signal(io, [&] { engine.close_all("server shutting down"); });
  return 0;
}
