// --redis-cluster: the sharded mode on a real Redis Cluster of 3 masters started by the test
// (lib/redis_cluster.mjs: redis-server --cluster-enabled yes x3 + redis-cli --cluster create).
// Two socketio-server nodes, each given a different seed master, and a Node node (socket.io 4.8,
// @socket.io/redis-adapter's createShardedAdapter on node-redis's createCluster): chat messages
// cross between the three on rooms whose channels are spread over the three masters, each room
// channel SSUBSCRIBEd on its slot's master only. Then, between the two C++ nodes, they keep
// crossing after `redis-cli --cluster reshard` moved every slot of
// one master to another (Redis ends the subscriptions there, the nodes subscribe where the slots
// live now), and after a master was SIGKILLed and started again with its nodes.conf. The Node node
// leaves before the reshard: node-redis 4.7's cluster client does not subscribe a sharded channel
// again when its slot moves (redis/node-redis#3311, still in 6.0) nor after a master restart when
// its channels span several slots (CROSSSLOT, redis/node-redis#2902). Fails when
// redis-server/redis-cli 7 are missing.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeAll, until, sleep } from "./lib/harness.mjs";
import { startNode, member, ack } from "./lib/redis.mjs";
import { startRedisCluster, metric, clusterEvents } from "./lib/redis_cluster.mjs";

const T = { timeout: 180000 };
const ROOMS = Array.from({ length: 48 }, (_, i) => `room-${i}`);
const channel = (room) => `socket.io#/#${room}#`;

describe("Redis Cluster: two socketio-server nodes and a Node node in sharded mode", () => {
  let cluster, a, b, n, ca, cb, cn, clients;

  // How many clients SSUBSCRIBE the room's channel, on each master (only its owner may have any).
  async function subscribersByMaster(room) {
    const out = {};
    for (const n of cluster.nodes) {
      const reply = await n.client.sendCommand(["PUBSUB", "SHARDNUMSUB", channel(room)]).catch((e) => e);
      out[n.addr] = reply instanceof Error ? 0 : Number(reply[1]);
    }
    return out;
  }

  // Both nodes subscribed every room's channel on the master that owns its slot, nowhere else.
  async function placedOnOwners() {
    const owners = await cluster.slotOwners();
    if (owners.length === 0) return false;
    for (const room of ROOMS) {
      const owner = owners[await cluster.keySlot(channel(room))];
      const subs = await subscribersByMaster(room);
      for (const [addr, count] of Object.entries(subs)) if (count !== (addr === owner ? clients.length : 0)) return false;
    }
    return true;
  }

  // Every room gets one message from each client; each client receives every room's messages once.
  async function crossInEveryRoom(tag) {
    const before = clients.map((c) => c.got("chat message").length);
    for (const room of ROOMS)
      for (const c of clients) assert.deepEqual(await ack(c, "chat message", room, `${tag} ${c.tag} ${room}`), { ok: true });
    const want = clients.length * ROOMS.length;
    await until(() => clients.every((c, i) => c.got("chat message").length - before[i] >= want), {
      timeoutMs: 15000,
      message: `${tag}: every room's messages on every node`,
    });
    await sleep(300);
    const expected = ROOMS.flatMap((r) => clients.map((c) => `${r}|${tag} ${c.tag} ${r}`)).sort();
    clients.forEach((c, i) => {
      const got = c.got("chat message").slice(before[i]).map((m) => `${m.room}|${m.text}`).sort();
      assert.deepEqual(got, expected, `${tag}: each message exactly once on ${c.tag}`);
    });
  }

  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    const args = ["--redis-mode", "sharded", "--redis-cluster", "--metrics", "--redis-reconnect-max-delay", "1000"];
    [a, b, n] = await Promise.all([
      startNode("server", cluster.nodes[0].url, args),
      startNode("server", `${cluster.nodes[1].url},${cluster.nodes[2].url}`, args),
      startNode("node", cluster.nodes[2].url, ["--redis-mode", "sharded", "--redis-cluster", "--name", "node"]),
    ]);
    [ca, cb, cn] = clients = await Promise.all([member(a, ROOMS), member(b, ROOMS), member(n, ROOMS)]);
    ca.tag = "cpp-a";
    cb.tag = "cpp-b";
    cn.tag = "node";
  });
  after(closeAll);

  test("the rooms' channels span the three masters, each subscribed on its owner only", T, async () => {
    const owners = await cluster.slotOwners();
    const used = new Set();
    for (const room of ROOMS) used.add(owners[await cluster.keySlot(channel(room))]);
    assert.equal(used.size, 3, "the rooms cover every master");
    await until(placedOnOwners, { timeoutMs: 15000, intervalMs: 200, message: "room channels on their owners" });
  });

  test("chat crosses between the three nodes in every room", T, async () => {
    await crossInEveryRoom("start");
    assert.ok((await clusterEvents(a, "refresh")) >= 1);
    const members = await ack(ca, "members", ROOMS[0]);
    assert.deepEqual(members.members.map((m) => m.id).sort(), clients.map((c) => c.id).sort(), "fetchSockets spans all");
  });

  test("after redis-cli --cluster reshard moved every slot of a master", T, async () => {
    // From here on, the C++ nodes only (see the top of this file for the Node node).
    cn.disconnect();
    await n.stop();
    clients = [ca, cb];
    const ids = await cluster.ids();
    const from = cluster.nodes[0];
    const to = cluster.nodes[1];
    const owners = await cluster.slotOwners();
    const moved = [];
    for (const room of ROOMS) if (owners[await cluster.keySlot(channel(room))] === from.addr) moved.push(room);
    assert.ok(moved.length > 0);
    const slots = owners.filter((o) => o === from.addr).length;
    const resubscribedBefore = (await clusterEvents(a, "resubscribe")) + (await clusterEvents(b, "resubscribe"));
    cluster.reshard(ids[from.addr], ids[to.addr], slots);
    await cluster.waitOk();
    const after = await cluster.slotOwners();
    for (const room of moved) assert.equal(after[await cluster.keySlot(channel(room))], to.addr);
    await until(placedOnOwners, { timeoutMs: 20000, intervalMs: 200, message: "room channels on their new owner" });
    const resubscribed = (await clusterEvents(a, "resubscribe")) + (await clusterEvents(b, "resubscribe"));
    assert.ok(resubscribed - resubscribedBefore >= 2 * moved.length, `resubscribed ${resubscribed - resubscribedBefore}`);
    await crossInEveryRoom("resharded");
  });

  test("after a master was killed and started again with its nodes.conf", T, async () => {
    const victim = cluster.nodes[2];
    const losses = await metric(a, "socketio_redis_connection_losses_total");
    await cluster.restart(victim, 1000);
    await cluster.waitOk();
    await until(placedOnOwners, { timeoutMs: 20000, intervalMs: 200, message: "room channels back on the restarted master" });
    await until(async () => (await a.stderr()).includes("connection lost"), { message: "node a saw the master go" });
    // Its publisher and subscriber connections to that master, counted once each.
    assert.equal((await metric(a, "socketio_redis_connection_losses_total")) - losses, 2);
    await crossInEveryRoom("restarted");
  });

  test("a publish to a slot that moved behind a node's back follows the MOVED", T, async () => {
    // Only node b has a member in this room, so only node b hears that its slot moved (Redis ends
    // its subscription); node a's map still names the old master when it publishes there.
    const room = "moved-room";
    const slot = await cluster.keySlot(channel(room));
    for (const r of ROOMS) assert.notEqual(await cluster.keySlot(channel(r)), slot);
    const inRoom = await member(b, [room]);
    const owners = await cluster.slotOwners();
    const src = cluster.node(owners[slot]);
    // (The master emptied by the reshard is a replica now: Redis's replica migration.)
    const masters = cluster.nodes.filter((x) => owners.includes(x.addr));
    const dst = masters.find((x) => x !== src);
    await until(async () => (await subscribersByMaster(room))[src.addr] === 1, { message: "room channel on its owner" });
    const ids = await cluster.ids();
    await dst.client.sendCommand(["CLUSTER", "SETSLOT", String(slot), "IMPORTING", ids[src.addr]]);
    await src.client.sendCommand(["CLUSTER", "SETSLOT", String(slot), "MIGRATING", ids[dst.addr]]);
    for (const x of [dst, src, ...masters.filter((y) => y !== src && y !== dst)])
      await x.client.sendCommand(["CLUSTER", "SETSLOT", String(slot), "NODE", ids[dst.addr]]);
    await cluster.waitOk();
    await until(async () => (await subscribersByMaster(room))[dst.addr] === 1, { message: "node b followed the slot" });
    const redirects = await clusterEvents(a, "redirect");
    assert.deepEqual(await ack(ca, "chat message", room, "after the move"), { ok: true });
    await until(() => inRoom.got("chat message").length === 1, { message: "the message through the MOVED" });
    assert.deepEqual(inRoom.got("chat message"), [{ room, text: "after the move" }]);
    assert.ok((await clusterEvents(a, "redirect")) > redirects, "node a followed a MOVED");
  });

  test("both nodes stop cleanly (SIGTERM: exit 0, no sanitizer report)", T, async () => {
    for (const node of [a, b]) {
      await node.stop();
      assert.deepEqual(await node.exited, { code: 0, signal: null }, node.stderr());
      assert.ok(!/Sanitizer|runtime error/.test(node.stderr()), node.stderr());
    }
  });
});
