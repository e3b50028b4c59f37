// The limits of the edge (issue 10, docs/reliability.md), against the real socketio-server binary:
// each limit tripped by a raw or real client, the exact error the offender sees, and a
// well-behaved client on the same node chatting meanwhile. Also the safe defaults: CORS (no
// credentials for any origin), X-Forwarded-For read from the right, the chat's `members` only
// for members, and no handshake (cookies) through Redis. C++ only: these are the server's own
// flags; the Node reference has none of them.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { createClient } from "redis";
import { startServer, request, openWebSocket, rawExchange, parseRawResponse, closeAll, until, sleep, track, IS_REFERENCE, MEASURE_RSS_ENV } from "./lib/harness.mjs";
import { rssBytes } from "./lib/procstat.mjs";
import { sioClient, sioConnect, waitFor } from "./lib/clients.mjs";
import { startRedis, startNode } from "./lib/redis.mjs";

after(closeAll);

const T = { timeout: 60000, skip: IS_REFERENCE ? "the limits are flags of the C++ binary" : false };
const ack = (socket, event, ...args) => socket.timeout(5000).emitWithAck(event, ...args);
const EVIL = "http://evil.example";
const handshakePath = "/socket.io/?EIO=4&transport=polling";

/** A chat client that joined `room` and answers to "chat message". */
async function chatter(server, room, opts = {}) {
  const s = await sioConnect(server, "/", { transports: ["websocket"], ...opts });
  assert.deepEqual(await ack(s, "join", room), { ok: true });
  return s;
}

/** A round trip through the room: the well-behaved client still chats. */
async function stillChats(a, b, room, text) {
  // b may still be receiving an earlier message of the room: wait for this one.
  const got = new Promise((resolve) => {
    const on = (m) => {
      if (m?.text !== text) return;
      b.off("chat message", on);
      resolve(m);
    };
    b.on("chat message", on);
  });
  assert.deepEqual(await ack(a, "chat message", room, text), { ok: true });
  assert.deepEqual(await Promise.race([got, sleep(5000).then(() => "nothing")]), { room, text });
}

describe("limits: safe defaults", () => {
  test("CORS: any origin gets * and never credentials; credentials only for a listed origin", T, async () => {
    const server = await startServer({ kind: "chat" });
    const res = await request({ port: server.port, path: handshakePath, headers: { Origin: EVIL, Cookie: "s=1" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers["access-control-allow-origin"], "*");
    assert.equal(res.headers["access-control-allow-credentials"], undefined);
    const pre = await request({
      port: server.port,
      method: "OPTIONS",
      path: handshakePath,
      headers: { Origin: EVIL, "Access-Control-Request-Method": "POST" },
    });
    assert.equal(pre.headers["access-control-allow-origin"], "*");
    assert.equal(pre.headers["access-control-allow-credentials"], undefined);

    const listed = await startServer({ kind: "chat", args: ["--cors-origin", "https://app.example", "--cors-credentials"] });
    const ok = await request({ port: listed.port, path: handshakePath, headers: { Origin: "https://app.example" } });
    assert.equal(ok.headers["access-control-allow-origin"], "https://app.example");
    assert.equal(ok.headers["access-control-allow-credentials"], "true");
    const evil = await request({ port: listed.port, path: handshakePath, headers: { Origin: EVIL } });
    assert.equal(evil.headers["access-control-allow-origin"], undefined);
    assert.equal(evil.headers["access-control-allow-credentials"], undefined);
  });

  test("--cors-credentials with * is refused at start-up (exit 2)", T, () => {
    const bin = path.join(process.env.SIO_BUILD_DIR ?? "", "bin", "socketio-server");
    for (const args of [["--cors-credentials"], ["--cors-credentials", "--cors-origin", "*"], ["--cors-credentials", "--cors-origin", "none"]]) {
      const r = spawnSync(bin, ["--port", "0", ...args], { encoding: "utf8", timeout: 10000 });
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^error: --cors-credentials: needs an explicit --cors-origin list/m);
    }
  });

  test("X-Forwarded-For is read from the right: a client cannot choose its address", T, async () => {
    const xff = "6.6.6.6, 203.0.113.7, 127.0.0.9";
    const cases = [
      [["--trust-proxy"], "127.0.0.9"], // the peer is the one proxy: the last entry is the client
      [["--trust-proxy=2"], "203.0.113.7"],
      [["--trust-proxy=loopback"], "203.0.113.7"], // 127.0.0.9 is a trusted proxy too
      [["--trust-proxy=10.0.0.0/8"], "127.0.0.1"], // the peer is not a trusted proxy: header ignored
    ];
    for (const [args, expected] of cases) {
      const server = await startServer({ kind: "chat", args });
      for (const transports of [["websocket"], ["polling"]]) {
        const s = await sioConnect(server, "/", { transports, extraHeaders: { "X-Forwarded-For": xff } });
        const me = await ack(s, "whoami");
        assert.equal(me.address, expected, `${args} over ${transports}`);
        s.disconnect();
      }
      await server.stop();
    }
  });

  test("chat: members answers only a member of the room", T, async () => {
    const server = await startServer({ kind: "chat" });
    const a = await chatter(server, "secret-room");
    const outsider = await sioConnect(server, "/", { transports: ["websocket"] });
    const r = await ack(outsider, "members", "secret-room");
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(typeof r.error, "string");
    assert.deepEqual(await ack(a, "members", "secret-room"), { ok: true, room: "secret-room", members: [{ id: a.id, name: null }] });
  });

  test("chat: only {id, name} travels between nodes, never a handshake (cookies)", T, async () => {
    const redis = await startRedis();
    const spy = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
    spy.on("error", () => {});
    await spy.connect();
    const seen = [];
    await spy.pSubscribe("*", (message) => seen.push(message), true);
    const [n1, n2] = await Promise.all([startNode("server", redis.url), startNode("server", redis.url)]);
    const a = await chatter(n1, "lobby", { extraHeaders: { Cookie: "session=hunter2-secret" }, auth: { token: "auth-secret" } });
    assert.deepEqual(await ack(a, "nick", "alice"), { ok: true });
    const b = await chatter(n2, "lobby");
    await until(async () => (await ack(b, "members", "lobby")).members?.length === 2, { message: "members across nodes" });
    const r = await ack(b, "members", "lobby");
    assert.deepEqual(r.members.find((m) => m.id === a.id), { id: a.id, name: "alice" });
    await sleep(200);
    assert.ok(seen.length > 0, "the spy saw the cluster traffic");
    const all = Buffer.concat(seen.map((m) => Buffer.from(m)));
    for (const secret of ["hunter2-secret", "auth-secret"]) {
      assert.equal(all.indexOf(secret), -1, `${secret} travelled through Redis`);
    }
    await spy.disconnect();
  });
});

// ---------------------------------------------------------------------------------------------
// Connection budget

/** Opens a raw TCP connection (from localAddress) and reports whether the server closed it. */
function rawConnection(port, localAddress = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1", localAddress }, () => {
      const conn = { sock, data: 0, closedByServer: false };
      conn.closed = new Promise((r) => sock.once("close", () => r(conn)));
      sock.on("data", (d) => (conn.data += d.length));
      sock.on("end", () => (conn.closedByServer = true));
      sock.on("error", (e) => {
        if (e.code === "ECONNRESET") conn.closedByServer = true;
      });
      track(sock, () => sock.destroy());
      resolve(conn);
    });
    sock.once("error", reject);
  });
}

/** Which of the connections the server closed within ms (unread: no byte came back). */
async function closedWithin(conns, ms) {
  await sleep(ms);
  return conns.filter((c) => c.closedByServer);
}

/** One polling handshake from localAddress with extra headers: {status, body}. */
function handshakeFrom(port, { localAddress = "127.0.0.1", headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, localAddress, path: handshakePath, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("limits: connections and handshakes", () => {
  test("HTTP heads: too many fields or too many bytes get 431 and a close; chat goes on", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--max-headers-count", "30"] });
    const a = await chatter(server, "heads");
    const b = await chatter(server, "heads");
    const head = (fields) =>
      `GET ${handshakePath} HTTP/1.1\r\nHost: x\r\n${fields.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
    const many = Array.from({ length: 40 }, (_, i) => [`X-H${i}`, "v"]);
    const r1 = parseRawResponse(await rawExchange({ port: server.port, data: head(many) }));
    assert.equal(r1.status, 431);
    assert.equal(r1.headers.connection, "close");
    const ok = parseRawResponse(await rawExchange({ port: server.port, data: head(many.slice(0, 20)), until: (buf) => buf.includes("\r\n\r\n") && buf.includes("}") }));
    assert.equal(ok.status, 200);
    const big = parseRawResponse(await rawExchange({ port: server.port, data: head([["Cookie", "c".repeat(20000)]]) }));
    assert.equal(big.status, 431);
    // Pipelined behind a held long poll, the head is checked when its turn comes (it used to pass).
    const hs = JSON.parse((await request({ port: server.port, path: handshakePath })).text.slice(1));
    const poll = `${handshakePath}&sid=${hs.sid}`;
    const both = rawExchange({ port: server.port, data: `GET ${poll} HTTP/1.1\r\nHost: x\r\n\r\n` + head(many), until: (buf) => buf.includes(" 431 ") });
    await sleep(300);
    assert.equal((await request({ port: server.port, method: "POST", path: poll, body: "40" })).text, "ok");
    const answers = (await both).toString();
    assert.match(answers, /^HTTP\/1\.1 200 /, "the poll answered first");
    assert.match(answers, /HTTP\/1\.1 431 /, "then the pipelined head refused");
    // An upgrade pipelined behind a held poll: refused with 400 after the poll's answer.
    const hs2 = JSON.parse((await request({ port: server.port, path: handshakePath })).text.slice(1));
    const poll2 = `${handshakePath}&sid=${hs2.sid}`;
    const upgrade =
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    const both2 = rawExchange({ port: server.port, data: `GET ${poll2} HTTP/1.1\r\nHost: x\r\n\r\n` + upgrade, until: (buf) => buf.includes(" 400 ") });
    await sleep(300);
    assert.equal((await request({ port: server.port, method: "POST", path: poll2, body: "40" })).text, "ok");
    const answers2 = (await both2).toString();
    assert.match(answers2, /^HTTP\/1\.1 200 /, "the poll answered first");
    assert.match(answers2, /HTTP\/1\.1 400 /, "then the pipelined upgrade refused");
    await stillChats(a, b, "heads", "unaffected");
    assert.match(server.stderr(), /limits: request head over 30 fields \(--max-header-size \/ --max-headers-count\): 431/);
  });

  test("a polling body over --max-http-buffer-size: 413, the session closed, counted and logged", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--metrics", "--max-http-buffer-size", "10000"] });
    const hs = JSON.parse((await request({ port: server.port, path: handshakePath })).text.slice(1));
    // The server may cut the connection while the body is still coming (as the reference may):
    // the answer is then a reset, and the counter and log line say what happened.
    const res = await request({ port: server.port, method: "POST", path: `${handshakePath}&sid=${hs.sid}`, body: "4" + "x".repeat(12000) }).catch(
      (e) => (e.code === "ECONNRESET" || e.code === "EPIPE" ? { status: 413, reset: true } : Promise.reject(e)),
    );
    assert.equal(res.status, 413);
    const metrics = (await request({ port: server.port, path: "/metrics" })).text;
    assert.match(metrics, /^socketio_limit_refusals_total\{limit="http_body"\} 1$/m);
    assert.match(server.stderr(), /limits: polling body over 10000 bytes \(--max-http-buffer-size\): 413 and the session closed, 1 time\(s\)/);
  });

  test("--max-connections: connections over it are closed at accept, unread; chat goes on", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--max-connections", "12"] });
    const a = await chatter(server, "busy");
    const b = await chatter(server, "busy");
    const flood = [];
    for (let i = 0; i < 30; i++) flood.push(await rawConnection(server.port));
    const closed = await closedWithin(flood, 1500);
    assert.equal(closed.length, 20, "12 connections: 2 chatters + 10 of the flood");
    assert.ok(closed.every((c) => c.data === 0), "nothing is answered to a refused connection");
    await stillChats(a, b, "busy", "still here");
    assert.match(server.stderr(), /limits: Too many connections \(--max-connections\): closed \d+ connection\(s\) at accept/);
    for (const c of flood) c.sock.destroy();
    // The places come back: a new client connects.
    const c = await until(() => sioConnect(server, "/", { transports: ["websocket"] }).catch(() => null), { message: "a new client after the flood" });
    c.disconnect();
  });

  test("--max-connections-per-address: one address is capped, others are not", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--max-connections-per-address", "5"] });
    const a = await chatter(server, "r1");
    const b = await chatter(server, "r1");
    const flood = [];
    for (let i = 0; i < 8; i++) flood.push(await rawConnection(server.port, "127.0.0.2"));
    const closed = await closedWithin(flood, 1500);
    assert.equal(closed.length, 3, "5 of 8 connections from 127.0.0.2 kept");
    assert.ok(closed.every((c) => c.data === 0));
    // 127.0.0.1 has its own budget: new clients still connect, the chat goes on.
    const c = await chatter(server, "r1");
    await stillChats(a, c, "r1", "other address");
    await stillChats(c, b, "r1", "and back");
    assert.match(server.stderr(), /limits: Too many connections from this address \(--max-connections-per-address\)/);
  });

  test("--max-sessions-per-address: counted per client address through --trust-proxy; 403 code 4", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--trust-proxy", "--max-sessions-per-address", "3"] });
    const a = await chatter(server, "r2");
    const b = await chatter(server, "r2");
    const from = (addr) => ({ headers: { "X-Forwarded-For": addr } });
    for (let i = 0; i < 3; i++) assert.equal((await handshakeFrom(server.port, from("198.51.100.1"))).status, 200);
    const refused = await handshakeFrom(server.port, from("198.51.100.1"));
    assert.equal(refused.status, 403);
    assert.deepEqual(JSON.parse(refused.body), { code: 4, message: "Too many sessions from this address" });
    // the client writes the left part of the header; the right part, added by the proxy, counts
    assert.equal((await handshakeFrom(server.port, from("198.51.100.2, 198.51.100.1"))).status, 403);
    assert.equal((await handshakeFrom(server.port, from("198.51.100.1, 198.51.100.2"))).status, 200);
    // a real client over that address sees the refusal as a connect_error
    const s = sioClient(server, "/", { transports: ["websocket"], extraHeaders: { "X-Forwarded-For": "198.51.100.1" } });
    const err = await waitFor(s, "connect_error");
    assert.ok(err[0] instanceof Error);
    await stillChats(a, b, "r2", "unaffected");
    assert.match(server.stderr(), /limits: Too many sessions from this address: refused \d+ handshake\(s\), last from 198\.51\.100\.1/);
  });

  test("--handshake-rate/--handshake-burst: a token bucket per address; 403 code 4 over it", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--handshake-rate", "2", "--handshake-burst", "4"] });
    const a = await chatter(server, "r3");
    const b = await chatter(server, "r3");
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await handshakeFrom(server.port, { localAddress: "127.0.0.3" })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 403, 403]);
    const refused = await handshakeFrom(server.port, { localAddress: "127.0.0.3" });
    assert.deepEqual(JSON.parse(refused.body), { code: 4, message: "Too many handshakes from this address" });
    // another address has its own bucket; the chat goes on
    assert.equal((await handshakeFrom(server.port, { localAddress: "127.0.0.4" })).status, 200);
    await stillChats(a, b, "r3", "unaffected");
    // the bucket refills at 2 per second
    await sleep(1100);
    assert.equal((await handshakeFrom(server.port, { localAddress: "127.0.0.3" })).status, 200);
    assert.match(server.stderr(), /limits: Too many handshakes from this address: refused \d+ handshake\(s\), last from 127\.0\.0\.3/);
  });
});

// ---------------------------------------------------------------------------------------------
// What one socket may make the server hold

describe("limits: rooms, acks, namespaces", () => {
  test("--max-rooms-per-socket: a join over it is refused with a clear error; leave makes room", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--max-rooms-per-socket", "3"] });
    const s = await sioConnect(server, "/", { transports: ["websocket"] });
    for (const r of ["a", "b", "c"]) assert.deepEqual(await ack(s, "join", r), { ok: true });
    assert.deepEqual(await ack(s, "join", "d"), { ok: false, error: "too many rooms: leave one first" });
    assert.deepEqual(await ack(s, "join", "a"), { ok: true }, "a room it is in already is fine");
    assert.deepEqual(await ack(s, "leave", "a"), { ok: true });
    assert.deepEqual(await ack(s, "join", "d"), { ok: true });
    const other = await chatter(server, "d");
    await stillChats(other, s, "d", "in d");
    assert.match(server.stderr(), /limits: socket \S+: join refused, already in 3 rooms \(--max-rooms-per-socket\)/);
  });

  test("--max-pending-client-acks: unanswered ack ids are bounded, the newest still answered", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--max-pending-client-acks", "100"], env: MEASURE_RSS_ENV });
    const other = await chatter(server, "acks");
    const peer = await chatter(server, "acks");
    const ws = await openWebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
    assert.match(await ws.next(), /^0\{/);
    ws.send("40");
    assert.match(await ws.next(), /^40\{"sid":/);
    const before = rssBytes(server.proc.pid);
    // An event nobody handles never gets its ack: 200 000 ids the server would keep forever.
    const N = 200000;
    for (let i = 1; i <= N; i++) {
      ws.send(`42${i}["no such event",${i}]`);
      if (i % 5000 === 0) await sleep(1);
    }
    ws.send(`42${N + 1}["echo","last"]`);
    assert.equal(await ws.next(20000), `43${N + 1}["last"]`);
    const grown = rssBytes(server.proc.pid) - before;
    assert.ok(grown < 4 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MB for ${N} unanswered acks`);
    await stillChats(other, peer, "acks", "unaffected");
    assert.match(server.stderr(), /limits: socket \S+: more than 100 acks pending \(--max-pending-client-acks\): forgot the oldest/);
  });

  test("--max-namespace-name-length: CONNECT_ERROR before any lookup", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--max-namespace-name-length", "64"] });
    const long = "/" + "n".repeat(100);
    const s = sioClient(server, long, { transports: ["websocket"] });
    const [err] = await waitFor(s, "connect_error");
    assert.equal(err.message, "Namespace name too long");
    const unknown = sioClient(server, "/" + "n".repeat(60), { transports: ["websocket"] });
    assert.equal((await waitFor(unknown, "connect_error"))[0].message, "Invalid namespace");
    const a = await chatter(server, "ns");
    const b = await chatter(server, "ns");
    await stillChats(a, b, "ns", "unaffected");
    assert.match(server.stderr(), /limits: CONNECT to a namespace name of 101 bytes refused \(--max-namespace-name-length 64\)/);
  });

  test("--max-dynamic-namespaces and --cleanup-empty-child-namespaces", T, async () => {
    const capped = await startServer({ kind: "features", args: ["--max-dynamic-namespaces", "2"] });
    const cleaned = await startServer({ kind: "features", args: ["--max-dynamic-namespaces", "2", "--cleanup-empty-child-namespaces"] });
    for (const server of [capped, cleaned]) {
      const a = await sioConnect(server, "/dyn-a");
      const b = await sioConnect(server, "/dyn-b");
      const c = sioClient(server, "/dyn-c");
      assert.equal((await waitFor(c, "connect_error"))[0].message, "Too many namespaces");
      // an existing one still takes sockets
      const b2 = await sioConnect(server, "/dyn-b");
      a.disconnect();
      await sleep(300);
      const again = sioClient(server, "/dyn-c");
      const outcome = await Promise.race([
        waitFor(again, "connect").then(() => "connected"),
        waitFor(again, "connect_error").then(([e]) => e.message),
      ]);
      if (server === capped) {
        assert.equal(outcome, "Too many namespaces", "without cleanup the empty /dyn-a stays");
      } else {
        assert.equal(outcome, "connected", "with cleanup the empty /dyn-a is gone");
        // and /dyn-a can come back (a new namespace of the same name)
        b.disconnect();
        b2.disconnect();
        await sleep(300);
        const back = await sioConnect(server, "/dyn-a");
        back.disconnect();
      }
    }
    assert.match(capped.stderr(), /limits: 2 dynamic namespaces exist \(--max-dynamic-namespaces\): CONNECT refused/);
  });
});
