// The Redis adapter across processes: a real redis-server (throw-away, on a free port), two
// `socketio-server` nodes started with --redis, socket.io-client on each. A chat message sent on
// node A reaches the room's clients on both nodes exactly once, and @socket.io/redis-emitter 5.1
// (what a Node back-end would use to push into the cluster) reaches clients on both nodes.
// Skipped when redis-server is missing, and for SIO_TARGET=reference (its chat server has no Redis).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { startServer, closeAll, track, until, sleep, IS_REFERENCE, toBuffer } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";

const T = { timeout: 30000 };
const haveRedis = spawnSync("redis-server", ["--version"]).status === 0;
const skip = IS_REFERENCE ? "the reference chat server has no Redis adapter" : !haveRedis ? "no redis-server" : false;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis(port) {
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  track(proc, () => proc.kill("SIGKILL"));
  await until(
    () =>
      new Promise((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      }),
    { timeoutMs: 10000, message: "redis-server up" },
  );
  return proc;
}

const ack = (socket, event, ...args) => socket.timeout(5000).emitWithAck(event, ...args);

async function chatter(server, room) {
  const s = await sioConnect(server, "/", {}, 10000);
  s.received = [];
  s.on("chat message", (m) => s.received.push(m));
  assert.deepEqual(await ack(s, "join", room), { ok: true });
  return s;
}

describe("redis adapter", { skip }, () => {
  let url, nodeA, nodeB, redis;

  before(async () => {
    const port = await freePort();
    await startRedis(port);
    url = `redis://127.0.0.1:${port}`;
    [nodeA, nodeB] = await Promise.all([
      startServer({ kind: "chat", args: ["--redis", url] }),
      startServer({ kind: "chat", args: ["--redis", url] }),
    ]);
    // No reconnects: closeAll may stop redis-server first, and a retrying client keeps the test alive.
    redis = createClient({ url, socket: { reconnectStrategy: false } });
    redis.on("error", () => {});
    await redis.connect();
    track(redis, () => redis.disconnect().catch(() => {}));
    // Both nodes subscribed: each listens on the main namespace's request channel.
    await until(async () => (await redis.sendCommand(["PUBSUB", "NUMSUB", "socket.io-request#/#"]))[1] >= 2, {
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
});
