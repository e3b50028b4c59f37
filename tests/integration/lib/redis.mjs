// Helpers of the Redis tests (tests/integration/redis*.test.mjs): a throw-away redis-server on a
// free port (restartable on the same port), cluster nodes of every kind (the C++ socketio-server,
// the C++ example socketio-cluster-node, the Node reference chat server with --redis), and
// chat clients. Everything is tracked by the harness and stopped by closeAll(), by pid.
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { createClient } from "redis";
import { TESTS_DIR, track, until, IS_REFERENCE, freePort } from "./harness.mjs";
import { sioConnect } from "./clients.mjs";

const version = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
export const REDIS_VERSION = version.status === 0 ? /v=(\d+)\.(\d+)/.exec(version.stdout)?.slice(1).map(Number) : null;
export const HAVE_REDIS = !!REDIS_VERSION;

/**
 * Throws unless redis-server (at least version `major`) is installed: a test that needs Redis
 * fails when it is missing, it is never skipped.
 */
export function requireRedis(major = 0) {
  if (!HAVE_REDIS) throw new Error("redis-server is not installed (apt-get install redis-server): this test needs it");
  if (REDIS_VERSION[0] < major)
    throw new Error(`redis-server ${REDIS_VERSION.join(".")} is too old: this test needs ${major} or newer`);
}

export { freePort };

export const canConnect = (port) =>
  new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });

/**
 * A redis-server (version >= `major`) on a free port; stop() kills it (SIGKILL: an outage),
 * start() brings it back. Throws when redis-server is missing or too old.
 */
export async function startRedis({ major = 0 } = {}) {
  requireRedis(major);
  const port = await freePort();
  const r = { __isServer: true, port, url: `redis://127.0.0.1:${port}`, proc: null };
  r.start = async () => {
    const proc = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    r.proc = proc;
    r.exited = new Promise((resolve) => proc.once("exit", resolve));
    await until(() => canConnect(port), { timeoutMs: 10000, message: "redis-server up" });
  };
  r.stop = async () => {
    if (r.proc && r.proc.exitCode === null && r.proc.signalCode === null) {
      r.proc.kill("SIGKILL");
      await r.exited;
    }
  };
  track(r, r.stop);
  await r.start();
  return r;
}

/** A node-redis client that never reconnects (closeAll may stop redis-server first). */
export async function redisClient(url) {
  const c = createClient({ url, socket: { reconnectStrategy: false } });
  c.on("error", () => {});
  await c.connect();
  track(c, () => c.disconnect().catch(() => {}));
  return c;
}

const referenceNode = () => [process.execPath, path.join(TESTS_DIR, "reference", "chat-server.mjs")];
const NODE_KINDS = IS_REFERENCE ? { server: referenceNode, cluster: referenceNode, node: referenceNode } : {
  // The product: the chat relay only.
  server: () => [path.join(process.env.SIO_BUILD_DIR ?? "", "bin", "socketio-server")],
  // The C++ example with the cluster:* test events (examples/cluster_node).
  cluster: () => [path.join(process.env.SIO_BUILD_DIR ?? "", "bin", "socketio-cluster-node")],
  // The Node reference chat server with @socket.io/redis-adapter and the same cluster:* events.
  node: referenceNode,
};

/**
 * Starts a cluster node and waits for its "listening on" line (printed once its Redis
 * subscriptions are confirmed). Resolves with {url, proc, stderr(), stop()}.
 */
export async function startNode(kind, redisUrl, args = [], { timeoutMs = 20000, env = {} } = {}) {
  if (!process.env.SIO_BUILD_DIR && kind !== "node" && !IS_REFERENCE) throw new Error("SIO_BUILD_DIR is not set");
  const [cmd, ...pre] = NODE_KINDS[kind]();
  const argv = [...pre, "--host", "127.0.0.1", "--port", "0", "--redis", redisUrl, ...args];
  const proc = spawn(cmd, argv, { cwd: TESTS_DIR, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  const node = { __isServer: true, kind, proc, stdout: () => out, stderr: () => err };
  node.exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  node.stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const res = await Promise.race([node.exited, delay(5000, null, { ref: false })]);
      if (res === null) {
        proc.kill("SIGKILL");
        await node.exited;
      }
    }
    proc.stdout.destroy();
    proc.stderr.destroy();
  };
  track(node, node.stop);
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => (err += d));
  proc.stdout.setEncoding("utf8");
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} node: no "listening on" within ${timeoutMs} ms\n${err}`)), timeoutMs);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m && !node.url) {
        clearTimeout(timer);
        node.url = new URL(m[1]).origin;
        resolve();
      }
    });
    node.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${kind} node exited (code ${code}, signal ${signal}) before listening\n${err}`));
    });
  });
  return node;
}

/** How many nodes listen for requests of namespace "/" under `key` (classic, sharded or streams). */
export async function serverCount(redis, key = "socket.io", mode = "classic") {
  const reply =
    mode === "sharded"
      ? await redis.sendCommand(["PUBSUB", "SHARDNUMSUB", `${key}#/#`])
      : mode === "streams"
        ? await redis.sendCommand(["PUBSUB", "NUMSUB", `${key}#/#`])
        : await redis.sendCommand(["PUBSUB", "NUMSUB", `${key}-request#/#`]);
  return Number(reply[1]);
}

export const ack = (socket, event, ...args) => socket.timeout(8000).emitWithAck(event, ...args);

/**
 * A socket.io client on `node` that records "chat message" and any event named in `record`,
 * joined to `rooms`. socket.got(event) is the list of payloads (first argument) received.
 */
export async function member(node, rooms = [], { record = [] } = {}) {
  const s = await sioConnect(node, "/", { transports: ["websocket"] }, 10000);
  const got = new Map();
  s.got = (event) => got.get(event) ?? [];
  for (const event of ["chat message", ...record]) {
    got.set(event, []);
    s.on(event, (...args) => got.get(event).push(args.length === 1 ? args[0] : args));
  }
  for (const room of rooms) {
    const r = await ack(s, "join", room);
    if (!r?.ok) throw new Error(`join ${room}: ${JSON.stringify(r)}`);
  }
  return s;
}
