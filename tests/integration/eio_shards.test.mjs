// Many concurrent Engine.IO sessions against the conformance server started with 4 worker threads:
// every echo must arrive exactly once and in order per client, whichever shard owns the session and
// whichever connection (and so shard) a long-polling request arrives on.
//
// The server runs with --ping-interval 1000 --ping-timeout 5000: with the conformance defaults
// (300/200 ms) a loaded 2-core machine running 100+ clients in one Node process misses pong
// deadlines (seen with the reference server), which says nothing about sharding. Heartbeats still
// happen during the test, so pongs crossing shards are exercised.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, closeAll, sleep, toBuffer, until } from "./lib/harness.mjs";
import { eioOpen } from "./lib/clients.mjs";
import { rawEngine } from "./lib/raw.mjs";

const MESSAGES = 20;
const PING_INTERVAL = 1000;
const PING_TIMEOUT = 5000;
let server;

before(async () => {
  server = await startServer({
    kind: "conformance",
    args: ["--threads", "4", "--ping-interval", String(PING_INTERVAL), "--ping-timeout", String(PING_TIMEOUT)],
  });
});
after(closeAll);

function payload(client, i) {
  return i % 5 === 4 ? Buffer.from(`c${client}-b${i}`) : `c${client}-m${i}`;
}

function same(got, expected) {
  if (typeof expected === "string") return got === expected;
  return typeof got !== "string" && Buffer.compare(toBuffer(got), expected) === 0;
}

/** Opens an engine.io-client, sends MESSAGES messages in 4 bursts, resolves with what came back. */
async function runClient(index, opts) {
  const socket = await eioOpen(server, opts, 15000);
  const got = [];
  socket.on("message", (data) => got.push(data));
  let closedReason = null;
  socket.on("close", (reason) => (closedReason = reason));
  for (let i = 0; i < MESSAGES; i++) {
    socket.send(payload(index, i));
    if (i % 5 === 4) await sleep(10 + (index % 7) * 3);
  }
  await until(() => got.length >= MESSAGES || closedReason, { timeoutMs: 20000, message: `client ${index} echoes` });
  assert.equal(closedReason, null, `client ${index} closed: ${closedReason}`);
  return { socket, got };
}

function checkEchoes(index, got) {
  assert.equal(got.length, MESSAGES, `client ${index}: ${got.length} echoes`);
  for (let i = 0; i < MESSAGES; i++) {
    assert.ok(same(got[i], payload(index, i)), `client ${index} echo ${i}: ${got[i]}`);
  }
}

describe("4 threads", () => {
  test("100 polling-only engine.io-clients × 20 messages: each echo once, in order", { timeout: 30000 }, async () => {
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => runClient(i, { transports: ["polling"] })));
    await sleep(300); // late duplicates would show up here
    const sids = new Set();
    results.forEach(({ socket, got }, i) => {
      checkEchoes(i, got);
      assert.equal(socket.transport.name, "polling");
      sids.add(socket.id);
    });
    assert.equal(sids.size, 100);
    for (const { socket } of results) socket.close();
    assert.ok(Date.now() - t0 < 25000, `took ${Date.now() - t0} ms`);
  });

  test("mixed: 60 polling-only, 60 websocket-only, 20 upgrading clients at once", { timeout: 30000 }, async () => {
    const kinds = [
      ...Array.from({ length: 60 }, () => ({ transports: ["polling"] })),
      ...Array.from({ length: 60 }, () => ({ transports: ["websocket"] })),
      ...Array.from({ length: 20 }, () => ({})),
    ];
    const results = await Promise.all(kinds.map((opts, i) => runClient(1000 + i, opts)));
    await sleep(300);
    results.forEach(({ socket, got }, i) => {
      checkEchoes(1000 + i, got);
      if (i >= 60 && i < 120) assert.equal(socket.transport.name, "websocket");
      if (i < 60) assert.equal(socket.transport.name, "polling");
    });
    for (const { socket } of results) socket.close();
  });

  test("50 raw polling sessions, every request on a new TCP connection: echoes once, in order", { timeout: 30000 }, async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => rawEngine({ port: server.port, base: "/engine.io/", transport: "polling" })));
    for (const c of clients) {
      assert.equal(c.open.pingInterval, PING_INTERVAL, "--ping-interval is honoured");
      assert.equal(c.open.pingTimeout, PING_TIMEOUT, "--ping-timeout is honoured");
    }
    clients.forEach((c, i) => {
      for (let m = 0; m < MESSAGES; m++) c.send(payload(2000 + i, m));
    });
    await Promise.all(
      clients.map(async (c, i) => {
        const got = [];
        for (let m = 0; m < MESSAGES; m++) got.push(await c.next(15000));
        checkEchoes(2000 + i, got);
      }),
    );
    await sleep(300);
    for (const c of clients) {
      assert.equal(c.messages.size, 0, "no duplicate");
      assert.equal(c.isClosed, false);
    }
    await Promise.all(clients.map((c) => c.close()));
  });
});
