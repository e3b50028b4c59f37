// The Node reference for the benchmarks: socket.io 4.8.4 with its default engine (ws), the same
// chat contract as the C++ socketio-server (app/chat.hpp), one thread (Node's event loop).
//
//   node chat-server.mjs [--host 127.0.0.1] [--port 3000] [--tls-cert FILE --tls-key FILE]
//                        [--ping-interval MS] [--ping-timeout MS] [--presence-limit N]
//                        [--parser json|msgpack]   (msgpack: socket.io-msgpack-parser, as ours)
//                        [--per-message-deflate] (engine.io's perMessageDeflate: true, with ws's
//                        defaults: context takeover both ways)
//                        [--connection-state-recovery[=BOOL]] [--max-disconnection-duration MS]
//                        (socket.io's connectionStateRecovery, skipMiddlewares: true, window
//                        120000 ms by default: as ours with the same flags)
//
// Prints "socketio-server listening on http(s)://HOST:PORT" once it listens; SIGINT/SIGTERM stop
// it. Handlers on "/":
//   join (room, ack)             joins room, ack({ok:true})
//   leave (room, ack)            leaves room, ack({ok:true})
//   chat message (room, text[, ack])
//                                io.to(room).emit("chat message", {room, text}); ack({ok:true}) if asked
//   echo (...args, ack)          ack(...args)
//   nick (name, ack), members (room, ack), and "presence" {room, members} to rooms of at most
//   --presence-limit members after a join/leave/nick/disconnect, as the C++ server does (so
//   that both do the same work while a benchmark room fills up).
// Invalid arguments answer {ok:false, error} when there is an ack and are ignored otherwise.
// --threads is accepted and ignored (Node runs one thread), like unknown flags.
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";

const NAME = "socketio-server";

function parseArgs(argv) {
  const opts = {
    host: "127.0.0.1",
    port: 3000,
    pingInterval: 25000,
    pingTimeout: 20000,
    presenceLimit: 100,
    maxDisconnectionDuration: 2 * 60 * 1000,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const key = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      if (eq >= 0) return arg.slice(eq + 1);
      if (i + 1 >= argv.length) throw new Error(`${NAME}: ${key} needs a value`);
      return argv[++i];
    };
    const int = (v, min) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${NAME}: invalid ${key} ${v}`);
      return n;
    };
    switch (key) {
      case "--host": opts.host = value(); break;
      case "--port": opts.port = int(value(), 0); break;
      case "--tls-cert": opts.cert = value(); break;
      case "--tls-key": opts.key = value(); break;
      case "--ping-interval": opts.pingInterval = int(value(), 1); break;
      case "--ping-timeout": opts.pingTimeout = int(value(), 1); break;
      case "--presence-limit": opts.presenceLimit = int(value(), 0); break;
      case "--threads": value(); break;
      case "--parser":
        opts.parser = value();
        if (opts.parser !== "json" && opts.parser !== "msgpack") throw new Error(`${NAME}: invalid --parser ${opts.parser}`);
        break;
      case "--per-message-deflate": opts.perMessageDeflate = eq < 0 || arg.slice(eq + 1) !== "false"; break;
      case "--connection-state-recovery": opts.recovery = eq < 0 || arg.slice(eq + 1) !== "false"; break;
      case "--max-disconnection-duration": opts.maxDisconnectionDuration = int(value(), 1); break;
      default: process.stderr.write(`${NAME}: ignoring unknown argument ${arg}\n`);
    }
  }
  if (!!opts.cert !== !!opts.key) throw new Error(`${NAME}: --tls-cert and --tls-key go together`);
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const notFound = (req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found");
};
const tls = !!opts.cert;
const httpServer = tls
  ? https.createServer({ cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }, notFound)
  : http.createServer(notFound);

const io = new Server(httpServer, {
  path: "/socket.io/",
  cors: { origin: "*" },
  serveClient: false,
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  ...(opts.parser === "msgpack" ? { parser: msgpackParser } : {}),
  ...(opts.perMessageDeflate ? { perMessageDeflate: true } : {}),
  ...(opts.recovery
    ? { connectionStateRecovery: { maxDisconnectionDuration: opts.maxDisconnectionDuration, skipMiddlewares: true } }
    : {}),
});

const MAX_NAME_CHARS = 32;
const NAME_ERROR = "name must be a string of 1 to 32 characters, without control characters";

function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    return { args: args.slice(0, -1), ack: args[args.length - 1] };
  }
  return { args, ack: undefined };
}
const fail = (ack, error) => ack && ack({ ok: false, error });
const chatRooms = (socket) => [...socket.rooms].filter((r) => r !== socket.id);

async function membersOf(room) {
  const sockets = await io.in(room).fetchSockets();
  sockets.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sockets.map((s) => ({ id: s.id, name: typeof s.data?.name === "string" ? s.data.name : null }));
}

// Numbered per room, so that an older member list never overwrites a newer one.
const presenceTickets = new Map();
async function publishPresence(room) {
  const size = io.sockets.adapter.rooms.get(room)?.size ?? 0;
  if (opts.presenceLimit === 0 || size > opts.presenceLimit) return;
  const ticket = (presenceTickets.get(room) ?? 0) + 1;
  presenceTickets.set(room, ticket);
  const members = await membersOf(room);
  if (presenceTickets.get(room) !== ticket) return;
  if (size === 0) presenceTickets.delete(room);
  io.to(room).emit("presence", { room, members });
}

io.on("connection", (socket) => {
  socket.on("join", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [room] = args;
    if (typeof room !== "string") return fail(ack, "room must be a string");
    if (!ack) return;
    const changed = !socket.rooms.has(room);
    socket.join(room);
    ack({ ok: true });
    if (changed) publishPresence(room);
  });

  socket.on("leave", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [room] = args;
    if (typeof room !== "string") return fail(ack, "room must be a string");
    if (!ack) return;
    const changed = room !== socket.id && socket.rooms.has(room);
    socket.leave(room);
    ack({ ok: true });
    if (changed) publishPresence(room);
  });

  socket.on("chat message", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [room, text] = args;
    if (typeof room !== "string") return fail(ack, "room must be a string");
    if (args.length < 2) return fail(ack, "text is required");
    io.to(room).emit("chat message", { room, text });
    if (ack) ack({ ok: true });
  });

  socket.on("echo", (...raw) => {
    const { args, ack } = splitAck(raw);
    if (!ack) return;
    ack(...args);
  });

  socket.on("nick", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [name] = args;
    const ok = typeof name === "string" && !/[\u0000-\u001f\u007f]/.test(name);
    const chars = ok ? [...name].length : 0;
    if (!chars || chars > MAX_NAME_CHARS) return fail(ack, NAME_ERROR);
    if (!ack) return;
    const changed = socket.data.name !== name;
    socket.data.name = name;
    ack({ ok: true });
    if (changed) for (const room of chatRooms(socket)) publishPresence(room);
  });

  socket.on("members", async (...raw) => {
    const { args, ack } = splitAck(raw);
    const [room] = args;
    if (typeof room !== "string") return fail(ack, "room must be a string");
    if (!ack) return;
    ack({ ok: true, room, members: await membersOf(room) });
  });

  let leavingRooms = [];
  socket.on("disconnecting", () => {
    leavingRooms = chatRooms(socket);
  });
  socket.on("disconnect", () => {
    for (const room of leavingRooms) publishPresence(room);
    leavingRooms = [];
  });
});

let closing = false;
const stop = (signal) => {
  if (closing) return;
  closing = true;
  process.stderr.write(`${NAME}: ${signal}, shutting down\n`);
  setTimeout(() => process.exit(0), 2000).unref();
  io.close(() => process.exit(0));
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

httpServer.listen(opts.port, opts.host, () => {
  const { address, port } = httpServer.address();
  const host = address.includes(":") ? `[${address}]` : address;
  process.stdout.write(`${NAME} listening on ${tls ? "https" : "http"}://${host}:${port}\n`);
});
