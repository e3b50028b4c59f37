// A real Redis Cluster for the tests (tests/integration/redis_cluster*.test.mjs): N masters
// (`redis-server --cluster-enabled yes` on free ports, each with its nodes.conf in a scratch
// directory) joined by `redis-cli --cluster create ... --cluster-yes`. Each master can be killed
// (SIGKILL) and started again on its port with its nodes.conf. A node-redis client per master
// answers per-master questions (who owns a slot, who subscribes a sharded channel). Everything is
// tracked by the harness and stopped by closeAll(), by pid. Fails when redis-server or redis-cli
// (>= 7: sharded pub/sub) is missing.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { track, until, freePort, request } from "./harness.mjs";
import { requireRedis, redisClient, canConnect } from "./redis.mjs";

/** A series of a node's /metrics (name with its labels); NaN when absent. */
export async function metric(node, series) {
  const res = await request({ port: Number(new URL(node.url).port), path: "/metrics" });
  const line = res.text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(" ")[1]) : NaN;
}
export const clusterEvents = (node, event) => metric(node, `socketio_redis_cluster_events_total{event="${event}"}`);

function redisCli(args, { timeoutMs = 120000 } = {}) {
  const r = spawnSync("redis-cli", args, { encoding: "utf8", timeout: timeoutMs });
  if (r.error) throw new Error(`redis-cli ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Starts `masters` cluster-enabled redis-servers and creates the cluster (no replicas). */
export async function startRedisCluster({ masters = 3 } = {}) {
  requireRedis(7);
  if (spawnSync("redis-cli", ["--version"]).status !== 0) throw new Error("redis-cli is not installed: this test needs it");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-rcluster-"));
  const cluster = { __isServer: true, dir, nodes: [] };
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    const node = { port, addr: `127.0.0.1:${port}`, url: `redis://127.0.0.1:${port}`, proc: null };
    node.start = async () => {
      const proc = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file",
          `nodes-${port}.conf`, "--cluster-node-timeout", "3000", "--dir", dir, "--save", "", "--appendonly", "no"],
        { stdio: "ignore" },
      );
      node.proc = proc;
      node.exited = new Promise((resolve) => proc.once("exit", resolve));
      await until(() => canConnect(port), { timeoutMs: 10000, message: `redis-server ${port} up` });
      node.client = await redisClient(node.url);
    };
    node.kill = async () => {
      if (node.proc && node.proc.exitCode === null && node.proc.signalCode === null) {
        node.proc.kill("SIGKILL");
        await node.exited;
      }
    };
    cluster.nodes.push(node);
  }
  track(cluster, async () => {
    await Promise.all(cluster.nodes.map((n) => n.kill()));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await Promise.all(cluster.nodes.map((n) => n.start()));
  redisCli(["--cluster", "create", ...cluster.nodes.map((n) => n.addr), "--cluster-yes"]);
  cluster.waitOk = () =>
    until(
      async () => {
        for (const n of cluster.nodes) {
          const info = await n.client.sendCommand(["CLUSTER", "INFO"]).catch(() => "");
          if (!/cluster_state:ok/.test(info)) return false;
        }
        // Every node agrees on who serves what.
        const maps = await Promise.all(cluster.nodes.map((n) => cluster.slotOwners(n)));
        return maps.every((m) => m.length === 16384 && m.join() === maps[0].join());
      },
      { timeoutMs: 30000, intervalMs: 200, message: "cluster_state:ok on every master" },
    );
  /** The owner (host:port) of every slot, as `n` sees it. */
  cluster.slotOwners = async (n = cluster.nodes[0]) => {
    const owners = new Array(16384).fill(undefined);
    for (const [first, last, master] of await n.client.sendCommand(["CLUSTER", "SLOTS"]))
      for (let s = Number(first); s <= Number(last); s++) owners[s] = `${master[0] || "127.0.0.1"}:${master[1]}`;
    return owners.filter(Boolean).length === 16384 ? owners : [];
  };
  cluster.keySlot = async (key) => Number(await cluster.nodes[0].client.sendCommand(["CLUSTER", "KEYSLOT", key]));
  cluster.node = (addr) => cluster.nodes.find((n) => n.addr === addr);
  /** Node ids by address, from CLUSTER NODES. */
  cluster.ids = async () => {
    const ids = {};
    for (const line of (await cluster.nodes[0].client.sendCommand(["CLUSTER", "NODES"])).trim().split("\n")) {
      const [id, addr] = line.split(" ");
      ids[addr.split("@")[0]] = id;
    }
    return ids;
  };
  /** `redis-cli --cluster reshard`: `slots` slots from one master to another. */
  cluster.reshard = (from, to, slots) =>
    redisCli(["--cluster", "reshard", cluster.nodes[0].addr, "--cluster-from", from, "--cluster-to", to,
      "--cluster-slots", String(slots), "--cluster-yes"]);
  /** SIGKILL a master, then start it again on its port with its nodes.conf. */
  cluster.restart = async (n, downMs = 500) => {
    await n.kill();
    await new Promise((r) => setTimeout(r, downMs));
    await n.start();
  };
  await cluster.waitOk();
  return cluster;
}
