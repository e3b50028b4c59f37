// Reference features server (socket.io 4.8 from npm): the same contract as the C++
// `socketio-features-server` (examples/features/main.cpp; keep the two in step). It exposes the
// server-side API of Socket.IO to a black-box test (tests/integration/sio_features.test.mjs): the
// test drives each feature with client events ("do:…", "get:…") and observes the server through
// acks, through what the clients receive, and through one JSON line per server-side event on
// stdout ("log {...}": connect, disconnecting with the rooms, disconnect with the reason).
//
// Flags: --host, --port, --threads (ignored), --ping-interval, --ping-timeout,
// --connection-state-recovery, --max-disconnection-duration MS, --recovery-skip-middlewares BOOL,
// --trust-proxy
// (handshake address/secure from X-Forwarded-For/-Proto; socket.io has no such option, so it is
// emulated here the way the C++ server does it). The C++-only flags --outbox-high-water and
// --slow-client-timeout are accepted and ignored (Node has no outbox bound). --parser json|msgpack,
// --cookie, --cookie-name, --cookie-path, --cookie-same-site (socket.io's options) and --engine-hooks
// (below).
//
// Namespaces
//   "/"            middleware: auth.reject (string) refuses with {message: auth.reject, data:
//                  auth.data}; auth.delay (ms) accepts after a delay. socket.data starts as
//                  {name: auth.name ?? null}.
//   /^\/dyn-[a-z0-9]+$/   dynamic (regex); parent middleware: auth.deny (truthy) refuses with
//                  {message: "denied by parent", data: {nsp}} (no data when auth.deny is "plain");
//                  emits "hello" {nsp} on connection.
//   predicate      dynamic: names starting with "/pred-" when auth.allow === true; emits "hello".
// Every socket (any namespace) gets the handlers of setup() below.
import { parseArgs, announce, handleSignals, createSocketServer, splitAck } from "./cli.mjs";

const NAME = "socketio-features-server";

const opts = parseArgs(process.argv.slice(2), NAME, { pingInterval: 25000, pingTimeout: 20000, trustProxy: false });

// --engine-hooks (the same test hooks as the C++ server's): allowRequest refuses a handshake that
// carries X-Refuse, with its value as the message (empty: none); initial_headers adds "X-Initial: 1"
// and a "hook=1" cookie; headers adds "X-Every: <method>"; connection_error is logged.
const engineHooks = opts.engineHooks
  ? {
      allowRequest: (req, callback) => {
        const refuse = req.headers["x-refuse"];
        if (refuse === undefined) callback(null, true);
        else callback(refuse || null, false);
      },
    }
  : {};
const { httpServer, io } = createSocketServer(opts, engineHooks);
if (opts.engineHooks) {
  io.engine.on("initial_headers", (headers) => {
    headers["X-Initial"] = "1";
    headers["Set-Cookie"] = [...(headers["Set-Cookie"] ?? []), "hook=1"];
  });
  io.engine.on("headers", (headers, req) => {
    headers["X-Every"] = req.method;
  });
  io.engine.on("connection_error", (err) => {
    log({ ev: "connection_error", code: err.code, message: err.message, context: err.context });
  });
}

const log = (obj) => process.stdout.write(`log ${JSON.stringify(obj)}\n`);

const noFunctions = (args) => args.filter((a) => typeof a !== "function");
const sorted = (it) => [...it].sort();

// A broadcast operator from a spec {from: "socket"|"nsp", to, except, volatile, compress, local}.
function operator(socket, spec = {}) {
  let op = spec.from === "socket" ? socket.broadcast : socket.nsp;
  for (const r of spec.to ?? []) op = op.to(r);
  for (const r of spec.except ?? []) op = op.except(r);
  if (spec.volatile) op = op.volatile;
  if (spec.compress !== undefined) op = op.compress(spec.compress);
  if (spec.local) op = op.local;
  return op;
}

function handshakeOf(socket) {
  const h = socket.handshake;
  const out = { headers: h.headers, query: { ...h.query }, auth: h.auth, address: h.address, secure: h.secure,
    issued: h.issued, time: h.time, url: h.url, xdomain: h.xdomain };
  if (opts.trustProxy) {
    const xff = h.headers["x-forwarded-for"];
    if (xff) {
      // Read from the right, one trusted proxy (the peer): the last entry is the client.
      const last = xff.split(",").pop().trim();
      if (last) out.address = last;
    }
    const proto = h.headers["x-forwarded-proto"];
    if (proto) out.secure = proto.startsWith("https");
  }
  return out;
}

function setup(socket) {
  const incoming = [];
  const outgoing = [];
  socket.onAny((...args) => incoming.push(noFunctions(args)));
  socket.onAnyOutgoing((...args) => outgoing.push(noFunctions(args)));

  // Packet middleware: "mw:rewrite" gets its first argument upper-cased; "mw:block" is refused
  // (the middleware tells the client with "blocked" first, since the error stays on the server).
  socket.use((packet, next) => {
    if (packet[0] === "mw:rewrite" && typeof packet[1] === "string") packet[1] = packet[1].toUpperCase();
    if (packet[0] === "mw:block") {
      socket.emit("blocked", "mw:block");
      return next(new Error("blocked by middleware"));
    }
    next();
  });
  socket.on("error", () => {}); // middleware errors land here

  socket.on("get:recovered", (ack) => ack(socket.recovered));
  // A socket.emit from the socket's "disconnect" handler: with connection state recovery it is
  // kept for the session, and replayed if the client comes back.
  socket.on("do:emit-on-disconnect", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [event, ...rest] = args;
    socket.on("disconnect", () => socket.emit(event, ...rest));
    ack?.({ ok: true });
  });
  socket.on("mw:rewrite", (value, ack) => ack(value));
  socket.on("mw:block", (ack) => ack("handler ran"));

  socket.on("get:any", (ack) => ack({ incoming, outgoing }));
  socket.on("get:handshake", (ack) => ack(handshakeOf(socket)));
  socket.on("get:rooms", (ack) => ack(sorted(socket.rooms)));
  socket.on("get:id", (ack) => ack({ id: socket.id, nsp: socket.nsp.name }));

  socket.on("join", (rooms, ack) => {
    socket.join(rooms);
    ack?.(sorted(socket.rooms));
  });
  socket.on("leave", (room, ack) => {
    socket.leave(room);
    ack?.(sorted(socket.rooms));
  });

  socket.on("data:set", (value, ack) => {
    socket.data = value;
    ack?.({ ok: true });
  });
  socket.on("data:get", (ack) => ack(socket.data));

  // do:emit (event, ...args[, ack]): socket.emit(event, ...args)
  socket.on("do:emit", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [event, ...rest] = args;
    socket.emit(event, ...rest);
    ack?.({ ok: true });
  });

  // do:emit-uncompressed (event, ...args, ack): socket.compress(false).emit(event, ...args).
  socket.on("do:emit-uncompressed", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [event, ...rest] = args;
    socket.compress(false).emit(event, ...rest);
    ack?.({ ok: true });
  });

  // do:emit-ack ({event, args, timeout}, ack): server → client emit with an ack and a timeout.
  socket.on("do:emit-ack", (spec, ack) => {
    socket.timeout(spec.timeout).emit(spec.event, ...(spec.args ?? []), (err, ...resp) => {
      ack({ timedOut: !!err, resp: err ? [] : resp });
    });
  });

  // do:broadcast ({from, to, except, volatile, compress, local, timeout, event, args}, ack)
  socket.on("do:broadcast", (spec, ack) => {
    const op = operator(socket, spec);
    const args = spec.args ?? [];
    if (spec.timeout !== undefined) {
      op.timeout(spec.timeout).emit(spec.event, ...args, (err, responses) => {
        ack({ timedOut: !!err, responses });
      });
    } else {
      op.emit(spec.event, ...args);
      ack({ ok: true });
    }
  });

  // do:fetch ({to, except}, ack): [{id, nsp, rooms, data, auth}] sorted by id
  socket.on("do:fetch", async (spec, ack) => {
    const sockets = await operator(socket, spec).fetchSockets();
    const out = sockets.map((s) => ({ id: s.id, rooms: sorted(s.rooms), data: s.data ?? null, auth: s.handshake.auth }));
    out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    ack(out);
  });
  socket.on("do:sockets-join", (spec, ack) => {
    operator(socket, spec).socketsJoin(spec.rooms);
    ack({ ok: true });
  });
  socket.on("do:sockets-leave", (spec, ack) => {
    operator(socket, spec).socketsLeave(spec.rooms);
    ack({ ok: true });
  });
  socket.on("do:disconnect-sockets", (spec, ack) => {
    ack({ ok: true });
    operator(socket, spec).disconnectSockets(!!spec.close);
  });

  // do:rooms (ack): this namespace's rooms on this node and their sizes (adapter.rooms).
  socket.on("do:rooms", (ack) => {
    const out = {};
    for (const [room, members] of socket.nsp.adapter.rooms) out[room] = members.size;
    ack(out);
  });

  socket.on("do:disconnect", (close) => socket.disconnect(!!close));

  // do:server-side-emit ({event, args, ack}, ack). Single node: nothing to send to. The
  // in-memory adapter of socket.io never calls an ack back; the cluster adapters answer
  // (null, []) when there are no other nodes, which is what the C++ server does: emulated here.
  socket.on("do:server-side-emit", (spec, ack) => {
    if (spec.ack) {
      ack({ err: null, responses: [] });
    } else {
      ack({ ok: true });
    }
  });

  // do:flood ({to, count, size, volatile}, ack): count "big" events of size bytes to the socket
  // `to`, each followed by a volatile "vol" event when volatile is set.
  socket.on("do:flood", (spec, ack) => {
    const payload = "x".repeat(spec.size);
    for (let i = 0; i < spec.count; i++) {
      socket.nsp.to(spec.to).emit("big", i, payload);
      if (spec.volatile) socket.nsp.to(spec.to).volatile.emit("vol", i);
    }
    ack({ ok: true });
  });

  socket.on("disconnecting", (reason) => {
    log({ ev: "disconnecting", nsp: socket.nsp.name, id: socket.id, reason, rooms: sorted(socket.rooms) });
  });
  socket.on("disconnect", (reason) => {
    log({ ev: "disconnect", nsp: socket.nsp.name, id: socket.id, reason, rooms: sorted(socket.rooms) });
  });
  log({ ev: "connect", nsp: socket.nsp.name, id: socket.id });
}

// "/": middleware, then setup.
io.use((socket, next) => {
  const auth = socket.handshake.auth ?? {};
  if (typeof auth.reject === "string") {
    const err = new Error(auth.reject);
    if (auth.data !== undefined) err.data = auth.data;
    return next(err);
  }
  if (typeof auth.delay === "number") return setTimeout(() => next(), auth.delay);
  next();
});
io.on("connection", (socket) => {
  // A recovered socket keeps the data of its session.
  if (!socket.recovered) socket.data = { name: socket.handshake.auth?.name ?? null };
  setup(socket);
});
// A server-side handler: never runs for this node's own serverSideEmit.
io.on("server-event", () => log({ ev: "server-side handler ran" }));

const regexParent = io.of(/^\/dyn-[a-z0-9]+$/);
regexParent.use((socket, next) => {
  if (socket.handshake.auth?.deny) {
    const err = new Error("denied by parent");
    if (socket.handshake.auth.deny !== "plain") err.data = { nsp: socket.nsp.name };
    return next(err);
  }
  next();
});
regexParent.on("connection", (socket) => {
  setup(socket);
  socket.emit("hello", { nsp: socket.nsp.name });
});

const predicateParent = io.of((name, auth, next) => next(null, name.startsWith("/pred-") && auth?.allow === true));
predicateParent.on("connection", (socket) => {
  setup(socket);
  socket.emit("hello", { nsp: socket.nsp.name });
});

// On "/": do:parent-emit ({parent: "regex"|"predicate", event, args}, ack): emits on the parent
// namespace, which reaches every child namespace it created.
io.on("connection", (socket) => {
  socket.on("do:parent-emit", (spec, ack) => {
    const parent = spec.parent === "predicate" ? predicateParent : regexParent;
    parent.emit(spec.event, ...(spec.args ?? []));
    ack({ ok: true });
  });
});

handleSignals(NAME, () => new Promise((resolve) => io.close(() => resolve())));

httpServer.listen(opts.port, opts.host, () => announce(NAME, httpServer));
