// Reference conformance server (engine.io 6.6 / socket.io 4.8 from npm). The C++
// `socketio-conformance-server` binary implements the same contract; the integration tests run
// against either one (SIO_TARGET=reference selects this file).
//
// One HTTP server, two endpoints:
//   /engine.io/  bare Engine.IO v4 server echoing every message unchanged (text as text, binary as
//                binary).
//   /socket.io/  Socket.IO server. Namespace "/" emits "auth" with the CONNECT payload ({} if none),
//                answers "message" with "message-back" (same arguments) and acks "message-with-ack"
//                with the same arguments. Namespace "/custom" emits "auth" likewise. Any other
//                namespace is refused ("Invalid namespace").
// Both: pingInterval 300 ms, pingTimeout 200 ms (unless --ping-interval/--ping-timeout say otherwise),
// maxHttpBufferSize 1e6, CORS for any origin ("*"). Any other path answers 404. --allow-eio3 on both;
// --tls-cert/--tls-key[/--tls-ca]: HTTPS.
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { Server as EngineServer } from "engine.io";
import { Server as SocketServer } from "socket.io";
import { parseArgs, announce, handleSignals } from "./cli.mjs";

const NAME = "socketio-conformance-server";
const opts = parseArgs(process.argv.slice(2), NAME, { pingInterval: 300, pingTimeout: 200 });

const tls = opts.tls_cert
  ? {
      cert: fs.readFileSync(opts.tls_cert, "utf8") + (opts.tls_ca ? fs.readFileSync(opts.tls_ca, "utf8") : ""),
      key: fs.readFileSync(opts.tls_key),
    }
  : undefined;
const httpServer = (tls ? https.createServer.bind(null, tls) : http.createServer)((req, res) => {
  // Reached only for paths neither engine handles.
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found");
});

const common = {
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
  allowEIO3: Boolean(opts.allowEIO3),
};

const engine = new EngineServer({ ...common });
engine.attach(httpServer, { path: "/engine.io/" });
engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

const io = new SocketServer(httpServer, {
  ...common,
  path: "/socket.io/",
  connectTimeout: 45000,
  serveClient: false,
});

const withoutFunctions = (args) => args.filter((a) => typeof a !== "function");

io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => {
    socket.emit("message-back", ...withoutFunctions(args));
  });
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
});

handleSignals(NAME, () => new Promise((resolve) => {
  engine.close();
  io.close(() => resolve());
}));

httpServer.listen(opts.port, opts.host, () => announce(NAME, httpServer, tls ? "https" : "http"));
