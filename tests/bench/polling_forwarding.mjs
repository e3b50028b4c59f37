// Long-polling behind nginx, with forwarding (deploy/nginx/socketio-round-robin.conf: plain
// round-robin, the nodes forward requests for other nodes' sessions over Redis) and with
// stickiness (deploy/nginx/socketio.conf: hash on the client address, every request of a session
// on its node), same nodes, same clients, same run. Not part of the test command: figures for
// docs/benchmarks.md.
//
//   SIO_BUILD_DIR=build-release node tests/bench/polling_forwarding.mjs [CLIENTS] [SECONDS]
//
// CLIENTS polling-only socket.io-client clients (default 100), each from its own 127.0.0.x
// address (so the sticky hash spreads them), each sending "echo" with an ack back to back for
// SECONDS (default 15) after a 3 s warm-up. Prints one line per mode: acks/s, p50, p99, errors.
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { io } from "socket.io-client";
import { closeAll, freePort, TESTS_DIR } from "../integration/lib/harness.mjs";
import { startRedis, startNode } from "../integration/lib/redis.mjs";
import { createPki } from "../integration/lib/pki.mjs";
import { rewriteSite, startNginx, tlsReachable } from "../integration/lib/nginx.mjs";

const CLIENTS = Number(process.argv[2] ?? 100);
const SECONDS = Number(process.argv[3] ?? 15);
const DEPLOY = path.resolve(TESTS_DIR, "..", "deploy", "nginx");
const MODES = [
  { name: "round-robin + forwarding", file: "socketio-round-robin.conf", upstream: "socketio_rr_nodes", log: "socketio_rr" },
  { name: "sticky (hash $binary_remote_addr)", file: "socketio.conf", upstream: "socketio_nodes", log: "socketio" },
];

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

async function run(mode, nodes, pki, rootPem, leaf, fullchain) {
  const proxy = await startNginx({
    dir: path.join(pki.dir, `nginx-${mode.log}`),
    site: ({ dir, port, httpPort }) =>
      rewriteSite(fs.readFileSync(path.join(DEPLOY, mode.file), "utf8"), {
        file: mode.file, upstream: mode.upstream, servers: nodes.map((n) => `127.0.0.1:${n.port}`),
        port, httpPort, serverName: "localhost", cert: fullchain, key: leaf.key, dir, logFormat: mode.log,
      }),
    reachable: (port) => tlsReachable(port, { servername: "localhost", ca: rootPem }),
  });
  const sockets = [];
  for (let i = 0; i < CLIENTS; i++) {
    const agent = new https.Agent({ ca: rootPem, keepAlive: true, localAddress: `127.0.0.${10 + (i % 200)}` });
    const s = io(`https://localhost:${proxy.port}`, { agent, ca: rootPem, transports: ["polling"], reconnection: false });
    await new Promise((resolve, reject) => {
      s.once("connect", resolve);
      s.once("connect_error", reject);
    });
    sockets.push({ s, agent });
  }
  let measuring = false;
  let stop = false;
  let errors = 0;
  const lat = [];
  const payload = "x".repeat(64);
  await Promise.all(sockets.map(async ({ s }) => {
    while (!stop) {
      const t0 = performance.now();
      try {
        await s.timeout(10000).emitWithAck("echo", payload);
        if (measuring) lat.push(performance.now() - t0);
      } catch {
        if (measuring) errors++;
      }
    }
  }).concat((async () => {
    await new Promise((r) => setTimeout(r, 3000));
    measuring = true;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    measuring = false;
    stop = true;
  })()));
  for (const { s, agent } of sockets) {
    s.disconnect();
    agent.destroy();
  }
  await proxy.stop();
  lat.sort((a, b) => a - b);
  return { mode: mode.name, acks_per_s: Math.round(lat.length / SECONDS), p50_ms: +percentile(lat, 50).toFixed(1),
    p99_ms: +percentile(lat, 99).toFixed(1), errors };
}

try {
  const redis = await startRedis();
  const pki = createPki({ prefix: "sio-bench-fwd-" });
  const rootPem = fs.readFileSync(pki.root.cert);
  const leaf = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"] });
  const fullchain = pki.bundle("fullchain.pem", leaf.cert, pki.intermediate.cert);
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    nodes.push(Object.assign(await startNode("server", redis.url, ["--port", String(port), "--trust-proxy", "--threads", "1"]), { port }));
  }
  for (const mode of MODES) console.log(JSON.stringify(await run(mode, nodes, pki, rootPem, leaf, fullchain)));
} finally {
  await closeAll();
}
