// Connection state recovery (socket.io's connectionStateRecovery) with the real socket.io-client
// 4.8 against `socketio-features-server --connection-state-recovery` (reference:
// tests/reference/features-server.mjs, run with scripts/test-reference.sh). The transport is killed
// under a client (websocket: its TCP socket destroyed; polling: the engine closed), room
// broadcasts and a socket.emit to it are sent meanwhile, the client reconnects: recovered, same
// id, still in its rooms, same data, every missed message once and in order, before "connect".
// After --max-disconnection-duration it gets a fresh session; a client that leaves on purpose
// gets none; connection middlewares are skipped or run (--recovery-skip-middlewares).
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, closeAll, until, sleep } from "./lib/harness.mjs";
import { sioClient, sioConnect } from "./lib/clients.mjs";

const T = { timeout: 30000 };
after(closeAll);

const ack = (socket, event, ...args) => socket.timeout(5000).emitWithAck(event, ...args);

/** The server's "log {...}" lines, parsed. */
const logs = (srv) =>
  srv
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("log "))
    .map((l) => JSON.parse(l.slice(4)));

const disconnected = (srv, id) =>
  until(() => logs(srv).find((e) => e.ev === "disconnect" && e.id === id), {
    timeoutMs: 10000,
    message: `server saw ${id} disconnect`,
  });

/** A client that records every event (with its arguments) in order, reconnecting only when told. */
async function recorder(server, transport, opts = {}) {
  const s = await sioConnect(server, "/", { transports: [transport], ...opts });
  s.seen = [];
  s.onAny((event, ...args) => s.seen.push([event, ...args]));
  return s;
}

/** Kills the transport under the client, as a network failure would; resolves on "disconnect". */
async function killTransport(socket) {
  const gone = new Promise((resolve) => socket.once("disconnect", resolve));
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") engine.transport.ws._socket.destroy();
  else engine.close();
  return gone;
}

/** Reconnects (socket.connect() sends the pid and offset it kept) and resolves on "connect". */
function reconnect(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
    socket.connect();
  });
}

for (const transport of ["websocket", "polling"]) {
  describe(`recovery over ${transport}`, () => {
    test("missed room broadcasts and a socket.emit are replayed in order; id, rooms and data kept", T, async () => {
      const server = await startServer({ kind: "features", args: ["--threads", "2", "--connection-state-recovery"] });
      const a = await recorder(server, transport);
      const b = await sioConnect(server, "/", { transports: ["websocket"] });
      const id = a.id;
      assert.deepEqual(await ack(a, "join", ["r1"]), [id, "r1"].sort());
      assert.deepEqual(await ack(a, "data:set", { x: 1 }), { ok: true });
      assert.equal(await ack(a, "get:recovered"), false);
      // A first packet from the server gives the client an offset (without one, the reference
      // does not recover either).
      await ack(a, "do:emit", "hello", 0);
      await until(() => a.seen.length === 1, { message: "hello" });
      await ack(a, "do:emit-on-disconnect", "bye", "for you");

      await killTransport(a);
      await disconnected(server, id);
      for (let i = 1; i <= 3; i++) await ack(b, "do:broadcast", { event: "news", to: ["r1"], args: [i] });
      await ack(b, "do:broadcast", { event: "other", to: ["elsewhere"], args: ["not for a"] });
      await ack(b, "do:broadcast", { event: "all", args: ["everyone"] });

      await reconnect(a);
      assert.equal(a.recovered, true);
      assert.equal(a.id, id);
      assert.equal(await ack(a, "get:recovered"), true);
      assert.deepEqual(await ack(a, "get:rooms"), [id, "r1"].sort());
      assert.deepEqual(await ack(a, "data:get"), { x: 1 });
      // Each missed packet once, in order. The offset stays the last argument of every
      // recoverable event, as the application sees it (the reference's client does not strip it).
      const names = a.seen.map(([event, ...args]) => [event, ...args.slice(0, -1)]);
      assert.deepEqual(names, [
        ["hello", 0],
        ["bye", "for you"],
        ["news", 1],
        ["news", 2],
        ["news", 3],
        ["all", "everyone"],
      ]);
      // Every recoverable packet carries a distinct offset, as a string, last.
      const offsets = a.seen.map((e) => e[e.length - 1]);
      assert.ok(offsets.every((o) => typeof o === "string"));
      assert.equal(new Set(offsets).size, offsets.length);

      // Still a member of r1 after the recovery, live.
      await ack(b, "do:broadcast", { event: "news", to: ["r1"], args: [4] });
      await until(() => a.seen.some((e) => e[0] === "news" && e[1] === 4), { message: "live news after recovery" });
      a.disconnect();
      b.disconnect();
    });

    test("after maxDisconnectionDuration the client gets a fresh session", T, async () => {
      const server = await startServer({
        kind: "features",
        args: ["--connection-state-recovery", "--max-disconnection-duration", "1000"],
      });
      const a = await recorder(server, transport);
      const id = a.id;
      await ack(a, "join", ["r1"]);
      await ack(a, "do:emit", "hello");
      await until(() => a.seen.length === 1, { message: "hello" });
      await killTransport(a);
      await disconnected(server, id);
      await sleep(1500);
      await reconnect(a);
      assert.equal(a.recovered, false);
      assert.notEqual(a.id, id);
      assert.deepEqual(await ack(a, "get:rooms"), [a.id]);
      a.disconnect();
    });
  });
}

test("a client that disconnects on purpose keeps no session", T, async () => {
  const server = await startServer({ kind: "features", args: ["--connection-state-recovery"] });
  const a = await recorder(server, "websocket");
  const id = a.id;
  await ack(a, "do:emit", "hello");
  await until(() => a.seen.length === 1, { message: "hello" });
  a.disconnect(); // "client namespace disconnect": not a recoverable reason
  await disconnected(server, id);
  await reconnect(a);
  assert.equal(a.recovered, false);
  assert.notEqual(a.id, id);
  a.disconnect();
});

test("recovery off (the default): no pid, no offsets, a fresh session", T, async () => {
  const server = await startServer({ kind: "features" });
  const a = await recorder(server, "websocket");
  const id = a.id;
  await ack(a, "do:emit", "hello", 1);
  await until(() => a.seen.length === 1, { message: "hello" });
  assert.deepEqual(a.seen[0], ["hello", 1]);
  await killTransport(a);
  await disconnected(server, id);
  await reconnect(a);
  assert.ok(!a.recovered); // the client sets it from the pid, which never came
  assert.notEqual(a.id, id);
  a.disconnect();
});

for (const skip of [true, false]) {
  test(`a middleware that rejects the reconnection: ${skip ? "skipped" : "run"} with --recovery-skip-middlewares ${skip}`, T, async () => {
    const server = await startServer({
      kind: "features",
      args: ["--connection-state-recovery", "--recovery-skip-middlewares", String(skip)],
    });
    let connects = 0;
    // The first CONNECT passes the middleware; every later one asks it to refuse.
    const a = sioClient(server, "/", { transports: ["websocket"], auth: (cb) => cb(connects++ === 0 ? {} : { reject: "no more" }) });
    await new Promise((resolve, reject) => {
      a.once("connect", resolve);
      a.once("connect_error", reject);
    });
    const id = a.id;
    a.seen = [];
    a.onAny((...e) => a.seen.push(e));
    await ack(a, "do:emit", "hello");
    await until(() => a.seen.length === 1, { message: "hello" });
    await killTransport(a);
    await disconnected(server, id);
    if (skip) {
      await reconnect(a);
      assert.equal(a.recovered, true);
      assert.equal(a.id, id);
    } else {
      await assert.rejects(reconnect(a), (err) => err.message === "no more");
    }
    a.disconnect();
  });
}
