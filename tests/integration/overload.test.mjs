// Overload is honest (issue 15): when receivers cannot keep up with a publisher, the publisher is
// slowed (the server stops reading it: --hold-senders, eio/flow.hpp) before any receiver is
// dropped, and nothing that was accepted is lost. Receivers here are raw WebSockets that read at
// a fraction of the publisher's pace; the publisher writes a burst far larger than the outbox
// high-water mark and every kernel buffer on the way. With --hold-senders=false the same run
// drops the receivers (the slow-client policy): the contrast shows the hold is what saves them.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, closeAll, sleep, until, request, IS_REFERENCE } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";
import { frame, OP, rawWebSocket } from "./lib/wsraw.mjs";

const stoppers = [];
after(async () => {
  for (const stop of stoppers) stop();
  await closeAll();
});

const SKIP = IS_REFERENCE ? "the Node reference buffers without bound (no publisher backpressure)" : false;
const KiB = 1024;

function start(extra = []) {
  return startServer({
    kind: "chat",
    // A slow-client timeout that a receiver reading ~1 MB/s outlives while its publisher is held:
    // the kernel reports a socket writable again only once a third of its (MB-sized) send buffer
    // is free, so even a held publisher's receivers stay over the mark for a second or so.
    args: ["--log-level", "warn", "--metrics", "--outbox-high-water", String(64 * KiB), "--slow-client-timeout", "5000", ...extra],
  });
}

async function metric(srv, name, labels = "") {
  const res = await request({ port: srv.port, path: "/metrics" });
  const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : "(\\{[^}]*\\})?"} (\\d+)`, "gm");
  let total = 0;
  for (const m of res.body.toString().matchAll(re)) total += Number(m[m.length - 1]);
  return total;
}

// A raw Socket.IO client in `room` that reads only every `tickMs` (one read of at most 64 KiB,
// then paused: ~1 MB/s at most), answers pings, and records the sequence numbers of the chat
// messages it gets.
async function slowReceiver(srv, room, { tickMs = 50 } = {}) {
  const ws = await rawWebSocket({ port: srv.port, path: "/socket.io/?EIO=4&transport=websocket" });
  const text = async () => (await ws.next(10000)).payload.toString();
  assert.equal((await text())[0], "0");
  ws.send(frame(OP.text, "40"));
  while (!(await text()).startsWith("40"));
  ws.send(frame(OP.text, `420["join",${JSON.stringify(room)}]`));
  while (!(await text()).startsWith("430"));
  const r = { ws, seen: [], closed: false };
  ws.closed.then(() => (r.closed = true));
  (async () => {
    for (;;) {
      let f;
      try {
        f = await ws.next(600000);
      } catch {
        return;
      }
      const t = f.payload.toString();
      if (t === "2") ws.send(frame(OP.text, "3"));
      const m = /^42\["chat message",\{"room":"[^"]*","text":"(\d+):/.exec(t);
      if (m) r.seen.push(Number(m[1]));
    }
  })();
  // Throttled reading: paused, then resumed for one turn every tick.
  ws.pause();
  r.timer = setInterval(() => {
    // Paused again from within the read's own callback: libuv stops its read loop there, so a
    // tick is one read of at most 64 KiB (pausing a turn later would let it read megabytes).
    ws.socket.once("data", () => ws.pause());
    ws.resume();
  }, tickMs);
  r.stop = () => clearInterval(r.timer);
  stoppers.push(r.stop);
  return r;
}

// A raw publisher: writes `n` chat messages of `size` bytes to `room` at once (as fast as the
// socket takes them: Node buffers what the kernel does not), answering pings meanwhile.
async function burstPublisher(srv, room, n, size) {
  const ws = await rawWebSocket({ port: srv.port, path: "/socket.io/?EIO=4&transport=websocket" });
  const text = async () => (await ws.next(10000)).payload.toString();
  assert.equal((await text())[0], "0");
  ws.send(frame(OP.text, "40"));
  while (!(await text()).startsWith("40"));
  (async () => {
    for (;;) {
      try {
        if ((await ws.next(600000)).payload.toString() === "2") ws.send(frame(OP.text, "3"));
      } catch {
        return;
      }
    }
  })();
  const filler = "x".repeat(size);
  for (let i = 0; i < n; i++) ws.send(frame(OP.text, `42["chat message",${JSON.stringify(room)},"${i}:${filler}"]`));
  return ws;
}

function assertAllInOrder(receivers, n) {
  for (const [k, r] of receivers.entries()) {
    const firstWrong = r.seen.findIndex((v, i) => v !== i);
    assert.ok(r.seen.length === n && firstWrong === -1,
      `receiver ${k}: ${r.seen.length} of ${n} messages, first out of place at ${firstWrong}`);
  }
}

describe("overload: the publisher is held before any receiver is dropped", { skip: SKIP }, () => {
  for (const threads of [1, 2]) {
    test(`receivers slower than a WebSocket publisher (--threads ${threads}): none dropped, nothing lost`, { timeout: 90000 }, async () => {
      const srv = await start(["--threads", String(threads)]);
      const n = 2000;
      const size = 4 * KiB; // 8 MB per receiver: far over the mark and the kernel's buffers
      const receivers = [];
      for (let i = 0; i < 4; i++) receivers.push(await slowReceiver(srv, "slow"));
      // A well-behaved pair chatting elsewhere on the same node keeps going meanwhile.
      const a = await sioConnect(srv, "/", { transports: ["websocket"] });
      await a.timeout(5000).emitWithAck("join", "calm");
      const t0 = Date.now();
      await burstPublisher(srv, "slow", n, size);
      let calmWorst = 0;
      while (receivers.some((r) => r.seen.length < n && !r.closed) && Date.now() - t0 < 60000) {
        const sent = Date.now();
        await a.timeout(5000).emitWithAck("chat message", "calm", "hello");
        calmWorst = Math.max(calmWorst, Date.now() - sent);
        await sleep(100);
      }
      const secs = (Date.now() - t0) / 1000;
      const held = await metric(srv, "socketio_senders_held_total");
      const dropped = await metric(srv, "socketio_slow_client_disconnects_total");
      console.log(`threads ${threads}: ${n} x ${size} B to ${receivers.length} slow receivers in ${secs.toFixed(1)} s; publisher held ${held} times; receivers dropped ${dropped}; calm chat worst ack ${calmWorst} ms`);
      for (const r of receivers) r.stop();
      assert.equal(dropped, 0, "no receiver was dropped by the slow-client policy");
      assert.ok(receivers.every((r) => !r.closed), "every receiver is still connected");
      assertAllInOrder(receivers, n);
      assert.ok(held > 0, "the publisher was held (socketio_senders_held_total)");
      assert.ok(calmWorst < 3000, `the calm chat kept answering (worst ack ${calmWorst} ms)`);
      await srv.stop();
    });
  }

  test("a polling publisher: its POSTs are answered as its receivers drain", { timeout: 90000 }, async () => {
    const srv = await start(["--threads", "1"]);
    const n = 800;
    const receivers = [];
    for (let i = 0; i < 3; i++) receivers.push(await slowReceiver(srv, "slow"));
    const pub = await sioConnect(srv, "/", { transports: ["polling"] });
    const filler = "x".repeat(8 * KiB);
    for (let i = 0; i < n; i++) pub.emit("chat message", "slow", `${i}:${filler}`);
    await until(() => receivers.every((r) => r.seen.length >= n || r.closed), { timeoutMs: 60000, intervalMs: 100, message: "every receiver got every message" });
    const held = await metric(srv, "socketio_senders_held_total");
    const dropped = await metric(srv, "socketio_slow_client_disconnects_total");
    console.log(`polling publisher: ${n} x 8 KiB; held ${held} times; receivers dropped ${dropped}`);
    for (const r of receivers) r.stop();
    assert.equal(dropped, 0, "no receiver was dropped");
    assertAllInOrder(receivers, n);
    assert.ok(held > 0, "the publisher was held");
    assert.ok(pub.connected, "the publisher is still connected");
    await srv.stop();
  });

  test("a receiver that reads nothing holds its publisher at most --hold-senders-timeout, then is dropped", { timeout: 90000 }, async () => {
    const srv = await start(["--threads", "1", "--hold-senders-timeout", "500"]);
    const deaf = await slowReceiver(srv, "slow");
    deaf.stop(); // never reads again
    deaf.ws.pause();
    const pub = await sioConnect(srv, "/", { transports: ["websocket"] });
    const filler = "x".repeat(64 * KiB);
    let worst = 0;
    let sent = 0;
    const t0 = Date.now();
    // (A paused socket does not see its close: the server's counter tells when it was let go.)
    const dropped = () => metric(srv, "socketio_slow_client_disconnects_total", 'limit="slow_client_timeout"');
    while (Date.now() - t0 < 20000 && (sent % 10 !== 0 || (await dropped()) === 0)) {
      const at = Date.now();
      await pub.timeout(10000).emitWithAck("chat message", "slow", `${sent}:${filler}`);
      worst = Math.max(worst, Date.now() - at);
      sent += 1;
      await sleep(5);
    }
    const held = await metric(srv, "socketio_senders_held_total");
    console.log(`deaf receiver: dropped (${await dropped()}, hard limit ${await metric(srv, "socketio_slow_client_disconnects_total", 'limit="hard_limit"')}) after ${Date.now() - t0} ms; ${sent} x 64 KiB sent; publisher held ${held} times, worst ack ${worst} ms`);
    const n = await dropped();
    assert.ok(n >= 1, `the receiver that reads nothing was let go by the slow-client timeout (${n})`);
    assert.ok(held >= 1, "the publisher was held first");
    assert.ok(worst < 500 + 1500, `the publisher was held at most about --hold-senders-timeout (worst ack ${worst} ms)`);
    await srv.stop();
  });

  test("the contrast: with --hold-senders=false the same receivers are dropped", { timeout: 90000 }, async () => {
    const srv = await start(["--threads", "1", "--hold-senders=false"]);
    const receivers = [];
    for (let i = 0; i < 4; i++) receivers.push(await slowReceiver(srv, "slow"));
    await burstPublisher(srv, "slow", 4000, 4 * KiB); // 16 MB: over the mark far longer than 5 s
    await until(async () => (await metric(srv, "socketio_slow_client_disconnects_total")) > 0, {
      timeoutMs: 30000,
      intervalMs: 200,
      message: "receivers dropped by the slow-client policy",
    });
    assert.equal(await metric(srv, "socketio_senders_held_total"), 0, "nobody held");
    for (const r of receivers) r.stop();
    await srv.stop();
  });
});
