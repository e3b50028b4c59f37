// The Redis adapter across processes: a real redis-server (throw-away, on a free port), two
// `socketio-server` nodes started with --redis, socket.io-client on each. A chat message sent on
// node A reaches the room's clients on both nodes exactly once, and @socket.io/redis-emitter 5.1
// (what a Node back-end would use to push into the cluster) reaches clients on both nodes. Redis
// killed mid-test: local delivery goes on, the nodes count what they could not publish, reconnect
// and re-subscribe, and cross-node delivery resumes. Then every request type between two C++
// nodes (lib/redis_ops_suite.mjs). Fails when redis-server is missing. With SIO_TARGET=reference
// the nodes are the Node reference (the outage test excepted).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Emitter } from "@socket.io/redis-emitter";
import { startServer, closeAll, until, sleep, toBuffer, IS_REFERENCE } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";
import { startRedis, redisClient, serverCount } from "./lib/redis.mjs";
import { opsSuite } from "./lib/redis_ops_suite.mjs";

const T = { timeout: 30000 };

const ack = (socket, event, ...args) => socket.timeout(5000).emitWithAck(event, ...args);

async function chatter(server, room) {
  const s = await sioConnect(server, "/", {}, 10000);
  s.received = [];
  s.on("chat message", (m) => s.received.push(m));
  assert.deepEqual(await ack(s, "join", room), { ok: true });
  return s;
}

describe("redis adapter", () => {
  let url, nodeA, nodeB, redis, redisServer;

  before(async () => {
    redisServer = await startRedis();
    url = redisServer.url;
    [nodeA, nodeB] = await Promise.all([
      startServer({ kind: "chat", args: ["--redis", url] }),
      startServer({ kind: "chat", args: ["--redis", url] }),
    ]);
    redis = await redisClient(url);
    // Both nodes subscribed: each listens on the main namespace's request channel.
    await until(async () => (await serverCount(redis)) >= 2, {
      timeoutMs: 10000,
      message: "both nodes subscribed",
    });
  });
  after(closeAll);

  test("a chat message on node A reaches the room on both nodes exactly once", T, async () => {
    const a = await chatter(nodeA, "r1");
    const b = await chatter(nodeB, "r1");
    const outsider = await chatter(nodeB, "other");
    assert.deepEqual(await ack(a, "chat message", "r1", "hello"), { ok: true });
    await until(() => a.received.length >= 1 && b.received.length >= 1, { message: "both received" });
    await sleep(300);
    assert.deepEqual(a.received, [{ room: "r1", text: "hello" }]);
    assert.deepEqual(b.received, [{ room: "r1", text: "hello" }]);
    assert.deepEqual(outsider.received, []);
  });

  // What a node accepts from a client reaches the other nodes: two 700 KB attachments make a
  // 1.4 MB Redis message, past the adapter's built-in 1 MiB bound, which the binary raises to what
  // --max-attachments and --max-http-buffer-size let a client send (before, node B dropped it).
  test("a chat message with attachments of 1.4 MB in all reaches the other node", T, async () => {
    const a = await sioConnect(nodeA, "/", { transports: ["websocket"] }, 10000);
    assert.deepEqual(await ack(a, "join", "big"), { ok: true });
    const b = await chatter(nodeB, "big");
    const parts = [Buffer.alloc(700 * 1024, 1), Buffer.alloc(700 * 1024, 2)];
    assert.deepEqual(await ack(a, "chat message", "big", { parts }), { ok: true });
    await until(() => b.received.length >= 1, { timeoutMs: 10000, message: "node B's client got the message" });
    const got = b.received[0].text.parts.map((p) => Buffer.from(p));
    assert.deepEqual(got.map((p) => p.length), [700 * 1024, 700 * 1024]);
    assert.ok(got[0].every((x) => x === 1) && got[1].every((x) => x === 2), "the bytes arrived intact");
  });

  test("members spans both nodes, and no handshake crosses Redis for it", T, async () => {
    const secret = `hush-${process.pid}-${Date.now()}`;
    const a = await chatter(nodeA, "crew");
    const b = await sioConnect(nodeB, "/", { transports: ["websocket"], extraHeaders: { cookie: `session=${secret}` }, auth: { token: secret } }, 10000);
    assert.deepEqual(await ack(b, "join", "crew"), { ok: true });
    // Everything published on the adapter's channels while node A asks.
    const spy = redis.duplicate();
    spy.on("error", () => {});
    await spy.connect();
    const seen = [];
    await spy.pSubscribe("socket.io*", (message) => seen.push(message), true);
    try {
      const r = await ack(a, "members", "crew");
      assert.equal(r.ok, true);
      assert.deepEqual(r.members.map((m) => m.id).sort(), [a.id, b.id].sort());
      await sleep(200);
      const traffic = Buffer.concat(seen);
      assert.ok(traffic.includes(Buffer.from(b.id)), "node B's answer went through Redis");
      assert.ok(!traffic.includes(Buffer.from(secret)), "node B's answer carries no cookie or auth");
      assert.ok(!traffic.includes(Buffer.from("session=")), "nor its headers");
    } finally {
      await spy.disconnect().catch(() => {});
    }
  });

  test("@socket.io/redis-emitter reaches clients on both nodes", T, async () => {
    const a = await chatter(nodeA, "r2");
    const b = await chatter(nodeB, "r2");
    const bins = [];
    b.on("bin", (x) => bins.push(toBuffer(x)));
    const emitter = new Emitter(redis);
    emitter.to("r2").emit("chat message", { room: "r2", text: "from emitter" });
    emitter.emit("bin", Buffer.from([1, 2, 3]));
    await until(() => a.received.length >= 1 && b.received.length >= 1 && bins.length >= 1, {
      message: "emitter messages received",
    });
    await sleep(300);
    assert.deepEqual(a.received, [{ room: "r2", text: "from emitter" }]);
    assert.deepEqual(b.received, [{ room: "r2", text: "from emitter" }]);
    assert.deepEqual(bins, [Buffer.from([1, 2, 3])]);
  });

  test("the listening line comes once the subscriptions are confirmed", T, async () => {
    const node = await startServer({ kind: "chat", args: ["--redis", url, "--redis-key", "ready"] });
    // Asked right away, without polling: the node is already subscribed.
    assert.equal(await serverCount(redis, "ready"), 1);
    assert.equal(Number((await redis.sendCommand(["PUBSUB", "NUMSUB", "ready-response#/#"]))[1]), 1);
    // Distinct patterns: socket.io#/#* (nodes A and B) and ready#/#*.
    assert.equal(await redis.sendCommand(["PUBSUB", "NUMPAT"]), 2);
    await node.stop();
  });

  // Not for the reference: node-redis queues commands while offline, so its broadcasts arrive late
  // instead of being dropped and counted.
  const outage = { timeout: 60000, skip: IS_REFERENCE && "the reference queues publishes while Redis is down" };
  test("Redis killed mid-test: local delivery goes on; after a restart the nodes re-subscribe and cross-node delivery resumes", outage, async () => {
    const a1 = await chatter(nodeA, "outage");
    const a2 = await chatter(nodeA, "outage");
    const b = await chatter(nodeB, "outage");
    await redisServer.stop();
    assert.deepEqual(await ack(a1, "chat message", "outage", "during"), { ok: true });
    await until(() => a1.received.length >= 1 && a2.received.length >= 1, { message: "local delivery during the outage" });
    await sleep(500);
    assert.deepEqual(a2.received, [{ room: "outage", text: "during" }]);
    assert.deepEqual(b.received, []); // nowhere to publish it: lost for node B, not delayed

    await redisServer.start();
    const fresh = await redisClient(url);
    // Reconnect backoff is at most 5 s; both nodes subscribe again by themselves.
    await until(async () => (await serverCount(fresh)) >= 2, { timeoutMs: 20000, message: "both nodes re-subscribed" });
    assert.deepEqual(await ack(a1, "chat message", "outage", "after"), { ok: true });
    await until(() => b.received.length >= 1, { message: "A -> B after the restart" });
    assert.deepEqual(await ack(b, "chat message", "outage", "back"), { ok: true });
    await until(() => b.received.length >= 2 && a2.received.length >= 3, { message: "cross-node delivery after the restart" });
    await sleep(300);
    assert.deepEqual(b.received, [
      { room: "outage", text: "after" },
      { room: "outage", text: "back" },
    ]);
    assert.deepEqual(a2.received.slice(1), b.received);
    await until(() => /could not be published while Redis was unreachable/.test(nodeA.stderr()), {
      message: "node A reports the messages it could not publish",
    });
  });
});

opsSuite("two C++ nodes: requests both ways", { key: "cpp2", mode: "classic", kinds: ["cluster", "cluster"] });
