// --redis-mode streams: a Redis stream (XADD/XREAD) plus pub/sub for requests, wire-compatible with
// @socket.io/redis-streams-adapter 0.3.1, on one real redis-server (>= 5, else the tests fail):
//  - two socketio-server nodes: chat across nodes exactly once (binary too), the stream's entries as
//    the reference writes them, hostile entries dropped and counted, maxLen trimming, Redis
//    restarted mid-test;
//  - socketio-server + a Node node (socket.io 4.8 + the streams adapter,
//    tests/reference/chat-server.mjs --redis-mode streams): chat both ways in one stream;
//  - every cluster request both ways (lib/redis_ops_suite.mjs): two socketio-cluster-node, then
//    socketio-cluster-node + a Node node.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { decode } from "@msgpack/msgpack";
import { closeAll, until, sleep, toBuffer, request } from "./lib/harness.mjs";
import { startRedis, startNode, redisClient, serverCount, member, ack } from "./lib/redis.mjs";
import { opsSuite } from "./lib/redis_ops_suite.mjs";

const T = { timeout: 60000 };
const settle = () => sleep(300); // duplicates, if any, would arrive within this
const STREAMS = ["--redis-mode", "streams"];

/** The stream's entries as {id, fields: {uid, nsp, type, data}} (node-redis 4 gives them so). */
const entries = async (r, key = "socket.io") =>
  (await r.xRange(key, "-", "+")).map((e) => ({ id: e.id, fields: e.message }));

/** A counter of socketio-server's /metrics. */
async function metric(node, name) {
  const port = Number(new URL(node.url).port);
  const res = await request({ port, path: "/metrics" });
  const line = res.text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : NaN;
}

async function chatExactlyOnce(a, b) {
  const ca = await member(a, ["s1"]);
  const cb = await member(b, ["s1"]);
  const out = await member(a, ["s2"]);
  assert.deepEqual(await ack(ca, "chat message", "s1", "from a"), { ok: true });
  assert.deepEqual(await ack(cb, "chat message", "s1", Buffer.from([4, 2])), { ok: true });
  await until(() => ca.got("chat message").length >= 2 && cb.got("chat message").length >= 2, {
    message: "both messages on both nodes",
  });
  await settle();
  for (const s of [ca, cb]) {
    const msgs = s.got("chat message");
    assert.equal(msgs.length, 2);
    assert.deepEqual(msgs.find((m) => typeof m.text === "string"), { room: "s1", text: "from a" });
    assert.deepEqual(toBuffer(msgs.find((m) => typeof m.text !== "string").text), Buffer.from([4, 2]));
  }
  assert.deepEqual(out.got("chat message"), []);
  for (const s of [ca, cb, out]) s.disconnect();
}

describe("streams: two socketio-server nodes", () => {
  let redis, r, a, b;

  before(async () => {
    redis = await startRedis({ major: 5 });
    [a, b] = await Promise.all([
      startNode("server", redis.url, [...STREAMS, "--metrics"]),
      startNode("server", redis.url, [...STREAMS, "--metrics"]),
    ]);
    r = await redisClient(redis.url);
    await until(async () => (await serverCount(r, "socket.io", "streams")) >= 2, {
      timeoutMs: 10000,
      message: "both nodes subscribed",
    });
  });
  after(closeAll);

  test("chat messages cross both ways, to the room only, exactly once (binary too)", T, async () => {
    await chatExactlyOnce(a, b);
  });

  test("broadcasts are stream entries as the streams adapter writes them", T, async () => {
    const c = await member(a, ["e1"]);
    await ack(c, "chat message", "e1", "plain");
    await ack(c, "chat message", "e1", Buffer.from([1, 2, 3]));
    // The chat's "presence" broadcasts are entries too: only the two chat messages here.
    const data = (e) => (e.fields.data.startsWith("{") ? JSON.parse(e.fields.data) : decode(Buffer.from(e.fields.data, "base64")));
    // The ack comes when the node took the message; its XADD reaches Redis a moment later.
    const read = async () => (await entries(r))
      .filter((e) => e.fields.type === "3" && data(e).packet.data[0] === "chat message" && data(e).packet.data[1].room === "e1")
      .slice(-2);
    let mine = await read();
    for (const start = Date.now(); mine.length < 2 && Date.now() - start < 5000; mine = await read()) await sleep(50);
    assert.equal(mine.length, 2);
    for (const e of mine) {
      assert.deepEqual(Object.keys(e.fields), ["uid", "nsp", "type", "data"]);
      assert.match(e.fields.uid, /^[0-9a-f]{16}$/);
      assert.equal(e.fields.nsp, "/");
      assert.match(e.id, /^\d+-\d+$/);
    }
    // Without binary: JSON text of {packet, opts}.
    assert.deepEqual(JSON.parse(mine[0].fields.data), {
      packet: { type: 2, data: ["chat message", { room: "e1", text: "plain" }], nsp: "/" },
      opts: { rooms: ["e1"], except: [], flags: {} },
    });
    // With binary: base64 of its MessagePack, the binary as bin.
    const bin = decode(Buffer.from(mine[1].fields.data, "base64"));
    assert.deepEqual(bin.packet.data[0], "chat message");
    assert.deepEqual(Buffer.from(bin.packet.data[1].text), Buffer.from([1, 2, 3]));
    assert.deepEqual(bin.opts.rooms, ["e1"]);
    c.disconnect();
  });

  test("entries anyone can write are hostile input: dropped and counted, delivery goes on", T, async () => {
    const before = (await metric(a, "socketio_redis_dropped_total")) + (await metric(b, "socketio_redis_dropped_total"));
    const bad = [
      { uid: "x", nsp: "/", type: "3", data: "{not json" },
      { uid: "x", nsp: "/", type: "3", data: "not*base64" },
      { uid: "x", nsp: "/", type: "3", data: Buffer.from([0x91, 0xc1]).toString("base64") }, // 0xc1: never used
      { uid: "x", nsp: "/", type: "3", data: JSON.stringify({ packet: { data: JSON.parse("[".repeat(40) + "]".repeat(40)) } }) },
      { uid: "x", nsp: "/", type: "3", data: JSON.stringify({ packet: { data: ["big", "x".repeat(12 * 1024 * 1024)] }, opts: {} }) }, // past the binary's bound: (10 + 1) x 1 MB + 64 KiB
    ];
    for (const f of bad) await r.xAdd("socket.io", "*", f);
    // No nsp: not a message of the adapter, skipped as the reference does (not counted).
    await r.xAdd("socket.io", "*", { hello: "world" });
    await chatExactlyOnce(a, b);
    await until(
      async () =>
        (await metric(a, "socketio_redis_dropped_total")) + (await metric(b, "socketio_redis_dropped_total")) >=
        before + 2 * bad.length,
      { message: "every bad entry dropped by both nodes" },
    );
  });

  test("Redis killed and restarted: each node reads on, cross-node delivery resumes", T, async () => {
    await redis.stop();
    await sleep(300);
    await redis.start();
    const fresh = await redisClient(redis.url);
    await until(async () => (await serverCount(fresh, "socket.io", "streams")) >= 2, {
      timeoutMs: 15000,
      message: "both nodes subscribed again",
    });
    // The readers reconnect with a backoff: a message sent too early is lost for the other node,
    // as with pub/sub (nothing is queued while Redis is away). Send until one crosses.
    const ca = await member(a, ["back"]);
    const cb = await member(b, ["back"]);
    await until(
      async () => {
        await ack(ca, "chat message", "back", "ping");
        await sleep(100);
        return cb.got("chat message").length > 0;
      },
      { timeoutMs: 15000, intervalMs: 200, message: "delivery resumed" },
    );
    r = fresh;
    ca.disconnect();
    cb.disconnect();
  });
});

describe("streams: --redis-streams-max-len trims the stream", () => {
  test("about maxLen entries are kept (XADD MAXLEN ~)", T, async () => {
    const redis = await startRedis({ major: 5 });
    const node = await startNode("server", redis.url, [...STREAMS, "--redis-streams-max-len", "10"]);
    const r = await redisClient(redis.url);
    const c = await member(node, ["t"]);
    for (let i = 0; i < 400; i++) c.emit("chat message", "t", `m${i}`);
    await until(() => c.got("chat message").length === 400, { timeoutMs: 20000, message: "all 400 back" });
    const len = await r.xLen("socket.io");
    // "~" trims whole radix-tree nodes (100 entries each by default): between maxLen and ~maxLen + 100.
    assert.ok(len >= 10 && len <= 120, `XLEN ${len}`);
    await closeAll();
  });
});

describe("streams: socketio-server + Node (one stream)", () => {
  let redis, r, cpp, node;

  before(async () => {
    redis = await startRedis({ major: 5 });
    [cpp, node] = await Promise.all([
      startNode("server", redis.url, STREAMS),
      startNode("node", redis.url, [...STREAMS, "--name", "node"]),
    ]);
    r = await redisClient(redis.url);
    await until(async () => (await serverCount(r, "socket.io", "streams")) >= 2, {
      timeoutMs: 10000,
      message: "both nodes subscribed",
    });
  });
  after(closeAll);

  test("chat messages cross both ways exactly once (binary too), both nodes writing one stream", T, async () => {
    await chatExactlyOnce(cpp, node);
    const writers = new Set((await entries(r)).filter((e) => e.fields.type === "3").map((e) => e.fields.uid));
    assert.equal(writers.size, 2, "entries of both nodes in the stream");
  });

  test("members (fetchSockets from the C++ node, over pub/sub) lists the clients of both nodes", T, async () => {
    const c = await member(cpp, ["crew"]);
    const n = await member(node, ["crew"]);
    assert.deepEqual(await ack(n, "nick", "nodey"), { ok: true });
    const res = await ack(c, "members", "crew");
    assert.deepEqual(
      res.members,
      [
        { id: c.id, name: null },
        { id: n.id, name: "nodey" },
      ].sort((x, y) => (x.id < y.id ? -1 : 1)),
    );
  });
});

opsSuite("streams: two socketio-cluster-node (requests both ways)", {
  key: "st2",
  mode: "streams",
  kinds: ["cluster", "cluster"],
});
opsSuite("streams: socketio-cluster-node + Node (requests both ways)", { key: "stm", mode: "streams" });
