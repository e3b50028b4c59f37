// Connection state recovery across nodes with --redis-mode streams, with the real socket.io-client
// 4.8 (reconnecting to the other node, as a client behind a balancer would) on one real
// redis-server:
//  - beyond the reference: the client's node is SIGKILLed (it says nothing to anyone), the client
//    reconnects to another node and recovers: same id, its rooms and data, every message sent to
//    it meanwhile once and in order (and nothing else), then live messages. Its session was in
//    Redis before the node died: saved when it changed (not per message), expiring on its own.
//    To a C++ node and to a Node node (socket.io 4.8 + @socket.io/redis-streams-adapter 0.3.1).
//  - the reference's own mechanism (the session saved at a lost connection), across a C++ <-> Node
//    pair both ways;
//  - after the window, a fresh session; a client that leaves on purpose has its session deleted.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { decode } from "@msgpack/msgpack";
import { closeAll, until, sleep, track } from "./lib/harness.mjs";
import { startRedis, startNode, redisClient, serverCount, ack } from "./lib/redis.mjs";

const T = { timeout: 60000 };
const RECOVERY = ["--redis-mode", "streams", "--connection-state-recovery"];

/** A socket.io-client that records every event in order and reconnects only when told. */
async function client(node) {
  const s = io(node.url, { path: "/socket.io/", forceNew: true, transports: ["websocket"], reconnection: false });
  track(s, () => {
    s.disconnect();
    s.io.engine?.close();
  });
  s.seen = [];
  s.onAny((event, ...args) => s.seen.push([event, ...args]));
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
  return s;
}

/** Reconnects to `node` (the pid and offset the client kept go in its CONNECT); resolves on "connect". */
function reconnectTo(s, node) {
  s.io.uri = node.url;
  return new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
    s.connect();
  });
}

/** Cuts the client's WebSocket under it, as a network failure would; resolves on "disconnect". */
function cutTransport(s) {
  const gone = new Promise((resolve) => s.once("disconnect", resolve));
  s.io.engine.transport.ws._socket.destroy();
  return gone;
}

/** The session saved in Redis for the client (its pid is what it presents when it reconnects). */
async function savedSession(r, s) {
  const value = await r.get(`sio:session:${s._pid}`);
  return value ? decode(Buffer.from(value, "base64")) : null;
}

const emitTo = (driver, spec, ...args) => ack(driver, "cluster:emit", spec, ...args);
// What the application saw, without the offset every recoverable event carries last (and without
// the chat's "presence" updates, which the rooms get too when a member leaves).
const events = (list) => list.filter(([event]) => event !== "presence").map(([event, ...args]) => [event, ...args.slice(0, -1)]);

describe("recovery across nodes (streams)", () => {
  let redis, r;

  before(async () => {
    redis = await startRedis({ major: 5 });
    r = await redisClient(redis.url);
  });
  after(closeAll);

  async function nodes(kinds, key, extra = []) {
    const started = await Promise.all(
      kinds.map((kind, i) =>
        startNode(kind, redis.url, [...RECOVERY, "--redis-key", key, "--name", `${kind}${i}`, ...extra]),
      ),
    );
    await until(async () => (await serverCount(r, key, "streams")) >= kinds.length, {
      timeoutMs: 10000,
      message: "every node subscribed",
    });
    return started;
  }

  /**
   * A member of rooms r1 and r2 with data {name}, on `from`, holding an offset; the node SIGKILLed
   * or its transport cut; messages sent meanwhile from `to`; back on `to`: recovered, in order.
   */
  async function recoversAcross(from, to, how) {
    const c = await client(from);
    const id = c.id;
    assert.deepEqual(await ack(c, "join", "r1"), { ok: true });
    assert.deepEqual(await ack(c, "join", "r2"), { ok: true });
    assert.deepEqual(await ack(c, "nick", "kim"), { ok: true });
    const driver = await client(to);
    // A first packet gives the client an offset (without one there is nothing to recover from).
    await emitTo(driver, { rooms: ["r1"] }, "news", 0);
    await until(() => c.seen.some((e) => e[0] === "news"), { message: "first news" });

    if (how === "kill") {
      // Its session is in Redis already, with its rooms and data.
      await until(async () => (await savedSession(r, c))?.data?.name === "kim", { message: "session saved" });
      const saved = await savedSession(r, c);
      assert.equal(saved.sid, id);
      assert.deepEqual([...saved.rooms].sort(), [id, "r1", "r2"].sort());
      const gone = new Promise((resolve) => c.once("disconnect", resolve));
      from.proc.kill("SIGKILL");
      await gone;
    } else {
      await cutTransport(c);
      await sleep(300); // the node saw the connection go and saved the session
    }
    const mark = c.seen.length;
    for (let i = 1; i <= 3; i++) await emitTo(driver, { rooms: ["r1"] }, "news", i);
    await emitTo(driver, { rooms: ["elsewhere"] }, "other", "not for c");
    await emitTo(driver, { rooms: ["r2"], except: ["r1"] }, "other", "c is excepted");
    await emitTo(driver, {}, "all", "everyone");
    await emitTo(driver, { rooms: ["r2"] }, "news", 4);

    await reconnectTo(c, to);
    assert.equal(c.recovered, true);
    assert.equal(c.id, id);
    // Missed packets come before "connect" is emitted: all here, each once, in order.
    assert.deepEqual(events(c.seen.slice(mark)), [
      ["news", 1],
      ["news", 2],
      ["news", 3],
      ["all", "everyone"],
      ["news", 4],
    ]);
    const offsets = c.seen.slice(mark).filter((e) => e[0] !== "presence").map((e) => e[e.length - 1]);
    assert.ok(offsets.every((o) => /^\d+-\d+$/.test(o)), "stream entry ids as offsets");
    const state = await ack(c, "cluster:state");
    assert.equal(state.node, to.name);
    assert.equal(state.id, id);
    assert.equal(state.recovered, true);
    assert.deepEqual(state.rooms, [id, "r1", "r2"].sort());
    assert.deepEqual(state.data, { name: "kim" });
    // Live again, still in its rooms; nothing arrives twice.
    await emitTo(driver, { rooms: ["r2"] }, "news", 5);
    await until(() => c.seen.some((e) => e[0] === "news" && e[1] === 5), { message: "live news" });
    await sleep(300);
    assert.deepEqual(events(c.seen.slice(mark)).filter((e) => e[0] === "news").map((e) => e[1]), [1, 2, 3, 4, 5]);
    c.disconnect();
    driver.disconnect();
  }

  test("a client whose C++ node is SIGKILLed recovers on another C++ node", T, async () => {
    const [a, b] = await nodes(["cluster", "cluster"], "k1");
    Object.assign(a, { name: "cluster0" });
    Object.assign(b, { name: "cluster1" });
    await recoversAcross(a, b, "kill");
  });

  test("a client whose C++ node is SIGKILLed recovers on a Node node", T, async () => {
    const [a, b] = await nodes(["cluster", "node"], "k2");
    Object.assign(a, { name: "cluster0" });
    Object.assign(b, { name: "node1" });
    await recoversAcross(a, b, "kill");
  });

  test("the reference's mechanism, Node -> C++: the Node node saves the session when the connection is lost", T, async () => {
    const [a, b] = await nodes(["node", "cluster"], "k3");
    Object.assign(a, { name: "node0" });
    Object.assign(b, { name: "cluster1" });
    await recoversAcross(a, b, "cut");
  });

  test("the reference's mechanism, C++ -> Node", T, async () => {
    const [a, b] = await nodes(["cluster", "node"], "k4");
    Object.assign(a, { name: "cluster0" });
    Object.assign(b, { name: "node1" });
    await recoversAcross(a, b, "cut");
  });

  test("messages keep coming while the client recovers: none lost, none twice, in order (this node's and another's)", T, async () => {
    // c on A; two drivers send to its room without pause, one from B (where c comes back: its own
    // entries reach c when their XADD is answered) and one from a third node (read from the stream).
    const [a, b, third] = await nodes(["cluster", "cluster", "cluster"], "k7");
    const c = await client(a);
    await ack(c, "join", "r1");
    const fromB = await client(b);
    const fromThird = await client(third);
    let running = true;
    const pump = async (d, tag) => {
      let i = 0;
      while (running) {
        d.emit("cluster:emit", { rooms: ["r1"] }, tag, i++);
        await sleep(3);
      }
      return i;
    };
    const pumps = [pump(fromB, "b"), pump(fromThird, "t")];
    await until(() => c.seen.some((e) => e[0] === "b") && c.seen.some((e) => e[0] === "t"), { message: "both flowing" });
    await until(async () => (await savedSession(r, c))?.rooms?.includes("r1"), { message: "session saved" });
    const gone = new Promise((resolve) => c.once("disconnect", resolve));
    a.proc.kill("SIGKILL");
    await gone;
    await sleep(200);
    await reconnectTo(c, b);
    assert.equal(c.recovered, true);
    await sleep(300);
    running = false;
    const [nb, nt] = await Promise.all(pumps);
    await until(() => c.seen.some((e) => e[0] === "b" && e[1] === nb - 1) && c.seen.some((e) => e[0] === "t" && e[1] === nt - 1), {
      timeoutMs: 15000,
      message: "the last of both",
    });
    await sleep(300);
    for (const [tag, n] of [
      ["b", nb],
      ["t", nt],
    ]) {
      const got = c.seen.filter((e) => e[0] === tag).map((e) => e[1]);
      // From the first it got to the last sent: every one, once, in order.
      const expected = Array.from({ length: n - got[0] }, (_, i) => got[0] + i);
      assert.deepEqual(got, expected, `${tag}: ${got.length} received of ${n}`);
    }
    c.disconnect();
    fromB.disconnect();
    fromThird.disconnect();
  });

  test("the session is saved when rooms or data change, not per message, and deleted on a deliberate disconnect", T, async () => {
    const [a, b] = await nodes(["cluster", "cluster"], "k5");
    const c = await client(a);
    await ack(c, "join", "r1");
    await until(async () => (await savedSession(r, c))?.rooms?.includes("r1"), { message: "join saved" });
    assert.ok((await r.pTTL(`sio:session:${c._pid}`)) > 0, "it expires on its own");
    await ack(c, "join", "r2");
    await until(async () => (await savedSession(r, c))?.rooms?.includes("r2"), { message: "second join saved" });
    await ack(c, "leave", "r2");
    await until(async () => !(await savedSession(r, c)).rooms.includes("r2"), { message: "leave saved" });
    await ack(c, "nick", "lee");
    await until(async () => (await savedSession(r, c))?.data?.name === "lee", { message: "data saved" });

    // Messages to it write nothing.
    const sets = async () => Number(/cmdstat_set:calls=(\d+)/.exec(await r.sendCommand(["INFO", "commandstats"]))?.[1] ?? 0);
    const before = await sets();
    const driver = await client(b);
    for (let i = 0; i < 50; i++) await emitTo(driver, { rooms: ["r1"] }, "news", i);
    await until(() => c.seen.filter((e) => e[0] === "news").length === 50, { message: "50 messages" });
    // The driver's own session was saved once when it connected; c's not at all.
    assert.ok((await sets()) - before <= 1, `SETs during 50 messages: ${(await sets()) - before}`);

    c.disconnect(); // "client namespace disconnect": not recoverable
    await until(async () => (await r.exists(`sio:session:${c._pid}`)) === 0, { message: "session deleted" });
    await reconnectTo(c, b);
    assert.ok(!c.recovered);
    driver.disconnect();
    c.disconnect();
  });

  test("after --max-disconnection-duration the client of a killed node gets a fresh session", T, async () => {
    const [a, b] = await nodes(["cluster", "cluster"], "k6", ["--max-disconnection-duration", "1500"]);
    const c = await client(a);
    const id = c.id;
    await ack(c, "join", "r1");
    const driver = await client(b);
    await emitTo(driver, { rooms: ["r1"] }, "news", 0);
    await until(() => c.seen.some((e) => e[0] === "news"), { message: "first news" });
    await until(async () => (await savedSession(r, c))?.rooms?.includes("r1"), { message: "session saved" });
    const gone = new Promise((resolve) => c.once("disconnect", resolve));
    a.proc.kill("SIGKILL");
    await gone;
    // While connected a session lives window + max(window / 2, 1 s) past its last refresh: 2.5 s here.
    await until(async () => (await r.exists(`sio:session:${c._pid}`)) === 0, { timeoutMs: 4000, message: "expired" });
    await reconnectTo(c, b);
    assert.ok(!c.recovered);
    assert.notEqual(c.id, id);
    assert.deepEqual((await ack(c, "cluster:state")).rooms, [c.id]);
    driver.disconnect();
    c.disconnect();
  });
});
