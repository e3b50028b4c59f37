// The request suite of the Redis tests: a C++ node (socketio-cluster-node, examples/cluster_node)
// and a Node.js node (tests/reference/chat-server.mjs --redis) on one real redis-server; every
// cluster-wide operation is driven from each side through the cluster:* events, against clients
// of both nodes. Used by redis_mixed.test.mjs (classic), redis_sharded.test.mjs (sharded) and
// redis_streams.test.mjs (streams).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeAll, until, sleep, toBuffer, waitFor } from "./harness.mjs";
import { startRedis, startNode, redisClient, serverCount, member, ack } from "./redis.mjs";

const T = { timeout: 40000 };
const settle = () => sleep(300);

// kinds: the two nodes' kinds (see startNode): ["cluster", "node"] for a mixed cluster,
// ["cluster", "cluster"] for two C++ nodes.
export function opsSuite(title, { key, mode, kinds = ["cluster", "node"] }) {
describe(title, () => {
  let redis, r, cpp, node;

  before(async () => {
    redis = await startRedis({ major: mode === "sharded" ? 7 : 0 });
    [cpp, node] = await Promise.all([
      ...kinds.map((kind, i) =>
        startNode(kind, redis.url, ["--redis-key", key, "--redis-mode", mode, "--name", `${kind}${i}`]).then((n) =>
          Object.assign(n, { name: `${kind}${i}` }),
        ),
      ),
    ]);
    r = await redisClient(redis.url);
    await until(async () => (await serverCount(r, key, mode)) >= 2, { timeoutMs: 10000, message: "both nodes subscribed" });
  });
  after(closeAll);

  // Each check runs from both sides: `from` drives, `to` is the other node.
  const sides = () => [
    [`${cpp.name} -> ${node.name}`, cpp, node],
    [`${node.name} -> ${cpp.name}`, node, cpp],
  ];

  test("broadcasts with rooms, except and binary, both ways, exactly once", T, async () => {
    for (const [label, from, to] of sides()) {
      const local = await member(from, ["r"], { record: ["ev"] });
      const remote = await member(to, ["r"], { record: ["ev"] });
      const excepted = await member(to, ["r", "ex"], { record: ["ev"] });
      const driver = await member(from, [], { record: ["ev"] });
      if (mode === "sharded") {
        // A one-room broadcast goes to the room's own channel: wait until both nodes listen on it.
        await until(async () => Number((await r.sendCommand(["PUBSUB", "SHARDNUMSUB", `${key}#/#r#`]))[1]) >= 2, {
          message: `${label}: both nodes on the room channel`,
        });
      }
      await ack(driver, "cluster:emit", { rooms: ["r"], except: ["ex"] }, "ev", { x: 1 }, Buffer.from([7, 7]));
      await until(() => local.got("ev").length >= 1 && remote.got("ev").length >= 1, { message: `${label}: delivered` });
      await settle();
      for (const s of [local, remote]) {
        assert.equal(s.got("ev").length, 1, label);
        assert.deepEqual(s.got("ev")[0][0], { x: 1 });
        assert.deepEqual(toBuffer(s.got("ev")[0][1]), Buffer.from([7, 7]));
      }
      assert.deepEqual(excepted.got("ev"), [], label);
      assert.deepEqual(driver.got("ev"), [], label);
      for (const s of [local, remote, excepted, driver]) s.disconnect();
    }
  });

  test("fetchSockets, socketsJoin, socketsLeave both ways", T, async () => {
    for (const [label, from, to] of sides()) {
      const room = `f-${from.name}`;
      const a = await member(from, [room]);
      const b = await member(to, [room]);
      assert.deepEqual(await ack(b, "nick", "bee"), { ok: true });
      const driver = await member(from);
      const fetched = await ack(driver, "cluster:fetch", { rooms: [room] });
      assert.deepEqual(fetched.map((s) => s.id), [a.id, b.id].sort(), label);
      const rb = fetched.find((s) => s.id === b.id);
      assert.deepEqual(rb.rooms, [b.id, room].sort(), label);
      assert.deepEqual(rb.data, { name: "bee" }, label);
      // except: only the other node's socket
      const onlyB = await ack(driver, "cluster:fetch", { rooms: [room], except: [a.id] });
      assert.deepEqual(onlyB.map((s) => s.id), [b.id], label);

      await ack(driver, "cluster:join", { rooms: [room] }, [`${room}-j`]);
      await until(async () => (await ack(driver, "cluster:fetch", { rooms: [`${room}-j`] })).length === 2, {
        message: `${label}: socketsJoin`,
      });
      await ack(driver, "cluster:leave", { rooms: [room] }, [`${room}-j`]);
      await until(async () => (await ack(driver, "cluster:fetch", { rooms: [`${room}-j`] })).length === 0, {
        message: `${label}: socketsLeave`,
      });
      for (const s of [a, b, driver]) s.disconnect();
    }
  });

  test("disconnectSockets both ways", T, async () => {
    for (const [label, from, to] of sides()) {
      const room = `d-${from.name}`;
      const a = await member(from, [room]);
      const b = await member(to, [room]);
      const stay = await member(to, []);
      const driver = await member(from);
      const gone = [waitFor(a, "disconnect", 8000), waitFor(b, "disconnect", 8000)];
      await ack(driver, "cluster:disconnect", { rooms: [room] }, true);
      const reasons = (await Promise.all(gone)).map(([r]) => r);
      // close=true closes the connection: the client sees the transport go, or the DISCONNECT first
      for (const r of reasons) assert.ok(["io server disconnect", "transport close"].includes(r), `${label}: ${r}`);
      assert.equal(stay.connected, true, label);
      stay.disconnect();
      driver.disconnect();
    }
  });

  test("broadcast with acks both ways: answers of clients on both nodes, counted right, timeout partial", T, async () => {
    for (const [label, from, to] of sides()) {
      const room = `a-${from.name}`;
      const clients = [await member(from, [room]), await member(to, [room]), await member(to, [room])];
      clients.forEach((s, i) => s.on("q", (x, cb) => cb({ i, x, bin: Buffer.from([i]) })));
      const driver = await member(from);
      const r = await ack(driver, "cluster:emitWithAck", { rooms: [room] }, 5000, "q", "hi");
      assert.equal(r.timedOut, false, label);
      const got = r.responses.map((x) => [x.i, x.x, toBuffer(x.bin)[0]]).sort();
      assert.deepEqual(got, [[0, "hi", 0], [1, "hi", 1], [2, "hi", 2]], label);
      // Nobody in the room: completes at once with nothing (both nodes counted 0).
      const t0 = Date.now();
      const empty = await ack(driver, "cluster:emitWithAck", { rooms: ["nobody"] }, 5000, "q", "x");
      assert.deepEqual(empty, { timedOut: false, responses: [] }, label);
      assert.ok(Date.now() - t0 < 4000, `${label}: an empty broadcast does not wait for the timeout`);
      // One client on the other node stays silent: timed out, with the other answers.
      clients[2].off("q");
      clients[2].on("q", () => {});
      const t = await ack(driver, "cluster:emitWithAck", { rooms: [room] }, 3000, "q", "again");
      assert.equal(t.timedOut, true, label);
      assert.deepEqual(t.responses.map((x) => x.i).sort(), [0, 1], label);
      for (const s of [...clients, driver]) s.disconnect();
    }
  });

  test("serverSideEmit with an ack both ways, and without one", T, async () => {
    for (const [label, from, to] of sides()) {
      const driver = await member(from);
      const r = await ack(driver, "cluster:serverSideEmit", "hello", 1, "two");
      assert.deepEqual(r, { timedOut: false, responses: [{ node: to.name, args: [1, "two"] }] }, label);
      const listener = await member(to, [], { record: ["relayed"] });
      const fromListener = await member(from, [], { record: ["relayed"] });
      assert.deepEqual(await ack(driver, "cluster:serverSideEmitNoAck", "relay", "x", 2), { ok: true });
      await until(() => listener.got("relayed").length >= 1, { message: `${label}: relayed` });
      await settle();
      assert.deepEqual(listener.got("relayed"), [["x", 2]], label);
      assert.deepEqual(fromListener.got("relayed"), [], label); // not to the sender's own node
      for (const s of [driver, listener, fromListener]) s.disconnect();
    }
  });

  test("allRooms from the Node node includes the C++ node's rooms", { ...T, skip: kinds[1] !== "node" ? "no Node node" : mode !== "classic" ? `the ${mode} Node adapter has no allRooms` : false }, async () => {
    const c = await member(cpp, ["cpp-only-room"]);
    const driver = await member(node);
    const rooms = await ack(driver, "cluster:allRooms");
    assert.ok(rooms.includes("cpp-only-room"));
    assert.ok(rooms.includes(c.id));
  });
});
}
