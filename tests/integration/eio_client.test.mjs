// The real engine.io-client (6.6) against the conformance server's /engine.io/ echo endpoint:
// polling only, websocket only, and the default polling → websocket upgrade. Text and binary both
// ways; 200 messages across the upgrade arrive once each, in order.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, closeAll, waitFor, sleep, toBuffer, until } from "./lib/harness.mjs";
import { eioClient, eioOpen } from "./lib/clients.mjs";
import { SID_RE } from "./lib/raw.mjs";

const T = { timeout: 20000 };
let server;

before(async () => {
  server = await startServer({ kind: "conformance" });
});
after(closeAll);

/** Collects "message" events as {text} or {binary: Buffer}. */
function collect(socket) {
  const got = [];
  socket.on("message", (data) => {
    got.push(typeof data === "string" ? { text: data } : { binary: toBuffer(data) });
  });
  return got;
}

async function roundTrip(socket, expectedTransport) {
  const got = collect(socket);
  const payloads = [
    "hello",
    "héllo €😀",
    Buffer.from([0, 1, 2, 253, 254, 255]),
    new Uint8Array([7, 7, 7]),
    Buffer.alloc(0),
    "x".repeat(50000),
    Buffer.alloc(70000, 0x5a),
  ];
  for (const p of payloads) socket.send(p);
  await until(() => got.length >= payloads.length, { timeoutMs: 5000, message: `${payloads.length} echoes` });
  await sleep(100);
  assert.equal(got.length, payloads.length, "no duplicates");
  payloads.forEach((p, i) => {
    if (typeof p === "string") assert.deepEqual(got[i], { text: p });
    else assert.deepEqual(got[i], { binary: Buffer.from(p) });
  });
  assert.equal(socket.transport.name, expectedTransport);
}

describe("engine.io-client", () => {
  test("polling only: handshake values, text and binary both ways, no upgrade", T, async () => {
    const socket = await eioOpen(server, { transports: ["polling"] });
    assert.match(socket.id, SID_RE);
    assert.equal(socket.transport.name, "polling");
    let upgraded = false;
    socket.on("upgrade", () => (upgraded = true));
    await roundTrip(socket, "polling");
    await sleep(400);
    assert.equal(upgraded, false);
    assert.equal(socket.transport.name, "polling");
    const closed = waitFor(socket, "close");
    socket.close();
    assert.equal((await closed)[0], "forced close");
  });

  test("websocket only: text and binary both ways", T, async () => {
    const socket = await eioOpen(server, { transports: ["websocket"] });
    assert.match(socket.id, SID_RE);
    assert.equal(socket.transport.name, "websocket");
    await roundTrip(socket, "websocket");
    const closed = waitFor(socket, "close");
    socket.close();
    assert.equal((await closed)[0], "forced close");
  });

  test("default transports: opens on polling and upgrades to websocket", T, async () => {
    const socket = eioClient(server);
    const [transport] = await waitFor(socket, "upgrade", 5000);
    assert.equal(transport.name, "websocket");
    assert.equal(socket.transport.name, "websocket");
    await roundTrip(socket, "websocket");
  });

  test("200 messages sent across the upgrade: each echoed once, in order", T, async () => {
    const socket = eioClient(server);
    await waitFor(socket, "open");
    assert.equal(socket.transport.name, "polling");
    const got = collect(socket);
    let sentBeforeUpgrade = -1;
    socket.once("upgrade", () => (sentBeforeUpgrade = sent));
    let sent = 0;
    const N = 200;
    // spread the sends over ~600 ms so that the upgrade happens in the middle
    while (sent < N) {
      const m = sent % 10 === 9 ? Buffer.from(`bin${sent}`) : `msg${sent}`;
      socket.send(m);
      sent++;
      if (sent % 4 === 0) await sleep(12);
    }
    await until(() => got.length >= N, { timeoutMs: 10000, message: `${N} echoes` });
    await sleep(200);
    assert.equal(got.length, N);
    for (let i = 0; i < N; i++) {
      if (i % 10 === 9) assert.deepEqual(got[i], { binary: Buffer.from(`bin${i}`) }, `message ${i}`);
      else assert.deepEqual(got[i], { text: `msg${i}` }, `message ${i}`);
    }
    assert.equal(socket.transport.name, "websocket");
    assert.ok(sentBeforeUpgrade > 0 && sentBeforeUpgrade < N, `upgrade happened mid-stream (after ${sentBeforeUpgrade} sends)`);
  });

  test("stays connected through several heartbeats on each transport", T, async () => {
    const sockets = [
      await eioOpen(server, { transports: ["polling"] }),
      await eioOpen(server, { transports: ["websocket"] }),
      await eioOpen(server),
    ];
    const closes = [];
    sockets.forEach((s, i) => s.on("close", (reason) => closes.push([i, reason])));
    const pings = [0, 0, 0];
    sockets.forEach((s, i) => s.on("ping", () => pings[i]++));
    await sleep(1600);
    assert.deepEqual(closes, []);
    for (const n of pings) assert.ok(n >= 3, `pings seen: ${pings}`);
    for (const s of sockets) {
      s.send("alive");
      const [data] = await waitFor(s, "message");
      assert.equal(data, "alive");
    }
  });

  test("the server closing a session is seen by the client (invalid heartbeat direction)", T, async () => {
    // a v4 client must not ping: the server closes the session, the client sees a close
    const socket = await eioOpen(server, { transports: ["websocket"] });
    const closed = waitFor(socket, "close", 3000);
    socket.transport.ws.send("2");
    const [reason] = await closed;
    assert.equal(reason, "transport close");
  });
});
