// A mixed cluster on one real redis-server: C++ nodes and Node.js nodes (socket.io 4.8 +
// @socket.io/redis-adapter 8.3, tests/reference/chat-server.mjs --redis) share rooms, and every
// cluster-wide operation works in both directions, each client getting each message once.
//  - cluster "socket.io" (the default key): socketio-server (the product) + a Node node: chat
//    broadcasts both ways (binary included), members (fetchSockets from the C++ side), and the
//    Node node driving every request type against socketio-server's clients.
//  - cluster "ops" (--redis-key ops): socketio-cluster-node (examples/cluster_node, the C++ side
//    of the same cluster:* test events) + a Node node: each request type from the C++ side, and
//    serverSideEmit with acks both ways.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeAll, until, sleep, toBuffer, waitFor } from "./lib/harness.mjs";
import { startRedis, startNode, redisClient, serverCount, member, ack } from "./lib/redis.mjs";
import { opsSuite } from "./lib/redis_ops_suite.mjs";

const T = { timeout: 40000 };
const settle = () => sleep(300); // duplicates, if any, would arrive within this

describe("mixed cluster: socketio-server + Node (classic adapter)", () => {
  let redis, cpp, node;

  before(async () => {
    redis = await startRedis();
    [cpp, node] = await Promise.all([
      startNode("server", redis.url),
      startNode("node", redis.url, ["--name", "node"]),
    ]);
    const r = await redisClient(redis.url);
    await until(async () => (await serverCount(r)) >= 2, { timeoutMs: 10000, message: "both nodes subscribed" });
  });
  after(closeAll);

  test("chat messages cross both ways, to the room only, exactly once (binary too)", T, async () => {
    const c1 = await member(cpp, ["m1"]);
    const n1 = await member(node, ["m1"]);
    const cOut = await member(cpp, ["other"]);
    const nOut = await member(node, ["other"]);
    assert.deepEqual(await ack(c1, "chat message", "m1", "from cpp"), { ok: true });
    assert.deepEqual(await ack(n1, "chat message", "m1", Buffer.from([1, 2, 3])), { ok: true });
    await until(() => c1.got("chat message").length >= 2 && n1.got("chat message").length >= 2, {
      message: "both messages on both nodes",
    });
    await settle();
    for (const s of [c1, n1]) {
      const msgs = s.got("chat message");
      assert.equal(msgs.length, 2);
      assert.deepEqual(msgs.find((m) => typeof m.text === "string"), { room: "m1", text: "from cpp" });
      const bin = msgs.find((m) => typeof m.text !== "string");
      assert.deepEqual(toBuffer(bin.text), Buffer.from([1, 2, 3]));
    }
    assert.deepEqual(cOut.got("chat message"), []);
    assert.deepEqual(nOut.got("chat message"), []);
  });

  test("namespace-wide and room broadcasts from the Node node, with except, reach C++ clients once", T, async () => {
    const a = await member(cpp, ["x1"], { record: ["news"] });
    const b = await member(cpp, ["x1", "muted"], { record: ["news"] });
    const n = await member(node, ["x1"], { record: ["news"] });
    const driver = await member(node, [], { record: ["news"] });
    await ack(driver, "cluster:emit", { rooms: ["x1"], except: ["muted"] }, "news", "room", Buffer.from([9]));
    await ack(driver, "cluster:emit", {}, "news", "all");
    await until(() => a.got("news").length >= 2 && n.got("news").length >= 2 && b.got("news").length >= 1, {
      message: "news delivered",
    });
    await settle();
    assert.equal(a.got("news").length, 2);
    assert.deepEqual(a.got("news")[0][0], "room");
    assert.deepEqual(toBuffer(a.got("news")[0][1]), Buffer.from([9]));
    assert.deepEqual(a.got("news")[1], "all");
    assert.deepEqual(b.got("news"), ["all"]); // in "muted": excepted from the room broadcast
    assert.equal(n.got("news").length, 2);
    assert.deepEqual(driver.got("news"), ["all"]);
  });

  test("members (fetchSockets on the C++ node) lists the room's clients of both nodes", T, async () => {
    const c = await member(cpp, ["team"]);
    const n = await member(node, ["team"]);
    assert.deepEqual(await ack(n, "nick", "nodey"), { ok: true });
    const expected = [
      { id: c.id, name: null },
      { id: n.id, name: "nodey" },
    ].sort((x, y) => (x.id < y.id ? -1 : 1));
    for (const asker of [c, n]) {
      const r = await ack(asker, "members", "team");
      assert.deepEqual(r, { ok: true, room: "team", members: expected });
    }
  });

  test("from the Node node: fetchSockets, socketsJoin, socketsLeave, allRooms on C++ clients", T, async () => {
    const c = await member(cpp, ["f1"]);
    assert.deepEqual(await ack(c, "nick", "cee"), { ok: true });
    const n = await member(node, ["f1"]);
    const driver = await member(node);
    const fetched = await ack(driver, "cluster:fetch", { rooms: ["f1"] });
    assert.deepEqual(
      fetched.map((s) => s.id),
      [c.id, n.id].sort(),
    );
    const remote = fetched.find((s) => s.id === c.id);
    // A request from a Node node says nothing about detail: the C++ node answers in full, as Node
    // does (the chat's own members requests ask for ids and data only: redis.test.mjs).
    assert.deepEqual(remote.rooms.slice().sort(), [c.id, "f1"].sort());
    assert.deepEqual(remote.data, { name: "cee" });

    await ack(driver, "cluster:join", { rooms: ["f1"] }, ["joined"]);
    await until(async () => (await ack(driver, "cluster:fetch", { rooms: ["joined"] })).length === 2, {
      message: "socketsJoin on both nodes",
    });
    // The C++ client really is in the room: a chat message to it arrives.
    await ack(n, "chat message", "joined", "welcome");
    await until(() => c.got("chat message").length === 1, { message: "message to the joined room" });
    assert.deepEqual(c.got("chat message"), [{ room: "joined", text: "welcome" }]);
    assert.ok((await ack(driver, "cluster:allRooms")).includes("joined"));

    await ack(driver, "cluster:leave", { rooms: ["joined"] }, ["joined"]);
    await until(async () => (await ack(driver, "cluster:fetch", { rooms: ["joined"] })).length === 0, {
      message: "socketsLeave on both nodes",
    });
  });

  test("from the Node node: broadcast with acks collects the C++ clients' answers; timeout keeps what came", T, async () => {
    const c1 = await member(cpp, ["acks"]);
    const c2 = await member(cpp, ["acks"]);
    const n1 = await member(node, ["acks"]);
    for (const [s, who] of [
      [c1, "c1"],
      [c2, "c2"],
      [n1, "n1"],
    ])
      s.on("question", (q, cb) => cb(`${who}:${q}`));
    const driver = await member(node);
    const r = await ack(driver, "cluster:emitWithAck", { rooms: ["acks"] }, 4000, "question", "q");
    assert.equal(r.timedOut, false);
    assert.deepEqual(r.responses.sort(), ["c1:q", "c2:q", "n1:q"]);

    // A C++ client that never answers: the operation times out with the others' answers.
    const silent = await member(cpp, ["acks"]);
    silent.on("question", () => {});
    const t = await ack(driver, "cluster:emitWithAck", { rooms: ["acks"] }, 3000, "question", "q2");
    assert.equal(t.timedOut, true);
    assert.deepEqual(t.responses.sort(), ["c1:q2", "c2:q2", "n1:q2"]);
  });

  test("from the Node node: disconnectSockets reaches C++ clients", T, async () => {
    const c = await member(cpp, ["bye"]);
    const n = await member(node, ["bye"]);
    const stay = await member(cpp, ["stay"]);
    const driver = await member(node);
    const gone = [waitFor(c, "disconnect", 8000), waitFor(n, "disconnect", 8000)];
    await ack(driver, "cluster:disconnect", { rooms: ["bye"] }, false);
    const [[rc], [rn]] = await Promise.all(gone);
    assert.equal(rc, "io server disconnect");
    assert.equal(rn, "io server disconnect");
    assert.equal(stay.connected, true);
  });
});

// The C++ side of the requests: the example node with the cluster:* events, on its own key so that
// socketio-server (no server-side handlers) does not count as a node that never answers.
opsSuite("mixed cluster: socketio-cluster-node + Node (requests both ways)", { key: "ops", mode: "classic" });
