// The real socket.io-client (4.8) against the conformance server's /socket.io/ endpoint: connect,
// auth, emit/receive, acks (callback, emitWithAck, timeout), binary (Buffer, Uint8Array, several
// attachments, nested), the /custom namespace, a refused namespace, and each transport mode.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { startServer, closeAll, waitFor, sleep, toBuffer, until, track } from "./lib/harness.mjs";
import { sioClient, sioConnect, waitForUpgrade } from "./lib/clients.mjs";
import { SID_RE } from "./lib/raw.mjs";

const T = { timeout: 15000 };
let server;

before(async () => {
  server = await startServer({ kind: "conformance" });
});
after(closeAll);

/** Connects and resolves {socket, auth} with the "auth" event the server emits on connection. */
async function connectWithAuth(nsp, opts) {
  const socket = sioClient(server, nsp, opts);
  const authEvent = waitFor(socket, "auth", 5000);
  const connectError = waitFor(socket, "connect_error", 5000).then(([e]) => {
    throw e;
  });
  connectError.catch(() => {});
  await Promise.race([waitFor(socket, "connect", 5000), connectError]);
  const [auth] = await authEvent;
  return { socket, auth };
}

/** Recursively converts binary values to Buffer so deepEqual compares bytes. */
function normalize(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return toBuffer(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

const MODES = [
  ["polling only", { transports: ["polling"] }, "polling"],
  ["websocket only", { transports: ["websocket"] }, "websocket"],
  ["default (polling, then upgrade)", {}, "websocket"],
];

for (const [label, opts, finalTransport] of MODES) {
  describe(`socket.io-client, ${label}`, () => {
    test("connects: socket id, engine transport", T, async () => {
      const socket = await sioConnect(server, "/", opts);
      assert.match(socket.id, SID_RE);
      assert.notEqual(socket.id, socket.io.engine.id);
      if (finalTransport === "websocket" && !opts.transports) await waitForUpgrade(socket);
      assert.equal(socket.io.engine.transport.name, finalTransport);
      socket.disconnect();
    });

    test("emit → message-back with the same arguments", T, async () => {
      const socket = await sioConnect(server, "/", opts);
      const back = waitFor(socket, "message-back");
      socket.emit("message", 1, "2", { 3: [true] }, null, [], "héllo €😀");
      assert.deepEqual(await back, [1, "2", { 3: [true] }, null, [], "héllo €😀"]);
      socket.disconnect();
    });

    test("acks: callback, emitWithAck, timeout().emitWithAck, zero arguments", T, async () => {
      const socket = await sioConnect(server, "/", opts);
      const viaCallback = await new Promise((resolve) => socket.emit("message-with-ack", 1, "2", { a: [null] }, (...args) => resolve(args)));
      assert.deepEqual(viaCallback, [1, "2", { a: [null] }]);
      const none = await new Promise((resolve) => socket.emit("message-with-ack", (...args) => resolve(args)));
      assert.deepEqual(none, []);
      assert.deepEqual(await socket.emitWithAck("message-with-ack", { x: 1 }, 2), { x: 1 });
      assert.deepEqual(await socket.timeout(3000).emitWithAck("message-with-ack", "first", "second"), "first");
      const multi = await new Promise((resolve, reject) =>
        socket.timeout(3000).emit("message-with-ack", "a", "b", "c", (err, ...args) => (err ? reject(err) : resolve(args))),
      );
      assert.deepEqual(multi, ["a", "b", "c"]);
      // "message" is never acked by the server: the timeout fires
      await assert.rejects(socket.timeout(300).emitWithAck("message", 1), { message: "operation has timed out" });
      socket.disconnect();
    });

    test("binary: Buffer, Uint8Array, several attachments, nested, binary ack", T, async () => {
      const socket = await sioConnect(server, "/", opts);
      const args = [
        Buffer.from([1, 2, 3]),
        new Uint8Array([4, 5]),
        { nested: { buf: Buffer.from("deep"), list: [Buffer.alloc(0), 1, Buffer.from([255])] } },
        "text",
        Buffer.alloc(30000, 0x42),
      ];
      const back = waitFor(socket, "message-back");
      socket.emit("message", ...args);
      const got = await back;
      assert.ok(Buffer.isBuffer(got[0]) || got[0] instanceof ArrayBuffer, "binary stays binary");
      assert.deepEqual(normalize(got), normalize(args));

      const ack = await socket.timeout(3000).emitWithAck("message-with-ack", { file: Buffer.from([9, 9]) }, Buffer.from("x"));
      assert.deepEqual(normalize(ack), { file: Buffer.from([9, 9]) });
      const all = await new Promise((resolve) => socket.emit("message-with-ack", Buffer.from("a"), [Buffer.from("b")], (...a) => resolve(a)));
      assert.deepEqual(normalize(all), [Buffer.from("a"), [Buffer.from("b")]]);
      socket.disconnect();
    });

    test("100 emits come back once each, in order", T, async () => {
      const socket = sioClient(server, "/", opts);
      const got = [];
      socket.on("message-back", (i, b) => got.push([i, b === undefined ? undefined : toBuffer(b)[0]]));
      // emits before "connect" are buffered by the client and sent once connected
      for (let i = 0; i < 100; i++) {
        if (i % 10 === 0) socket.emit("message", i, Buffer.from([i]));
        else socket.emit("message", i);
        if (i % 20 === 19) await sleep(15);
      }
      await until(() => got.length >= 100, { timeoutMs: 8000, message: "100 message-back" });
      await sleep(150);
      assert.equal(got.length, 100);
      got.forEach(([i, b], k) => {
        assert.equal(i, k);
        assert.equal(b, k % 10 === 0 ? k : undefined);
      });
      socket.disconnect();
    });

    test("auth payload reaches the server; none gives {}", T, async () => {
      const { socket, auth } = await connectWithAuth("/", { ...opts, auth: { token: "abc", n: 1 } });
      assert.deepEqual(auth, { token: "abc", n: 1 });
      socket.disconnect();
      const { socket: s2, auth: a2 } = await connectWithAuth("/", opts);
      assert.deepEqual(a2, {});
      s2.disconnect();
    });

    test("/custom namespace with auth", T, async () => {
      const { socket, auth } = await connectWithAuth("/custom", { ...opts, auth: { room: "x" } });
      assert.match(socket.id, SID_RE);
      assert.deepEqual(auth, { room: "x" });
      socket.disconnect();
    });

    test("refused namespace → connect_error Invalid namespace", T, async () => {
      const socket = sioClient(server, "/random", opts);
      const [err] = await waitFor(socket, "connect_error", 5000);
      assert.equal(err.message, "Invalid namespace");
      assert.equal(socket.connected, false);
    });
  });
}

describe("multiplexing", () => {
  test("/ and /custom share one Engine.IO connection; a refused namespace does not break it", T, async () => {
    const manager = new Manager(server.url, { path: "/socket.io/", reconnection: false });
    track(manager, () => manager.engine?.close());
    const root = manager.socket("/");
    const custom = manager.socket("/custom", { auth: { who: "custom" } });
    const customAuth = waitFor(custom, "auth");
    const rootAuth = waitFor(root, "auth");
    root.connect();
    custom.connect();
    assert.deepEqual((await rootAuth)[0], {});
    assert.deepEqual((await customAuth)[0], { who: "custom" });
    assert.notEqual(root.id, custom.id);
    assert.equal(root.io.engine, custom.io.engine);

    const refused = manager.socket("/random");
    const refusedErr = waitFor(refused, "connect_error");
    refused.connect();
    assert.equal((await refusedErr)[0].message, "Invalid namespace");

    assert.deepEqual(await root.timeout(3000).emitWithAck("message-with-ack", "still"), "still");
    custom.disconnect();
    assert.deepEqual(await root.timeout(3000).emitWithAck("message-with-ack", "after"), "after");
    root.disconnect();
  });

  test("the client survives several heartbeats idle, on every transport", T, async () => {
    const sockets = await Promise.all(MODES.map(([, opts]) => sioConnect(server, "/", opts)));
    const reasons = [];
    sockets.forEach((s) => s.on("disconnect", (r) => reasons.push(r)));
    await sleep(1500);
    assert.deepEqual(reasons, []);
    for (const s of sockets) {
      assert.equal(await s.timeout(2000).emitWithAck("message-with-ack", "ok"), "ok");
      s.disconnect();
    }
  });
});
