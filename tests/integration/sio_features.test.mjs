// Every server-side feature of Socket.IO, driven black-box through `socketio-features-server`
// (examples/features/main.cpp; reference: tests/reference/features-server.mjs) with the real
// socket.io-client: namespace middleware and connect_error {message, data}, dynamic namespaces
// (regex and predicate) with their parent's handlers, packet middleware, catch-all listeners,
// server → client acks with a timeout, every broadcast flag and acks from many clients,
// fetchSockets / socketsJoin / socketsLeave / disconnectSockets, serverSideEmit, socket.data,
// the handshake (trust proxy included), `disconnecting` with the rooms, every disconnect reason
// the reference reports on the server side,
// the rooms of a namespace, and the per-client outbox bound. The server reports its own side as
// "log {json}" lines on stdout (connect, disconnecting, disconnect with the reason).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { startServer, closeAll, waitFor, sleep, until, track, toBuffer, request, IS_REFERENCE } from "./lib/harness.mjs";
import { sioClient, sioConnect } from "./lib/clients.mjs";
import { rawEngine, pollingPath, pollingHandshake, decodePayload } from "./lib/raw.mjs";

const T = { timeout: 30000 };
let server;

before(async () => {
  server = await startServer({ kind: "features", args: ["--threads", "2"] });
});
after(closeAll);

/** The server's "log {...}" lines, parsed. */
function logs(srv = server) {
  return srv
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("log "))
    .map((l) => JSON.parse(l.slice(4)));
}

/** Waits for a log entry matching pred and returns it. */
async function waitLog(pred, { srv = server, timeoutMs = 8000, message = "server log entry" } = {}) {
  return until(() => logs(srv).find(pred), { timeoutMs, message });
}

const disconnectOf = (id, srv = server) =>
  waitLog((e) => e.ev === "disconnect" && e.id === id, { srv, message: `disconnect of ${id}` });

/** Emits with an ack and a timeout, resolving with the first argument of the ack. */
const call = (socket, event, ...args) => socket.timeout(5000).emitWithAck(event, ...args);

/** Collects the events `event` a socket receives. */
function collect(socket, event) {
  const got = [];
  socket.on(event, (...args) => got.push(args));
  return got;
}

async function connectMany(n, nsp = "/", opts = {}) {
  return Promise.all(Array.from({ length: n }, () => sioConnect(server, nsp, opts)));
}

/** Resolves true when nothing more arrives for ms (for "was not delivered" checks). */
async function quiet(got, ms = 300) {
  const before = got.length;
  await sleep(ms);
  return got.length === before;
}

function normalize(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return toBuffer(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

describe("namespaces and middleware", () => {
  test("namespace middleware: connect_error with message and data; a delayed next() accepts", T, async () => {
    const refused = sioClient(server, "/", { auth: { reject: "not allowed", data: { code: 42, why: ["x"] } } });
    const [err] = await waitFor(refused, "connect_error");
    assert.equal(err.message, "not allowed");
    assert.deepEqual(err.data, { code: 42, why: ["x"] });
    assert.equal(refused.connected, false);

    const bare = sioClient(server, "/", { auth: { reject: "no data" } });
    const [err2] = await waitFor(bare, "connect_error");
    assert.equal(err2.message, "no data");
    assert.equal(err2.data, undefined);

    const started = Date.now();
    const delayed = await sioConnect(server, "/", { auth: { delay: 200, name: "late" } });
    assert.ok(Date.now() - started >= 150, "next() called later");
    assert.deepEqual(await call(delayed, "data:get"), { name: "late" });
    delayed.disconnect();
  });

  test("dynamic namespace (regex): parent's middleware and handlers, refusal, parent emit reaches children", T, async () => {
    const a = sioClient(server, "/dyn-a1");
    const hello = waitFor(a, "hello");
    assert.deepEqual((await hello)[0], { nsp: "/dyn-a1" });
    assert.deepEqual(await call(a, "get:id"), { id: a.id, nsp: "/dyn-a1" });

    // a second socket in the same child namespace, and another child
    const a2 = sioClient(server, "/dyn-a1");
    const hello2 = waitFor(a2, "hello");
    const b = sioClient(server, "/dyn-b2");
    const helloB = waitFor(b, "hello");
    assert.deepEqual((await hello2)[0], { nsp: "/dyn-a1" });
    assert.deepEqual((await helloB)[0], { nsp: "/dyn-b2" });

    const denied = sioClient(server, "/dyn-c3", { auth: { deny: true } });
    const [err] = await waitFor(denied, "connect_error");
    assert.equal(err.message, "denied by parent");
    assert.deepEqual(err.data, { nsp: "/dyn-c3" });

    for (const name of ["/dyn-", "/dyn-UPPER", "/other"]) {
      const s = sioClient(server, name);
      const [e] = await waitFor(s, "connect_error");
      assert.equal(e.message, "Invalid namespace", name);
    }

    const root = await sioConnect(server, "/");
    const gotRoot = collect(root, "news");
    const got = [a, a2, b].map((s) => collect(s, "news"));
    assert.deepEqual(await call(root, "do:parent-emit", { parent: "regex", event: "news", args: [1, "two"] }), { ok: true });
    await until(() => got.every((g) => g.length === 1), { message: "parent emit reached every child socket" });
    for (const g of got) assert.deepEqual(g, [[1, "two"]]);
    assert.ok(await quiet(gotRoot), "the main namespace is not a child");
    for (const s of [a, a2, b, root]) s.disconnect();
  });

  test("dynamic namespace (predicate on name and auth)", T, async () => {
    const ok = sioClient(server, "/pred-x", { auth: { allow: true } });
    const hello = waitFor(ok, "hello");
    assert.deepEqual((await hello)[0], { nsp: "/pred-x" });

    const no = sioClient(server, "/pred-y", { auth: { allow: false } });
    assert.equal((await waitFor(no, "connect_error"))[0].message, "Invalid namespace");

    const root = await sioConnect(server, "/");
    const got = collect(ok, "pnews");
    await call(root, "do:parent-emit", { parent: "predicate", event: "pnews", args: [{ n: 1 }] });
    await until(() => got.length === 1, { message: "parent emit" });
    assert.deepEqual(got, [[{ n: 1 }]]);
    // the sibling parent's emit does not reach it
    await call(root, "do:parent-emit", { parent: "regex", event: "pnews", args: [2] });
    assert.ok(await quiet(got));
    ok.disconnect();
    root.disconnect();
  });

  test("one connection multiplexes / and a dynamic namespace", T, async () => {
    const manager = new Manager(server.url, { path: "/socket.io/", reconnection: false });
    track(manager, () => manager.engine?.close());
    const root = manager.socket("/");
    const dyn = manager.socket("/dyn-mux");
    const hello = waitFor(dyn, "hello");
    root.connect();
    dyn.connect();
    await hello;
    if (!root.connected) await waitFor(root, "connect");
    assert.deepEqual(await call(dyn, "get:id"), { id: dyn.id, nsp: "/dyn-mux" });
    assert.deepEqual(await call(root, "get:id"), { id: root.id, nsp: "/" });
    root.disconnect();
    dyn.disconnect();
  });
});

describe("sockets", () => {
  test("packet middleware: rewrites arguments, blocks an event (the handler does not run)", T, async () => {
    const s = await sioConnect(server);
    assert.equal(await call(s, "mw:rewrite", "shout"), "SHOUT");
    const blocked = waitFor(s, "blocked");
    await assert.rejects(s.timeout(400).emitWithAck("mw:block"), { message: "operation has timed out" });
    assert.deepEqual((await blocked)[0], "mw:block");
    // still connected and served
    assert.equal(await call(s, "mw:rewrite", "ok"), "OK");
    s.disconnect();
  });

  test("namespace-wide handlers (on_socket_event): after the socket's own, for every socket", T, async () => {
    const a = await sioConnect(server);
    const b = await sioConnect(server);
    assert.deepEqual(await a.timeout(3000).emitWithAck("order", "client"), ["client", "socket", "namespace"]);
    assert.deepEqual(await b.timeout(3000).emitWithAck("shared:echo", 1, { x: 2 }), [1, { x: 2 }]);
    assert.deepEqual(await a.timeout(3000).emitWithAck("shared:echo", "a"), ["a"]);
    a.disconnect();
    b.disconnect();
  });

  test("namespace-wide disconnect handlers (on_socket_disconnecting / _disconnect): after the socket's own, rooms while disconnecting", T, async (t) => {
    if (IS_REFERENCE) {
      t.skip("socket.io has no namespace-wide disconnect handlers (an extension of this server's API)");
      return;
    }
    const s = await sioConnect(server);
    await call(s, "join", ["room-n"]);
    const id = s.id;
    s.disconnect();
    const d = await waitLog((e) => e.ev === "nsp:disconnecting" && e.id === id);
    assert.equal(d.reason, "client namespace disconnect");
    assert.deepEqual(d.rooms, [id, "room-n"].sort());
    const gone = await waitLog((e) => e.ev === "nsp:disconnect" && e.id === id);
    assert.equal(gone.reason, "client namespace disconnect");
    assert.deepEqual(gone.rooms, []);
    // In order: the socket's own handler, then the namespace's, at each of the two points.
    const order = logs().filter((e) => e.id === id && /disconnect/.test(e.ev)).map((e) => e.ev);
    assert.deepEqual(order, ["disconnecting", "nsp:disconnecting", "disconnect", "nsp:disconnect"]);
  });

  test("catch-all listeners: onAny sees every incoming event (blocked ones too), onAnyOutgoing every emit", T, async () => {
    const s = await sioConnect(server);
    const got = collect(s, "custom");
    s.emit("any:one", 1, { two: [2] });
    s.emit("mw:block");
    await call(s, "do:emit", "custom", "a", 1);
    await until(() => got.length === 1, { message: "custom event" });
    const { incoming, outgoing } = await call(s, "get:any");
    assert.deepEqual(incoming, [["any:one", 1, { two: [2] }], ["mw:block"], ["do:emit", "custom", "a", 1], ["get:any"]]);
    assert.deepEqual(outgoing, [["blocked", "mw:block"], ["custom", "a", 1]]);
    s.disconnect();
  });

  test("server → client emit with ack: arguments (binary included), and the timeout", T, async () => {
    for (const transports of [["polling"], ["websocket"]]) {
      const s = await sioConnect(server, "/", { transports });
      s.on("question", (a, b, ack) => ack("answer", normalize(b).buf.length, Buffer.from([7, 8])));
      const r = await call(s, "do:emit-ack", { event: "question", args: [1, { buf: Buffer.from([1, 2, 3]) }], timeout: 3000 });
      assert.equal(r.timedOut, false);
      assert.deepEqual(normalize(r.resp), ["answer", 3, Buffer.from([7, 8])]);

      s.on("ignored", () => {});
      const started = Date.now();
      const t = await call(s, "do:emit-ack", { event: "ignored", args: [], timeout: 300 });
      assert.deepEqual(t, { timedOut: true, resp: [] });
      assert.ok(Date.now() - started >= 250, "waited for the timeout");
      s.disconnect();
    }
  });

  test("socket.data: set on the socket, seen by fetchSockets", T, async () => {
    const s = await sioConnect(server, "/", { auth: { name: "ann" } });
    assert.deepEqual(await call(s, "data:get"), { name: "ann" });
    await call(s, "data:set", { score: 7, tags: ["a"] });
    assert.deepEqual(await call(s, "data:get"), { score: 7, tags: ["a"] });
    const [info] = await call(s, "do:fetch", { to: [s.id] });
    assert.equal(info.id, s.id);
    assert.deepEqual(info.data, { score: 7, tags: ["a"] });
    s.disconnect();
  });

  test("handshake: headers, query, auth, address, secure, issued, url", T, async () => {
    const before = Date.now();
    const s = await sioConnect(server, "/", {
      transports: ["polling"],
      auth: { token: "t1" },
      query: { q: "v 1" },
      extraHeaders: { "x-custom": "hello", "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https" },
    });
    const h = await call(s, "get:handshake");
    assert.equal(h.headers["x-custom"], "hello");
    assert.equal(h.query.q, "v 1");
    assert.equal(h.query.EIO, "4");
    assert.equal(h.query.transport, "polling");
    assert.deepEqual(h.auth, { token: "t1" });
    // X-Forwarded-* are ignored unless the proxy is trusted
    assert.equal(h.address, "127.0.0.1");
    assert.equal(h.secure, false);
    assert.ok(h.issued >= before - 1000 && h.issued <= Date.now() + 1000, `issued ${h.issued}`);
    assert.equal(typeof h.time, "string");
    assert.ok(h.url.startsWith("/socket.io/?"), h.url);
    s.disconnect();

    const ws = await sioConnect(server, "/", { transports: ["websocket"], extraHeaders: { "x-custom": "ws" } });
    const hw = await call(ws, "get:handshake");
    assert.equal(hw.headers["x-custom"], "ws");
    assert.equal(hw.query.transport, "websocket");
    assert.equal(hw.address, "127.0.0.1");
    ws.disconnect();
  });

  test("handshake behind a trusted proxy: address from X-Forwarded-For, secure from X-Forwarded-Proto", T, async () => {
    const proxied = await startServer({ kind: "features", args: ["--trust-proxy"] });
    for (const transports of [["polling"], ["websocket"]]) {
      const s = await sioConnect(proxied, "/", {
        transports,
        extraHeaders: { "x-forwarded-for": "203.0.113.7, 10.0.0.1", "x-forwarded-proto": "https" },
      });
      const h = await call(s, "get:handshake");
      // Read from the right: the one trusted proxy (the peer) appended 10.0.0.1, what is left of
      // it was written by the client and may be forged.
      assert.equal(h.address, "10.0.0.1");
      assert.equal(h.secure, true);
      s.disconnect();
    }
    const plain = await sioConnect(proxied, "/");
    const h = await call(plain, "get:handshake");
    assert.equal(h.address, "127.0.0.1");
    assert.equal(h.secure, false);
    plain.disconnect();
    await proxied.stop();
  });

  test("join/leave: the socket's own room, rooms of the namespace with their sizes", T, async () => {
    const [a, b] = await connectMany(2);
    assert.deepEqual(await call(a, "join", ["r-x", "r-y"]), [a.id, "r-x", "r-y"].sort());
    assert.deepEqual(await call(b, "join", "r-x"), [b.id, "r-x"].sort());
    const rooms = await call(a, "do:rooms");
    assert.equal(rooms["r-x"], 2);
    assert.equal(rooms["r-y"], 1);
    assert.equal(rooms[a.id], 1);
    assert.equal(rooms[b.id], 1);
    assert.deepEqual(await call(a, "leave", "r-y"), [a.id, "r-x"].sort());
    const after = await call(b, "do:rooms");
    assert.equal(after["r-y"], undefined, "an empty room is gone");
    assert.equal(after["r-x"], 2);
    const aId = a.id;
    a.disconnect();
    await disconnectOf(aId);
    const last = await call(b, "do:rooms");
    assert.equal(last["r-x"], 1);
    assert.equal(last[aId], undefined);
    b.disconnect();
  });
});

describe("broadcast operator", () => {
  /** n websocket clients (idle websocket: volatile packets are not dropped) in the given rooms. */
  async function clientsIn(roomsPerClient) {
    const sockets = await connectMany(roomsPerClient.length, "/", { transports: ["websocket"] });
    await Promise.all(sockets.map((s, i) => call(s, "join", roomsPerClient[i])));
    return sockets;
  }

  test("to/in (several rooms: each socket once), except, from a socket (sender excluded)", T, async () => {
    const tag = `b${Date.now()}`;
    const [A, B] = [`${tag}-A`, `${tag}-B`];
    const s = await clientsIn([[A], [A, B], [B], []]);
    const got = s.map((c) => collect(c, "bc"));
    const expectOnly = async (indices, value) => {
      await until(() => indices.every((i) => got[i].length === 1), { message: `delivery to ${indices}` });
      await sleep(150);
      got.forEach((g, i) => assert.deepEqual(g, indices.includes(i) ? [[value]] : [], `client ${i}`));
      got.forEach((g) => g.splice(0));
    };

    await call(s[3], "do:broadcast", { to: [A, B], event: "bc", args: ["union"] });
    await expectOnly([0, 1, 2], "union");
    await call(s[3], "do:broadcast", { to: [A], except: [B], event: "bc", args: ["except"] });
    await expectOnly([0], "except");
    await call(s[3], "do:broadcast", { except: [A], event: "bc", args: ["all-but-A"] });
    // every socket of the namespace (other tests' sockets too) except room A
    await until(() => got[2].length === 1 && got[3].length === 1, { message: "all but A" });
    assert.deepEqual(got[0], []);
    assert.deepEqual(got[1], []);
    got.forEach((g) => g.splice(0));
    // socket.to(room): the sender is excluded even though it is in the room
    await call(s[1], "do:broadcast", { from: "socket", to: [A], event: "bc", args: ["from-socket"] });
    await expectOnly([0], "from-socket");
    // socket.broadcast.except(B): everyone but the sender and room B
    await call(s[0], "do:broadcast", { from: "socket", except: [B], to: [A, B], event: "bc", args: ["bcast"] });
    assert.ok(await quiet(got[0]));
    assert.deepEqual(got, [[], [], [], []]);
    // to(the socket id): a private message
    await call(s[0], "do:broadcast", { to: [s[2].id], event: "bc", args: ["private"] });
    await expectOnly([2], "private");
    for (const c of s) c.disconnect();
  });

  test("volatile, compress(false), local: delivered like a plain broadcast to healthy clients", T, async () => {
    const room = `flags-${Date.now()}`;
    const s = await clientsIn([[room], [room]]);
    const got = s.map((c) => collect(c, "flag"));
    for (const flags of [{ volatile: true }, { compress: false }, { local: true }, { volatile: true, compress: false, local: true }]) {
      await call(s[0], "do:broadcast", { to: [room], ...flags, event: "flag", args: [flags] });
    }
    await until(() => got.every((g) => g.length === 4), { message: "4 flagged broadcasts each" });
    for (const g of got) assert.deepEqual(g.map((x) => Object.keys(x[0]).sort().join()), ["volatile", "compress", "local", "compress,local,volatile"]);
    for (const c of s) c.disconnect();
  });

  test("binary broadcast: the same attachments to every recipient", T, async () => {
    const room = `bin-${Date.now()}`;
    const s = await clientsIn([[room], [room], [room]]);
    s[2].disconnect();
    const poll = await sioConnect(server, "/", { transports: ["polling"] });
    await call(poll, "join", room);
    const all = [s[0], s[1], poll];
    const got = all.map((c) => collect(c, "blob"));
    await call(s[0], "do:broadcast", { to: [room], event: "blob", args: [Buffer.from([1, 2]), { deep: Buffer.from("xyz") }] });
    await until(() => got.every((g) => g.length === 1), { message: "blob to all" });
    for (const g of got) assert.deepEqual(normalize(g[0]), [Buffer.from([1, 2]), { deep: Buffer.from("xyz") }]);
    for (const c of all) c.disconnect();
  });

  test("timeout + acks from many clients: all responses; a silent client gives the timeout error with the others", T, async () => {
    const room = `acks-${Date.now()}`;
    const s = await connectMany(5);
    await Promise.all(s.map((c) => call(c, "join", room)));
    s.forEach((c, i) => c.on("ask", (q, ack) => ack({ i, q })));
    const r = await call(s[0], "do:broadcast", { to: [room], timeout: 3000, event: "ask", args: ["q1"] });
    assert.equal(r.timedOut, false);
    assert.deepEqual(r.responses.map((x) => x.i).sort(), [0, 1, 2, 3, 4]);
    assert.ok(r.responses.every((x) => x.q === "q1"));

    // from a socket: the sender is excluded
    const fromSocket = await call(s[0], "do:broadcast", { from: "socket", to: [room], timeout: 3000, event: "ask", args: ["q2"] });
    assert.deepEqual(fromSocket.responses.map((x) => x.i).sort(), [1, 2, 3, 4]);

    s[4].off("ask");
    s[4].on("ask", () => {}); // never acks
    const started = Date.now();
    const t = await call(s[0], "do:broadcast", { to: [room], timeout: 500, event: "ask", args: ["q3"] });
    assert.equal(t.timedOut, true);
    assert.deepEqual(t.responses.map((x) => x.i).sort(), [0, 1, 2, 3]);
    assert.ok(Date.now() - started >= 400);

    // nobody in the room: answered at once, no error
    const none = await call(s[0], "do:broadcast", { to: [`${room}-empty`], timeout: 3000, event: "ask", args: [] });
    assert.deepEqual(none, { timedOut: false, responses: [] });
    for (const c of s) c.disconnect();
  });

  test("fetchSockets, socketsJoin, socketsLeave with in/except", T, async () => {
    const tag = `f${Date.now()}`;
    const s = await connectMany(3, "/", { auth: { name: tag } });
    await call(s[0], "join", `${tag}-all`);
    await call(s[1], "join", `${tag}-all`);
    await call(s[2], "join", `${tag}-all`);
    await call(s[2], "join", `${tag}-odd`);
    const ids = s.map((c) => c.id);

    const all = await call(s[0], "do:fetch", { to: [`${tag}-all`] });
    assert.deepEqual(all.map((x) => x.id), [...ids].sort());
    for (const info of all) {
      assert.deepEqual(info.data, { name: tag });
      assert.deepEqual(info.auth, { name: tag });
      assert.ok(info.rooms.includes(info.id) && info.rooms.includes(`${tag}-all`));
    }
    const except = await call(s[0], "do:fetch", { to: [`${tag}-all`], except: [`${tag}-odd`] });
    assert.deepEqual(except.map((x) => x.id), [ids[0], ids[1]].sort());

    await call(s[0], "do:sockets-join", { to: [`${tag}-all`], except: [`${tag}-odd`], rooms: [`${tag}-new`, `${tag}-new2`] });
    assert.deepEqual(await call(s[0], "get:rooms"), [ids[0], `${tag}-all`, `${tag}-new`, `${tag}-new2`].sort());
    assert.deepEqual(await call(s[2], "get:rooms"), [ids[2], `${tag}-all`, `${tag}-odd`].sort());
    const joined = await call(s[0], "do:fetch", { to: [`${tag}-new`] });
    assert.deepEqual(joined.map((x) => x.id), [ids[0], ids[1]].sort());

    await call(s[0], "do:sockets-leave", { to: [ids[1]], rooms: [`${tag}-new`] });
    assert.deepEqual(await call(s[1], "get:rooms"), [ids[1], `${tag}-all`, `${tag}-new2`].sort());
    const left = await call(s[0], "do:fetch", { to: [`${tag}-new`] });
    assert.deepEqual(left.map((x) => x.id), [ids[0]]);
    for (const c of s) c.disconnect();
  });

  test("disconnectSockets(): DISCONNECT to the selected sockets only", T, async () => {
    const room = `d-${Date.now()}`;
    const s = await connectMany(3);
    await call(s[0], "join", room);
    await call(s[1], "join", room);
    const ids = s.map((c) => c.id);
    const reasons = s.map(() => []);
    s.forEach((c, i) => c.on("disconnect", (r) => reasons[i].push(r)));
    await call(s[2], "do:disconnect-sockets", { to: [room] });
    await until(() => reasons[0].length && reasons[1].length, { message: "both disconnected" });
    assert.deepEqual(reasons.slice(0, 2), [["io server disconnect"], ["io server disconnect"]]);
    for (const i of [0, 1]) assert.equal((await disconnectOf(ids[i])).reason, "server namespace disconnect");
    assert.equal(s[2].connected, true);
    assert.deepEqual(await call(s[2], "get:id"), { id: s[2].id, nsp: "/" });
    s[2].disconnect();
  });

  test("disconnectSockets(true): every namespace of the connection, then the connection closes", T, async () => {
    const manager = new Manager(server.url, { path: "/socket.io/", reconnection: false });
    track(manager, () => manager.engine?.close());
    const root = manager.socket("/");
    const dyn = manager.socket("/dyn-close");
    const hello = waitFor(dyn, "hello");
    root.connect();
    dyn.connect();
    await hello;
    if (!root.connected) await waitFor(root, "connect");
    const other = await sioConnect(server);
    const [rootId, dynId] = [root.id, dyn.id];
    const rootReason = waitFor(root, "disconnect");
    const dynReason = waitFor(dyn, "disconnect");
    const engineClosed = waitFor(manager.engine, "close");
    await call(other, "do:disconnect-sockets", { to: [root.id], close: true });
    assert.equal((await rootReason)[0], "io server disconnect");
    assert.equal((await dynReason)[0], "io server disconnect");
    await engineClosed;
    assert.equal((await disconnectOf(rootId)).reason, "server namespace disconnect");
    assert.equal((await disconnectOf(dynId)).reason, "server namespace disconnect");
    assert.equal(other.connected, true);
    other.disconnect();
  });

  test("serverSideEmit on a single node: nothing to send to, the ack answers with no responses", T, async () => {
    const s = await sioConnect(server);
    assert.deepEqual(await call(s, "do:server-side-emit", { event: "server-event", args: [1], ack: true }), { err: null, responses: [] });
    assert.deepEqual(await call(s, "do:server-side-emit", { event: "server-event", args: [2], ack: false }), { ok: true });
    await sleep(100);
    assert.equal(logs().filter((e) => e.ev === "server-side handler ran").length, 0, "own server-side handlers do not run");
    s.disconnect();
  });
});

describe("disconnection", () => {
  test("disconnecting still has the rooms; client namespace disconnect", T, async () => {
    const s = await sioConnect(server);
    await call(s, "join", ["room-1", "room-2"]);
    const id = s.id;
    s.disconnect();
    const d = await waitLog((e) => e.ev === "disconnecting" && e.id === id);
    assert.equal(d.reason, "client namespace disconnect");
    assert.deepEqual(d.rooms, [id, "room-1", "room-2"].sort());
    const gone = await disconnectOf(id);
    assert.equal(gone.reason, "client namespace disconnect");
    assert.deepEqual(gone.rooms, []);
  });

  test("server namespace disconnect: socket.disconnect() (client: io server disconnect)", T, async () => {
    const s = await sioConnect(server);
    const id = s.id;
    const reason = waitFor(s, "disconnect");
    s.emit("do:disconnect", false);
    assert.equal((await reason)[0], "io server disconnect");
    assert.equal((await disconnectOf(id)).reason, "server namespace disconnect");
  });

  test("transport close: the client closes its connection", T, async () => {
    for (const transports of [["websocket"], ["polling"]]) {
      const s = await sioConnect(server, "/", { transports });
      const id = s.id;
      s.io.engine.close();
      assert.equal((await disconnectOf(id)).reason, "transport close", transports[0]);
    }
  });

  /** A raw websocket client joined to "/"; returns {engine, sid}. */
  async function rawSocket(srv, { autoPong = true } = {}) {
    const engine = await rawEngine({ port: srv.port, base: "/socket.io/", transport: "websocket", autoPong });
    engine.send("0"); // CONNECT to "/"
    const reply = await engine.next(5000);
    assert.match(reply, /^0\{"sid":"[^"]+"\}$/);
    return { engine, sid: JSON.parse(reply.slice(1)).sid };
  }

  test("transport error: an invalid heartbeat direction (the client pings)", T, async () => {
    const { engine, sid } = await rawSocket(server);
    engine.sendRaw("2");
    assert.equal((await disconnectOf(sid)).reason, "transport error");
    await engine.closed;
  });

  test("parse error: an undecodable Engine.IO packet", T, async () => {
    const { engine, sid } = await rawSocket(server);
    engine.sendRaw("x");
    assert.equal((await disconnectOf(sid)).reason, "parse error");
    await engine.closed;
  });

  test("forced close: an invalid Socket.IO packet closes the connection", T, async () => {
    const { engine, sid } = await rawSocket(server);
    engine.send('2{"not":"an array"}');
    assert.equal((await disconnectOf(sid)).reason, "forced close");
    await engine.closed;
  });

  test("forced close: a packet in an invalid state (a second CONNECT for the same namespace)", T, async () => {
    // The reference closes the Engine.IO connection first, whose "forced close" wins over the
    // "forced server close" it reports afterwards.
    const { engine, sid } = await rawSocket(server);
    engine.send("0");
    assert.equal((await disconnectOf(sid)).reason, "forced close");
    await engine.closed;
  });

  test("ping timeout: the client stops answering pings", T, async () => {
    const short = await startServer({ kind: "features", args: ["--ping-interval", "300", "--ping-timeout", "400"] });
    const { engine, sid } = await rawSocket(short, { autoPong: false });
    assert.equal((await disconnectOf(sid, short)).reason, "ping timeout");
    await engine.closed;
    await short.stop();
  });

  test("server shutting down: SIGTERM disconnects every socket with that reason", T, async () => {
    const srv = await startServer({ kind: "features" });
    const a = await sioConnect(srv, "/");
    const b = await sioConnect(srv, "/dyn-shut");
    const closed = [a, b].map((s) => waitFor(s, "disconnect"));
    const ids = [a.id, b.id];
    srv.proc.kill("SIGTERM");
    await Promise.all(closed);
    for (const id of ids) assert.equal((await disconnectOf(id, srv)).reason, "server shutting down");
    const { code } = await srv.exited;
    assert.equal(code, 0);
  });
});

describe("outbox bound", () => {
  test("a client that does not poll: volatile packets are dropped once it is over the bound, the rest is kept", T, async () => {
    const srv = await startServer({ kind: "features", args: ["--outbox-high-water", "65536", "--slow-client-timeout", "60000"] });
    const { sid } = await pollingHandshake(srv.port, "/socket.io/");
    const path = pollingPath("/socket.io/", { sid });
    assert.equal((await request({ port: srv.port, method: "POST", path, body: "40" })).text, "ok");
    const first = await request({ port: srv.port, path });
    const connect = decodePayload(first.text).find((p) => p.startsWith("40"));
    const socketId = JSON.parse(connect.slice(2)).sid;

    const driver = await sioConnect(srv, "/");
    const count = 40;
    await call(driver, "do:flood", { to: socketId, count, size: 8192, volatile: true });
    // the driver is not slowed down by the slow client
    assert.deepEqual(await call(driver, "get:id"), { id: driver.id, nsp: "/" });

    const res = await request({ port: srv.port, path });
    const events = decodePayload(res.text)
      .filter((p) => typeof p === "string" && p.startsWith("42"))
      .map((p) => JSON.parse(p.slice(2)));
    const big = events.filter((e) => e[0] === "big").map((e) => e[1]);
    const vol = events.filter((e) => e[0] === "vol").map((e) => e[1]);
    assert.deepEqual(big, Array.from({ length: count }, (_, i) => i), "every non-volatile packet kept, in order");
    assert.ok(vol.length < count, `volatile packets dropped (${vol.length} of ${count} delivered)`);
    assert.deepEqual(vol, Array.from({ length: vol.length }, (_, i) => i), "the first ones, before the bound");
    driver.disconnect();
    await srv.stop();
  });

  test("a websocket client that stops reading is disconnected; the others are not affected", { timeout: 60000 }, async (t) => {
    if (IS_REFERENCE) {
      t.skip("socket.io has no outbox bound");
      return;
    }
    const srv = await startServer({ kind: "features", args: ["--threads", "2", "--outbox-high-water", "262144", "--slow-client-timeout", "500"] });
    const engine = await rawEngine({ port: srv.port, base: "/socket.io/", transport: "websocket" });
    engine.send("0"); // CONNECT to "/"
    const reply = await engine.next(5000);
    const slowId = JSON.parse(reply.slice(1)).sid;
    engine.ws.ws._socket.pause(); // stop reading: the kernel buffers fill, then the server's outbox

    const driver = await sioConnect(srv, "/");
    const bystander = await sioConnect(srv, "/", { transports: ["polling"] });
    const news = collect(bystander, "news");
    const gone = []; // who else lost the connection, and why: what a failure reports
    for (const [who, s] of [["driver", driver], ["bystander", bystander]])
      s.on("disconnect", (r, d) => gone.push(`${who}: ${r} ${d?.description ?? ""}`));
    let reason;
    try {
      for (let i = 0; i < 400 && reason === undefined; i++) {
        await call(driver, "do:flood", { to: slowId, count: 8, size: 65536, volatile: true });
        await call(driver, "do:broadcast", { to: [bystander.id], event: "news", args: [i] });
        reason = logs(srv).find((e) => e.ev === "disconnect" && e.id === slowId)?.reason;
        await sleep(20);
      }
    } catch (err) {
      // A server that died (a sanitizer's report) shows as both clients gone: say so.
      await Promise.race([srv.exited, sleep(500)]);
      const exit = srv.exitCode ?? srv.exitSignal;
      throw new Error(`${err.message}; ${gone.join("; ")}; server exit ${exit}; stderr:\n${srv.stderr().slice(-4000)}`);
    }
    assert.equal(reason, "transport error", "the slow client is disconnected");
    await until(() => news.length > 0 && news.at(-1)[0] === news.length - 1, { message: "bystander got every news" });
    news.forEach(([n], i) => assert.equal(n, i));
    assert.equal(bystander.connected, true);
    assert.equal(driver.connected, true);
    assert.deepEqual(await call(bystander, "get:id"), { id: bystander.id, nsp: "/" });
    engine.ws.ws._socket.resume();
    await engine.closed;
    driver.disconnect();
    bystander.disconnect();
    await srv.stop();
  });
});
