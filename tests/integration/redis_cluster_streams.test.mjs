// --redis-mode streams --redis-cluster: the streams mode on a real Redis Cluster of 3 masters
// started by the test (lib/redis_cluster.mjs). Two socketio-cluster-node processes (a, b: the
// cluster:* events) and a Node node (socket.io 4.8 + @socket.io/redis-streams-adapter 0.3.1 on
// node-redis's createCluster): broadcasts to rooms cross between the three through the one stream,
// read on its slot's master only; fetchSockets and serverSideEmit across nodes both ways. Then,
// with a socketio-server node (s, --metrics) in place of the Node node: delivery goes on after
// `redis-cli --cluster reshard` moved the stream key's slot, after the stream key's master was
// SIGKILLed and started again, and while the slot migrates by hand (MIGRATING/IMPORTING, the key
// MIGRATEd: the old master answers ASK, writers and readers follow it). Last, a client whose node
// is SIGKILLed recovers on the other node (id, rooms, data, missed messages once and in order),
// its session key on its own slot's master. Fails when redis-server/redis-cli 7 are missing.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { decode } from "@msgpack/msgpack";
import { closeAll, until, sleep, track } from "./lib/harness.mjs";
import { startNode, member, ack } from "./lib/redis.mjs";
import { startRedisCluster, metric, clusterEvents } from "./lib/redis_cluster.mjs";

const T = { timeout: 180000 };
const ROOMS = Array.from({ length: 12 }, (_, i) => `room-${i}`);
const RESHARDED = 20; // slots redis-cli moves: the stream key's is among them (see before())

describe("Redis Cluster: the streams mode", () => {
  let cluster, key, a, b, n, s, clients;

  /** The master (host:port) that owns a key's slot now. */
  async function ownerOf(k) {
    return (await cluster.slotOwners())[await cluster.keySlot(k)];
  }

  /** How many connections block in XREAD on each master. */
  async function readersByMaster() {
    const out = {};
    for (const m of cluster.nodes) {
      const list = await m.client.sendCommand(["CLIENT", "LIST"]).catch(() => "");
      out[m.addr] = list.split("\n").filter((l) => / cmd=xread /.test(l)).length;
    }
    return out;
  }

  /** Every reader on the stream key's master and nowhere else. */
  async function readersOnOwner(count) {
    const owner = await ownerOf(key);
    const byMaster = await readersByMaster();
    return Object.entries(byMaster).every(([addr, c]) => (addr === owner ? c >= count : c === 0));
  }

  /** Each client sends one message to every room; each receives every one of them once. */
  async function crossInEveryRoom(tag, { timeoutMs = 20000 } = {}) {
    const before = clients.map((c) => c.got("chat message").length);
    for (const room of ROOMS)
      for (const c of clients) assert.deepEqual(await ack(c, "chat message", room, `${tag} ${c.tag} ${room}`), { ok: true });
    const want = clients.length * ROOMS.length;
    await until(() => clients.every((c, i) => c.got("chat message").length - before[i] >= want), {
      timeoutMs,
      message: `${tag}: every room's messages on every node`,
    });
    await sleep(300);
    const expected = ROOMS.flatMap((r) => clients.map((c) => `${r}|${tag} ${c.tag} ${r}`)).sort();
    clients.forEach((c, i) => {
      // [message, offset]: with recovery on, each recoverable packet carries its stream entry id.
      const got = c.got("chat message").slice(before[i]).map(([m, offset]) => {
        assert.match(offset, /^\d+-\d+$/);
        return `${m.room}|${m.text}`;
      });
      got.sort();
      assert.deepEqual(got, expected, `${tag}: each message exactly once on ${c.tag}`);
    });
  }

  before(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    // A stream key in one of the first RESHARDED slots of the first master: `redis-cli --cluster
    // reshard` moves a master's lowest slots first, so moving RESHARDED slots moves the stream.
    for (let i = 0; !key; i += 100) {
      const names = Array.from({ length: 100 }, (_, j) => `sio-cs-${i + j}`);
      const slots = await Promise.all(names.map((k) => cluster.keySlot(k)));
      key = names.find((_, j) => slots[j] < RESHARDED);
    }
    const owners = await cluster.slotOwners();
    assert.ok(owners.slice(0, RESHARDED).every((o) => o === cluster.nodes[0].addr), "first slots on the first master");
    const common = ["--redis-mode", "streams", "--redis-cluster", "--redis-key", key, "--connection-state-recovery"];
    [a, b, n] = await Promise.all([
      startNode("cluster", cluster.nodes[0].url, [...common, "--name", "a"]),
      startNode("cluster", `${cluster.nodes[1].url},${cluster.nodes[2].url}`, [...common, "--name", "b"]),
      startNode("node", cluster.nodes[2].url, [...common, "--name", "node"]),
    ]);
    clients = await Promise.all([member(a, ROOMS), member(b, ROOMS), member(n, ROOMS)]);
    ["cpp-a", "cpp-b", "node"].forEach((tag, i) => (clients[i].tag = tag));
  });
  after(closeAll);

  test("every node reads the stream on its key's master only; room broadcasts cross between the three", T, async () => {
    await until(() => readersOnOwner(3), { timeoutMs: 15000, intervalMs: 200, message: "three readers on the owner" });
    await crossInEveryRoom("start");
    // The entries are in the stream, on its master.
    const owner = cluster.node(await ownerOf(key));
    assert.ok(Number(await owner.client.sendCommand(["XLEN", key])) >= clients.length * ROOMS.length);
  });

  test("fetchSockets and serverSideEmit across the nodes, both ways", T, async () => {
    const [ca, cb, cn] = clients;
    for (const driver of [ca, cn]) {
      const fetched = await ack(driver, "cluster:fetch", { rooms: [ROOMS[3]] });
      assert.deepEqual(fetched.map((x) => x.id), [ca.id, cb.id, cn.id].sort(), `fetch from ${driver.tag}`);
    }
    const fromA = await ack(ca, "cluster:serverSideEmit", "hello", 1);
    assert.equal(fromA.timedOut, false);
    assert.deepEqual(fromA.responses.map((r) => r.node).sort(), ["b", "node"]);
    const fromN = await ack(cn, "cluster:serverSideEmit", "hello", 2);
    assert.equal(fromN.timedOut, false);
    assert.deepEqual(fromN.responses.map((r) => r.node).sort(), ["a", "b"]);
  });

  test("after redis-cli --cluster reshard moved the stream key's slot", T, async () => {
    // From here on, the C++ nodes: a socketio-server (s, its counters) replaces the Node node.
    clients[2].disconnect();
    await n.stop();
    s = await startNode("server", cluster.nodes[2].url, [
      "--redis-mode", "streams", "--redis-cluster", "--redis-key", key, "--connection-state-recovery", "--metrics",
      "--redis-reconnect-max-delay", "1000",
    ]);
    clients[2] = await member(s, ROOMS);
    clients[2].tag = "server";
    await until(() => readersOnOwner(3), { timeoutMs: 15000, intervalMs: 200, message: "three readers on the owner" });
    const ids = await cluster.ids();
    const from = cluster.nodes[0];
    const to = cluster.nodes[1];
    assert.equal(await ownerOf(key), from.addr);
    cluster.reshard(ids[from.addr], ids[to.addr], RESHARDED);
    await cluster.waitOk();
    assert.equal(await ownerOf(key), to.addr, "the stream moved");
    const moved = Date.now();
    await until(() => readersOnOwner(3), { timeoutMs: 20000, intervalMs: 200, message: "the readers followed the stream" });
    console.log(`# the three readers on the new master ${Date.now() - moved} ms after the reshard`);
    await crossInEveryRoom("resharded");
    assert.ok((await clusterEvents(s, "refresh")) >= 2);
  });

  test("after the stream key's master was killed and started again", T, async () => {
    const victim = cluster.node(await ownerOf(key));
    const losses = await metric(s, "socketio_redis_connection_losses_total");
    await cluster.restart(victim, 1000);
    const restarted = Date.now();
    await cluster.waitOk();
    await until(async () => (await metric(s, "socketio_redis_connection_losses_total")) > losses, {
      message: "node s saw the master go",
    });
    await until(() => readersOnOwner(3), { timeoutMs: 20000, intervalMs: 200, message: "readers back on the master" });
    console.log(`# the three readers back ${Date.now() - restarted} ms after the master started again`);
    await crossInEveryRoom("restarted");
  });

  test("while the stream key's slot migrates (MIGRATING/IMPORTING, the key moved): the nodes follow the ASK", T, async () => {
    const slot = await cluster.keySlot(key);
    const owners = await cluster.slotOwners();
    const src = cluster.node(owners[slot]);
    const dst = cluster.nodes.find((x) => x !== src && owners.includes(x.addr));
    const ids = await cluster.ids();
    const redirects = await clusterEvents(s, "redirect");
    await dst.client.sendCommand(["CLUSTER", "SETSLOT", String(slot), "IMPORTING", ids[src.addr]]);
    await src.client.sendCommand(["CLUSTER", "SETSLOT", String(slot), "MIGRATING", ids[dst.addr]]);
    // Every key of the slot (the stream, and any session key that hashes there) to the importing master.
    for (;;) {
      const keys = await src.client.sendCommand(["CLUSTER", "GETKEYSINSLOT", String(slot), "100"]);
      if (keys.length === 0) break;
      await src.client.sendCommand(["MIGRATE", "127.0.0.1", String(dst.port), "", "0", "5000", "KEYS", ...keys]);
    }
    // The old master still owns the slot and answers ASK for the stream; nothing else does.
    const asked = await src.client.sendCommand(["XLEN", key]).catch((e) => e);
    assert.match(String(asked?.message ?? asked), /^ASK /);
    assert.deepEqual(await cluster.slotOwners().then((o) => o[slot]), src.addr);
    const migrating = Date.now();
    await crossInEveryRoom("migrating", { timeoutMs: 30000 });
    console.log(`# ${3 * ROOMS.length} messages across the migrating slot (ASK) in ${Date.now() - migrating} ms`);
    assert.ok((await clusterEvents(s, "redirect")) > redirects, "node s followed ASK redirections");
    // The entries written meanwhile are on the importing master.
    assert.ok(Number(await dst.client.sendCommand(["CLUSTER", "COUNTKEYSINSLOT", String(slot)])) >= 1);
    // The migration ends: the slot is the importing master's; the nodes go on there.
    for (const x of [dst, src, ...cluster.nodes.filter((y) => y !== src && y !== dst)])
      await x.client.sendCommand(["CLUSTER", "SETSLOT", String(slot), "NODE", ids[dst.addr]]).catch(() => {});
    await cluster.waitOk();
    await until(() => readersOnOwner(3), { timeoutMs: 20000, intervalMs: 200, message: "readers on the new owner" });
    await crossInEveryRoom("migrated");
  });

  test("a client whose node is SIGKILLed recovers on the other node: id, rooms, data, missed messages", T, async () => {
    const c = io(a.url, { forceNew: true, transports: ["websocket"], reconnection: false });
    track(c, () => c.disconnect());
    c.seen = [];
    c.onAny((event, ...args) => c.seen.push([event, ...args]));
    await new Promise((resolve, reject) => {
      c.once("connect", resolve);
      c.once("connect_error", reject);
    });
    const id = c.id;
    assert.deepEqual(await ack(c, "join", "r1"), { ok: true });
    assert.deepEqual(await ack(c, "join", "r2"), { ok: true });
    assert.deepEqual(await ack(c, "nick", "kim"), { ok: true });
    const driver = clients[1]; // on b
    await ack(driver, "cluster:emit", { rooms: ["r1"] }, "news", 0);
    await until(() => c.seen.some((e) => e[0] === "news"), { message: "first news" });
    // Its session is in Redis before the node dies, on the master of its own key's slot.
    const sessionKey = `sio:session:${c._pid}`;
    const home = cluster.node(await ownerOf(sessionKey));
    await until(async () => {
      const value = await home.client.get(sessionKey);
      return value && decode(Buffer.from(value, "base64")).data?.name === "kim";
    }, { message: "session saved on its slot's master" });
    const gone = new Promise((resolve) => c.once("disconnect", resolve));
    a.proc.kill("SIGKILL");
    await gone;
    const mark = c.seen.length;
    for (let i = 1; i <= 3; i++) await ack(driver, "cluster:emit", { rooms: ["r1"] }, "news", i);
    await ack(driver, "cluster:emit", { rooms: ["elsewhere"] }, "other", "not for c");
    await ack(driver, "cluster:emit", { rooms: ["r2"] }, "news", 4);
    c.io.uri = b.url;
    await new Promise((resolve, reject) => {
      c.once("connect", resolve);
      c.once("connect_error", reject);
      c.connect();
    });
    assert.equal(c.recovered, true);
    assert.equal(c.id, id);
    const missed = c.seen.slice(mark).filter(([e]) => e !== "presence").map(([e, ...args]) => [e, ...args.slice(0, -1)]);
    assert.deepEqual(missed, [["news", 1], ["news", 2], ["news", 3], ["news", 4]]);
    const state = await ack(c, "cluster:state");
    assert.deepEqual(state, { node: "b", id, rooms: [id, "r1", "r2"].sort(), data: { name: "kim" }, recovered: true });
    await ack(driver, "cluster:emit", { rooms: ["r2"] }, "news", 5);
    await until(() => c.seen.some((e) => e[0] === "news" && e[1] === 5), { message: "live again" });
    c.disconnect();
  });

  test("the remaining nodes stop cleanly (SIGTERM: exit 0, no sanitizer report)", T, async () => {
    for (const node of [b, s]) {
      await node.stop();
      assert.deepEqual(await node.exited, { code: 0, signal: null }, node.stderr());
      assert.ok(!/Sanitizer|runtime error/.test(node.stderr()), node.stderr());
    }
  });
});
