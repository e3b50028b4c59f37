// --redis-mode sharded: Redis 7 sharded pub/sub (SPUBLISH/SSUBSCRIBE), wire-compatible with
// @socket.io/redis-adapter's createShardedAdapter (socket.io-adapter ClusterAdapter messages,
// subscriptionMode "dynamic": a channel per public room). A C++ node and a Node.js node on one
// real redis-server (>= 7, else the tests fail): chat both ways, the per-room channels coming and going,
// and every request type both ways (the shared suite of lib/redis_ops_suite.mjs).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeAll, until, sleep, toBuffer } from "./lib/harness.mjs";
import { startRedis, startNode, redisClient, serverCount, member, ack } from "./lib/redis.mjs";
import { opsSuite } from "./lib/redis_ops_suite.mjs";

const T = { timeout: 40000 };

describe("sharded: socketio-server + Node", () => {
  let redis, r, cpp, node;

  before(async () => {
    redis = await startRedis({ major: 7 });
    [cpp, node] = await Promise.all([
      startNode("server", redis.url, ["--redis-mode", "sharded"]),
      startNode("node", redis.url, ["--redis-mode", "sharded", "--name", "node"]),
    ]);
    r = await redisClient(redis.url);
    await until(async () => (await serverCount(r, "socket.io", "sharded")) >= 2, {
      timeoutMs: 10000,
      message: "both nodes subscribed",
    });
  });
  after(closeAll);

  const shardChannels = async () => (await r.sendCommand(["PUBSUB", "SHARDCHANNELS", "socket.io#/#*"])).sort();

  test("a room gets its own sharded channel while this node has members in it", T, async () => {
    const c = await member(cpp, ["lobby-cpp"]);
    await until(async () => (await shardChannels()).includes("socket.io#/#lobby-cpp#"), {
      message: "SSUBSCRIBE socket.io#/#lobby-cpp#",
    });
    // A socket's own room gets none (as in the reference).
    assert.ok(!(await shardChannels()).includes(`socket.io#/#${c.id}#`));
    assert.deepEqual(await ack(c, "leave", "lobby-cpp"), { ok: true });
    await until(async () => !(await shardChannels()).includes("socket.io#/#lobby-cpp#"), {
      message: "SUNSUBSCRIBE socket.io#/#lobby-cpp#",
    });
  });

  test("chat messages cross both ways on the room channel, exactly once (binary too)", T, async () => {
    const c = await member(cpp, ["s1"]);
    const n = await member(node, ["s1"]);
    const out = await member(cpp, ["s2"]);
    await until(async () => (await r.sendCommand(["PUBSUB", "SHARDNUMSUB", "socket.io#/#s1#"]))[1] >= 2, {
      message: "both nodes on the room channel",
    });
    assert.deepEqual(await ack(c, "chat message", "s1", "hi from cpp"), { ok: true });
    assert.deepEqual(await ack(n, "chat message", "s1", Buffer.from([4, 2])), { ok: true });
    await until(() => c.got("chat message").length >= 2 && n.got("chat message").length >= 2, {
      message: "both messages on both nodes",
    });
    await sleep(300);
    for (const s of [c, n]) {
      const msgs = s.got("chat message");
      assert.equal(msgs.length, 2);
      assert.deepEqual(msgs.find((m) => typeof m.text === "string"), { room: "s1", text: "hi from cpp" });
      assert.deepEqual(toBuffer(msgs.find((m) => typeof m.text !== "string").text), Buffer.from([4, 2]));
    }
    assert.deepEqual(out.got("chat message"), []);
  });

  test("members (fetchSockets from the C++ node) spans both nodes", T, async () => {
    const c = await member(cpp, ["crew"]);
    const n = await member(node, ["crew"]);
    const r1 = await ack(c, "members", "crew");
    assert.deepEqual(r1.members.map((m) => m.id).sort(), [c.id, n.id].sort());
  });
});

opsSuite("sharded: socketio-cluster-node + Node (requests both ways)", { key: "sh", mode: "sharded" });
