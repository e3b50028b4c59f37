// Fan-out under a burst (issue 15): one publisher sends N chat messages without waiting, to a room
// of many receivers; every receiver must get all N, in order, once each. The server gathers what
// one connection is sent during a run of the shard's handlers into one write, copying small
// bodies and referencing large ones, writes at once when the socket takes it and asynchronously
// when it does not: these tests cross each of those paths (small, large and very large bodies;
// websocket, polling and upgrading receivers; one and two threads; receivers that stop reading
// for a while, so that the server's writes are left half done; two publishers interleaved).
//
// Against the chat contract of socketio-server (app/chat.hpp): "chat message" (room, text) is
// relayed as {room, text} to every member of room, the sender included.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, closeAll, sleep, until } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";

const T = { timeout: 90000 };
after(closeAll);

// The text of message i of publisher p: "p:i:" then filler, the size cycling through bodies
// copied into the write (small), referenced by it (over 1 KiB) and, every `bigEvery`, large.
function text(p, i, { bigEvery = 0, big = 0 } = {}) {
  const size = bigEvery && i % bigEvery === bigEvery - 1 ? big : [16, 300, 1500, 5000][i % 4];
  return `${p}:${i}:` + "x".repeat(size);
}

/** A member of `room` that records, per publisher, the sequence numbers it receives. */
async function receiver(server, room, opts = {}) {
  const socket = await sioConnect(server, "/", opts, 20000);
  socket.seen = new Map();
  socket.total = 0;
  socket.bad = [];
  socket.on("chat message", (msg) => {
    const [p, i, rest] = [...msg.text.split(":", 2), msg.text.slice(msg.text.indexOf(":", msg.text.indexOf(":") + 1) + 1)];
    if (msg.room !== room) socket.bad.push(`room ${msg.room}`);
    if (!/^x*$/.test(rest)) socket.bad.push(`text of ${p}:${i} altered`);
    if (!socket.seen.has(p)) socket.seen.set(p, []);
    socket.seen.get(p).push(Number(i));
    socket.total += 1;
  });
  const res = await socket.timeout(10000).emitWithAck("join", room);
  assert.deepEqual(res, { ok: true });
  return socket;
}

/** Every receiver got exactly 0..n-1 from each publisher, in order. */
function assertAllInOrder(receivers, publishers, n) {
  for (const [k, r] of receivers.entries()) {
    assert.deepEqual(r.bad, [], `receiver ${k}`);
    for (const p of publishers) {
      const got = r.seen.get(String(p)) ?? [];
      if (got.length === n && got.every((v, i) => v === i)) continue;
      // A short description rather than two arrays of thousands of numbers.
      const firstWrong = got.findIndex((v, i) => v !== i);
      const dups = got.length - new Set(got).size;
      assert.fail(
        `receiver ${k} (${r.io.engine.transport.name}), publisher ${p}: ${got.length} of ${n} messages, ` +
          `${dups} duplicated, first out of place at index ${firstWrong} (${got[firstWrong]})`,
      );
    }
  }
}

function burst(publisher, room, p, n, shape) {
  for (let i = 0; i < n; i++) publisher.emit("chat message", room, text(p, i, shape));
}

async function allReceived(receivers, total, timeoutMs = 60000) {
  try {
    await until(() => receivers.every((r) => r.total >= total), { timeoutMs, intervalMs: 50, message: "all delivered" });
  } catch (e) {
    const short = receivers.filter((r) => r.total < total).map((r) => r.total);
    throw new Error(`${e.message}: ${short.length} receiver(s) short, e.g. ${short.slice(0, 10).join(", ")} of ${total}`);
  }
  await sleep(300); // a duplicate would arrive after the last expected message
}

describe("fan-out burst: all messages, in order, once", () => {
  test("one thread: 1 publisher, 150 receivers (websocket, polling, upgrading), 1500 messages", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--threads", "1"] });
    const room = "burst-1";
    const receivers = [];
    for (let k = 0; k < 100; k++) receivers.push(await receiver(server, room, { transports: ["websocket"] }));
    for (let k = 0; k < 25; k++) receivers.push(await receiver(server, room, { transports: ["polling"] }));
    // Default transports: polling, upgraded to websocket while the burst goes on.
    for (let k = 0; k < 25; k++) receivers.push(await receiver(server, room));
    const publisher = await receiver(server, room, { transports: ["websocket"] });
    const n = 1500;
    burst(publisher, room, 0, n, { bigEvery: 250, big: 60000 });
    await allReceived([...receivers, publisher], n);
    assertAllInOrder([...receivers, publisher], [0], n);
  });

  test("two threads: 1 publisher, 80 receivers, 2000 messages", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--threads", "2"] });
    const room = "burst-2";
    const receivers = [];
    for (let k = 0; k < 80; k++) receivers.push(await receiver(server, room, { transports: ["websocket"] }));
    const publisher = await receiver(server, room, { transports: ["websocket"] });
    const n = 2000;
    burst(publisher, room, 0, n);
    await allReceived([...receivers, publisher], n);
    assertAllInOrder([...receivers, publisher], [0], n);
  });

  test("two publishers interleaved, 60 receivers: each publisher's order kept", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--threads", "1"] });
    const room = "burst-3";
    const receivers = [];
    for (let k = 0; k < 60; k++) receivers.push(await receiver(server, room, { transports: ["websocket"] }));
    const a = await receiver(server, room, { transports: ["websocket"] });
    const b = await receiver(server, room, { transports: ["websocket"] });
    const n = 1000;
    for (let i = 0; i < n; i++) {
      a.emit("chat message", room, text(1, i));
      b.emit("chat message", room, text(2, i));
    }
    const all = [...receivers, a, b];
    await allReceived(all, 2 * n);
    assertAllInOrder(all, [1, 2], n);
  });

  test("receivers that stop reading: the server's writes are left half done, then finish in order", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--threads", "1"] });
    const room = "burst-4";
    const readers = [];
    for (let k = 0; k < 10; k++) readers.push(await receiver(server, room, { transports: ["websocket"] }));
    const stalled = [];
    for (let k = 0; k < 10; k++) stalled.push(await receiver(server, room, { transports: ["websocket"] }));
    // Stop reading the TCP socket under the client's WebSocket: the kernel buffers fill, and the
    // server's gathered writes to these receivers go out in part (the rest waits for the socket).
    for (const s of stalled) s.io.engine.transport.ws._socket.pause();
    const publisher = await receiver(server, room, { transports: ["websocket"] });
    const n = 400;
    // About 6 MB per receiver: well over what loopback buffers hold, under the outbox high-water
    // mark's slow-client timeout.
    burst(publisher, room, 0, n, { bigEvery: 4, big: 60000 });
    await until(() => readers.every((r) => r.total >= n), { timeoutMs: 60000, intervalMs: 50, message: "the readers got every message" });
    assert.ok(
      stalled.every((s) => s.total < n),
      `a stalled receiver got everything while not reading: ${stalled.map((s) => s.total).join(", ")}`,
    );
    await sleep(500);
    for (const s of stalled) s.io.engine.transport.ws._socket.resume();
    await allReceived([...readers, ...stalled, publisher], n);
    assertAllInOrder([...readers, ...stalled, publisher], [0], n);
  });
});
