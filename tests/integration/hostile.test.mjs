// Hostile, slow and careless clients against the real `socketio-server` binary (C++ only): raw
// sockets that flood pings without reading, stop reading a room flood, never read a close, stall
// TLS handshakes half-way, stop reading a long polling response, or send invalid UTF-8. Each
// probe asserts what the server may hold (RSS, from /proc) and when it lets the peer go (its
// open sockets, from /proc), while two well-behaved socket.io-clients on the same node keep
// chatting (the README's chat contract: `join`, `chat message`) and must not notice.
//
// Short bounds via flags keep the file fast: --close-timeout 2000 (default 30000),
// --tls-handshake-timeout 2000 (default 10000), --ping-interval/--ping-timeout 1000, and the
// outbox bound of each test. The limits and their defaults: docs/reliability.md.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import https from "node:https";
import { Duplex } from "node:stream";
import { startServer, closeAll, sleep, until, request, IS_REFERENCE, track, MEASURE_RSS_ENV } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";
import { rssBytes, socketCount } from "./lib/procstat.mjs";
import { frame, OP, rawWebSocket, closeFrameOf } from "./lib/wsraw.mjs";
import { pollingPath, pollingHandshake, decodePayload } from "./lib/raw.mjs";

after(closeAll);

const SKIP = IS_REFERENCE ? "the Node reference has none of these bounds (see issue 10)" : false;
const MB = 1024 * 1024;
const CLOSE_TIMEOUT = 2000;

function start(extra = []) {
  return startServer({
    kind: "chat",
    args: ["--threads", "1", "--log-level", "warn", "--close-timeout", String(CLOSE_TIMEOUT), ...extra],
    env: MEASURE_RSS_ENV,
  });
}

// Two socket.io-clients chatting in their own room every 100 ms while a probe runs; stop()
// asserts that every message arrived, in order, none later than maxLatency ms.
// (Both over WebSocket: one connection each, so the server's socket count is exact.)
async function chatters(srv, { maxLatency = 3000, tls: secure = false } = {}) {
  const opts = { transports: ["websocket"], ...(secure ? { rejectUnauthorized: false } : {}) };
  const a = await sioConnect(srv, "/", opts);
  const b = await sioConnect(srv, "/", opts);
  for (const s of [a, b]) assert.deepEqual(await s.timeout(5000).emitWithAck("join", "calm"), { ok: true });
  const got = [];
  b.on("chat message", (m) => got.push({ n: m.text.n, at: Date.now(), sent: m.text.at }));
  let n = 0;
  let running = true;
  // A failed assertion skips stop(): the loop must still end, or the test process never exits.
  track(b, () => (running = false));
  const loop = (async () => {
    while (running) {
      a.emit("chat message", "calm", { n: n++, at: Date.now() });
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await until(() => got.length === n, { timeoutMs: 10000, message: `all ${n} chat messages delivered (${got.length})` });
      got.forEach((m, i) => assert.equal(m.n, i, "chat messages in order"));
      const worst = Math.max(...got.map((m) => m.at - m.sent));
      assert.ok(worst <= maxLatency, `chat latency stayed under ${maxLatency} ms during the probe (worst ${worst} ms)`);
      assert.ok(a.connected && b.connected, "the chatters are still connected");
      return { sent: n, worst };
    },
  };
}

// Samples the server's RSS every 100 ms until stopped; returns the peak.
function rssSampler(pid) {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // process gone: the assertion after says so
    }
  }, 100);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

// A raw Socket.IO client over a raw WebSocket: CONNECT to "/", then `join` room (ack awaited).
async function rawSioJoin(srv, room, { secure = false } = {}) {
  const ws = await rawWebSocket({ port: srv.port, path: "/socket.io/?EIO=4&transport=websocket", tls: secure });
  const open = await ws.next();
  assert.equal(open.payload.toString()[0], "0");
  ws.send(frame(OP.text, "40"));
  for (;;) {
    const f = await ws.next();
    if (f.payload.toString().startsWith("40")) break;
  }
  ws.send(frame(OP.text, `420["join",${JSON.stringify(room)}]`));
  for (;;) {
    const f = await ws.next();
    const t = f.payload.toString();
    if (t.startsWith("2")) ws.send(frame(OP.text, "3"));
    if (t.startsWith("430")) break;
  }
  return ws;
}

// Emits `chat message` to room for `seconds`, or `count` times, in bursts of 10.
async function flood(client, room, { seconds = Infinity, count = Infinity, size }) {
  const text = "x".repeat(size);
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  while (Date.now() < end && sent < count) {
    for (let i = 0; i < 10; i++) client.emit("chat message", room, text);
    sent += 10;
    await sleep(5);
  }
  return sent;
}

describe("hostile clients", { skip: SKIP }, () => {
  test("a WebSocket client flooding pings without reading: memory bounded, connection let go", { timeout: 90000 }, async () => {
    const srv = await start(["--ping-interval", "1000", "--ping-timeout", "1000"]);
    const pid = srv.proc.pid;
    const calm = await chatters(srv);
    const baseSockets = socketCount(pid);
    const rss0 = rssBytes(pid);
    const peakOf = rssSampler(pid);

    const ws = await rawWebSocket({ port: srv.port, path: "/socket.io/?EIO=4&transport=websocket" });
    ws.pause(); // never reads again
    const ping = frame(OP.ping, Buffer.alloc(125, 0x61));
    const pings = Buffer.concat(Array.from({ length: 256 }, () => ping));
    const floodEnd = Date.now() + 8000;
    let written = 0;
    // As fast as the socket takes them; once the server stops reading, the writes back up here.
    while (Date.now() < floodEnd && !ws.socket.destroyed) {
      if (ws.socket.write(pings)) {
        written += pings.length;
        await new Promise((r) => setImmediate(r));
      } else {
        await new Promise((r) => {
          const done = () => {
            clearTimeout(timer);
            ws.socket.off("drain", done);
            r();
          };
          const timer = setTimeout(done, 200);
          ws.socket.once("drain", done);
        });
      }
    }
    const peak = peakOf();
    console.log(`ping flood: ${(written / MB).toFixed(1)} MB of pings written, RSS ${(rss0 / MB).toFixed(1)} -> peak ${(peak / MB).toFixed(1)} MB`);
    assert.ok(written > 1 * MB, "the client did flood");
    assert.ok(peak - rss0 < 32 * MB, `RSS grew by ${((peak - rss0) / MB).toFixed(1)} MB (bound 32 MB)`);
    // Released: heartbeat timeout (1 + 1 s: the client never answers), then the close that the
    // client does not read times out (2 s), all while the flood runs.
    await until(() => socketCount(pid) <= baseSockets, {
      timeoutMs: 10000,
      message: `the flooding connection released (sockets ${socketCount(pid)}, baseline ${baseSockets})`,
    });
    await calm.stop();
    await srv.stop();
  });

  test("50 WebSocket clients in a flooded room stop reading: memory bounded, every socket released", { timeout: 90000 }, async () => {
    const srv = await start(["--outbox-high-water", "262144", "--slow-client-timeout", "1000"]);
    const pid = srv.proc.pid;
    const calm = await chatters(srv);
    const baseSockets = socketCount(pid);
    const rss0 = rssBytes(pid);
    const slow = [];
    for (let i = 0; i < 50; i++) slow.push(await rawSioJoin(srv, "flood"));
    for (const ws of slow) ws.pause();
    assert.equal(socketCount(pid), baseSockets + 50);
    const peakOf = rssSampler(pid);
    const flooder = await sioConnect(srv, "/", { transports: ["websocket"] });
    const started = Date.now();
    const sent = await flood(flooder, "flood", { seconds: 6, size: 16384 });
    const floodEnd = Date.now();
    // Slow-client policy: over the outbox high water for 1 s -> destroyed at once (no closing
    // handshake for a peer that does not read). Allow the close timeout on top, and slack.
    await until(() => socketCount(pid) <= baseSockets + 1, {
      timeoutMs: 1000 + CLOSE_TIMEOUT + 5000,
      message: `the 50 slow readers released (sockets ${socketCount(pid)}, baseline ${baseSockets} + flooder)`,
    });
    const releasedAfter = Date.now() - floodEnd;
    const peak = peakOf();
    const stats = await calm.stop();
    console.log(`slow readers: ${sent} x 16 KiB to 50 receivers in ${floodEnd - started} ms; RSS ${(rss0 / MB).toFixed(1)} -> peak ${(peak / MB).toFixed(1)} MB; all released ${releasedAfter} ms after the flood; chat worst latency ${stats.worst} ms`);
    assert.ok(peak - rss0 < 96 * MB, `RSS grew by ${((peak - rss0) / MB).toFixed(1)} MB (bound 96 MB)`);
    assert.match(srv.stderr(), /slow client .* disconnected/, "the policy logs when it trips");
    await srv.stop();
  });

  test("a close the peer never reads: the socket is destroyed within the close timeout", { timeout: 60000 }, async () => {
    // The client stops reading, a room flood fills the kernel buffers (below the outbox bound,
    // so the slow-client policy stays out of it), then the heartbeat times out and the server
    // closes: its close frame waits behind data the client never reads.
    const srv = await start(["--ping-interval", "1000", "--ping-timeout", "1000", "--outbox-high-water", String(64 * MB), "--slow-client-timeout", "600000"]);
    const pid = srv.proc.pid;
    const calm = await chatters(srv);
    const baseSockets = socketCount(pid);
    const ws = await rawSioJoin(srv, "deaf");
    ws.pause();
    const flooder = await sioConnect(srv, "/", { transports: ["websocket"] });
    await flood(flooder, "deaf", { count: 160, size: 65536 }); // 10 MB: more than the kernel buffers hold
    const t0 = Date.now();
    // heartbeat: at most 1 s to the next ping + 1 s for the pong; then the close timeout
    await until(() => socketCount(pid) <= baseSockets + 1, {
      timeoutMs: 2000 + CLOSE_TIMEOUT + 4000,
      message: "the deaf client's socket released",
    });
    console.log(`deaf peer released ${Date.now() - t0} ms after the flood`);
    assert.doesNotMatch(srv.stderr(), /disconnected/, "released by the close timeout, not the slow-client policy");
    await calm.stop();
    await srv.stop();
  });

  test("TLS handshakes stalled half-way are released within --tls-handshake-timeout", { timeout: 60000 }, async () => {
    const srv = await start(["--tls-self-signed", "localhost", "--tls-handshake-timeout", "2000"]);
    const pid = srv.proc.pid;
    const calm = await chatters(srv, { tls: true });
    const baseSockets = socketCount(pid);
    const hello = await clientHello();
    const stalled = [];
    const connect = () =>
      new Promise((resolve, reject) => {
        const s = net.connect({ port: srv.port, host: "127.0.0.1" }, () => resolve(s));
        s.on("error", () => {});
        s.once("error", reject);
        track(s, () => s.destroy());
      });
    for (let i = 0; i < 10; i++) {
      const nothing = await connect(); // connects, sends nothing
      const half = await connect(); // half a ClientHello, then silence
      half.write(hello.subarray(0, hello.length >> 1));
      const deaf = await connect(); // a whole ClientHello, then never reads the answer
      deaf.pause();
      deaf.write(hello);
      const slowloris = await connect(); // a byte every 500 ms: never done
      let k = 0;
      const drip = setInterval(() => k < hello.length && !slowloris.destroyed && slowloris.write(hello.subarray(k, ++k)), 500);
      slowloris.once("close", () => clearInterval(drip));
      track(drip, () => clearInterval(drip));
      stalled.push(nothing, half, deaf, slowloris);
    }
    await until(() => socketCount(pid) >= baseSockets + 40, { message: "40 stalled connections accepted" });
    const t0 = Date.now();
    await until(() => socketCount(pid) <= baseSockets, {
      timeoutMs: 2000 + 4000,
      message: `stalled handshakes released (sockets ${socketCount(pid)}, baseline ${baseSockets})`,
    });
    console.log(`40 stalled TLS handshakes released ${Date.now() - t0} ms after they started`);
    await calm.stop();
    await srv.stop();
  });

  test("a TLS handshake flood from one address cannot shut other clients out (--max-tls-handshakes)", { timeout: 60000 }, async () => {
    const SLOTS = 20;
    const srv = await start(["--tls-self-signed", "localhost", "--tls-handshake-timeout", "30000", "--max-tls-handshakes", String(SLOTS), "--metrics"]);
    const pid = srv.proc.pid;
    const baseSockets = socketCount(pid);
    const hello = await clientHello();
    // Twice the slots from 127.0.0.2, each half a ClientHello then silence: a handshake in
    // progress until --tls-handshake-timeout. The first SLOTS take every slot; the rest are the
    // flooder's own surplus and are closed at once.
    const flood = await Promise.all(Array.from({ length: 2 * SLOTS }, () =>
      new Promise((resolve, reject) => {
        const s = net.connect({ port: srv.port, host: "127.0.0.1", localAddress: "127.0.0.2" }, () => {
          s.write(hello.subarray(0, hello.length >> 1));
          resolve(s);
        });
        s.on("error", () => {});
        s.once("error", reject);
        track(s, () => s.destroy());
      })));
    await until(() => flood.filter((s) => s.destroyed || s.readableEnded).length >= SLOTS, {
      timeoutMs: 10000,
      message: "the flooder's handshakes over the slots closed at once",
    });
    assert.ok(socketCount(pid) >= baseSockets + SLOTS, "the flooder holds every slot");
    // Another address still gets through, again and again (each takes the flooder's oldest slot).
    const get = () => new Promise((resolve, reject) => {
      const req = https.get({ host: "127.0.0.1", port: srv.port, path: "/socket.io/?EIO=4&transport=polling", rejectUnauthorized: false, agent: false, timeout: 10000 }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
    });
    for (let i = 0; i < 5; i++) assert.equal(await get(), 200, `well-behaved TLS request ${i}`);
    const calm = await chatters(srv, { tls: true });
    await sleep(500);
    await calm.stop();
    const closed = flood.filter((s) => s.destroyed || s.readableEnded).length;
    // The first newcomer took one of the flooder's slots; the ones after it reuse that slot once
    // their predecessor's handshake is done (the flooder never gets it back while it is full).
    assert.ok(closed > SLOTS, `the flooder lost a slot to the newcomers (${closed} of ${flood.length} closed)`);
    await until(() => /limits: 20 TLS handshakes in progress on this thread \(--max-tls-handshakes\)/.test(srv.stderr()), {
      timeoutMs: 5000,
      message: "the limit's log line",
    });
    // Each refused or displaced handshake is counted.
    const metrics = await new Promise((resolve, reject) => {
      https.get({ host: "127.0.0.1", port: srv.port, path: "/metrics", rejectUnauthorized: false, agent: false }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(body));
      }).on("error", reject);
    });
    const overLimit = Number(/^socketio_tls_handshake_failures_total\{cause="over_limit"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(overLimit >= SLOTS + 1, `over_limit counter ${overLimit}: the ${SLOTS} refused and at least one displaced`);
    for (const s of flood) s.destroy();
    await srv.stop();
  });

  test("a polling client that stops reading a long response: released within the close timeout", { timeout: 60000 }, async () => {
    const srv = await start(["--outbox-high-water", String(256 * MB), "--slow-client-timeout", "600000"]);
    const pid = srv.proc.pid;
    const calm = await chatters(srv);
    const baseSockets = socketCount(pid);
    const rss0 = rssBytes(pid);
    const { sid } = await pollingHandshake(srv.port, "/socket.io/");
    const path = pollingPath("/socket.io/", { sid });
    assert.equal((await request({ port: srv.port, method: "POST", path, body: "40" })).text, "ok");
    assert.equal((await request({ port: srv.port, method: "POST", path, body: '420["join","long"]' })).text, "ok");
    const first = decodePayload((await request({ port: srv.port, path })).text);
    assert.ok(first.some((p) => p.startsWith("40")), "connected");
    const flooder = await sioConnect(srv, "/", { transports: ["websocket"] });
    await flood(flooder, "long", { count: 320, size: 65536 }); // 20 MB queued for the poller
    // The GET that takes it all, on a socket that never reads the answer.
    const get = net.connect({ port: srv.port, host: "127.0.0.1" });
    track(get, () => get.destroy());
    get.on("error", () => {});
    await new Promise((r) => get.once("connect", r));
    get.pause();
    get.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await until(() => socketCount(pid) === baseSockets + 2, { message: "the GET connection accepted" });
    await sleep(500);
    assert.ok(!get.destroyed, "the GET is still being answered");
    const t0 = Date.now();
    await until(() => socketCount(pid) <= baseSockets + 1, {
      timeoutMs: CLOSE_TIMEOUT + 6000,
      message: `the stalled poll released (sockets ${socketCount(pid)}, baseline ${baseSockets} + flooder)`,
    });
    const released = Date.now() - t0;
    await until(() => rssBytes(pid) - rss0 < 64 * MB, { timeoutMs: 5000, message: "the response's memory given back" });
    console.log(`stalled poll released after ${released} ms`);
    assert.doesNotMatch(srv.stderr(), /disconnected/, "released by the write bound, not the slow-client policy");
    await calm.stop();
    await srv.stop();
  });

  // Idle HTTP connections are closed: one whose first request never arrives whole
  // (--headers-timeout), one idle after a request (--keep-alive-timeout), and one idle after its
  // long poll was answered: that one's read was made while the poll was held, without a deadline,
  // and before session 13 it was never closed.
  test("idle HTTP connections are closed within --headers-timeout / --keep-alive-timeout, also after a long poll", { timeout: 60000 }, async () => {
    const HEADERS = 1000;
    const KEEP_ALIVE = 1500;
    const srv = await start(["--headers-timeout", String(HEADERS), "--keep-alive-timeout", String(KEEP_ALIVE), "--ping-interval", "60000", "--ping-timeout", "60000", "--metrics"]);
    const pid = srv.proc.pid;
    const calm = await chatters(srv);
    const baseSockets = socketCount(pid);
    const open = async () => {
      const s = net.connect({ port: srv.port, host: "127.0.0.1" });
      track(s, () => s.destroy());
      s.on("error", () => {});
      let text = "";
      s.on("data", (d) => (text += d.toString("latin1")));
      const closed = new Promise((r) => s.once("close", () => r(Date.now())));
      await new Promise((r) => s.once("connect", r));
      return { s, closed, text: () => text };
    };
    // Half a request head, then nothing.
    const half = await open();
    half.s.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0");
    const halfAt = Date.now();
    // A whole request answered, then idle.
    const idle = await open();
    idle.s.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await until(() => / 200 /.test(idle.text()), { message: "the request answered" });
    const idleAt = Date.now();
    // A long poll held, answered (the CONNECT's answer), then idle.
    const { sid } = await pollingHandshake(srv.port, "/socket.io/");
    const path = pollingPath("/socket.io/", { sid });
    const poll = await open();
    poll.s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await sleep(300);
    assert.equal(poll.text(), "", "the poll is held");
    assert.equal((await request({ port: srv.port, method: "POST", path, body: "40" })).text, "ok");
    await until(() => poll.text().includes("40{"), { message: "the held poll answered with the CONNECT" });
    const pollAt = Date.now();
    const [halfEnd, idleEnd, pollEnd] = await Promise.all([half.closed, idle.closed, poll.closed].map((p) =>
      Promise.race([p, sleep(KEEP_ALIVE + 8000).then(() => Infinity)])));
    const within = (end, from, limit, what) => {
      assert.ok(end !== Infinity, `${what}: still open ${KEEP_ALIVE + 8000} ms later`);
      const after = end - from;
      assert.ok(after >= limit - 100 && after <= limit + 2000, `${what}: closed after ${after} ms (limit ${limit})`);
      return after;
    };
    const times = [
      within(halfEnd, halfAt, HEADERS, "half a head"),
      within(idleEnd, idleAt, KEEP_ALIVE, "idle after a request"),
      within(pollEnd, pollAt, KEEP_ALIVE, "idle after a long poll"),
    ];
    console.log(`closed after ${times.join(" / ")} ms`);
    await until(() => socketCount(pid) <= baseSockets, { message: "the server holds none of them" });
    const metrics = (await request({ port: srv.port, path: "/metrics" })).text;
    assert.match(metrics, /^socketio_http_idle_closes_total\{timeout="headers"\} 1$/m);
    // Two here, and the harness's own keep-alive connections (handshake, POST) if they idled too.
    const keepAlive = Number(/^socketio_http_idle_closes_total\{timeout="keep_alive"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(keepAlive >= 2, `keep-alive closes counted: ${keepAlive}`);
    assert.match(srv.stderr(), /limits: no whole request within --headers-timeout 1000 ms: closed 1 connection\(s\), last from 127\.0\.0\.1/);
    await calm.stop();
    await srv.stop();
  });

  test("invalid UTF-8 in a text frame closes with 1007, also split across fragments", { timeout: 30000 }, async () => {
    const srv = await start();
    const calm = await chatters(srv);
    const cases = [
      [frame(OP.text, Buffer.from([0x34, 0xff]))],
      [frame(OP.text, Buffer.from([0x34, 0xed, 0xa0, 0x80]))], // a surrogate
      [frame(OP.text, Buffer.from([0x34, 0xe2, 0x82]), { fin: false }), frame(OP.cont, Buffer.from([0x28]))], // split, bad
      [frame(OP.text, Buffer.from([0x34, 0xe2]), { fin: false }), frame(OP.cont, Buffer.from([0x82]))], // truncated at the end
    ];
    for (const frames of cases) {
      const ws = await rawWebSocket({ port: srv.port, path: "/socket.io/?EIO=4&transport=websocket" });
      await ws.next(); // open
      for (const f of frames) ws.send(f);
      const close = await closeFrameOf(ws);
      assert.equal(close?.code, 1007, `close code for ${frames.map((f) => f.toString("hex")).join(" ")}`);
      await ws.closed;
    }
    // A valid code point split across fragments is fine: "3€" (a pong nobody asked for: ignored).
    const ok = await rawWebSocket({ port: srv.port, path: "/socket.io/?EIO=4&transport=websocket" });
    await ok.next();
    ok.send(frame(OP.text, Buffer.from([0x33, 0xe2, 0x82]), { fin: false }));
    ok.send(frame(OP.cont, Buffer.from([0xac])));
    ok.send(frame(OP.ping, "still there"));
    const pong = await ok.next();
    assert.equal(pong.opcode, OP.pong);
    assert.equal(pong.payload.toString(), "still there");
    await calm.stop();
    await srv.stop();
  });
});

// The bytes of a real ClientHello (Node's TLS client writing into a stream that goes nowhere).
function clientHello() {
  return new Promise((resolve) => {
    const chunks = [];
    const sink = new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        chunks.push(chunk);
        resolve(Buffer.concat(chunks));
        cb();
      },
    });
    const c = tls.connect({ socket: sink, servername: "localhost", rejectUnauthorized: false });
    c.on("error", () => {});
    setTimeout(() => c.destroy(), 100);
  });
}
