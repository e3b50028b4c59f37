#!/usr/bin/env node
// Measures the memory socketio-server spends per idle WSS client: starts the server (one worker
// thread, a self-signed certificate), opens N raw WebSocket connections over TLS that complete
// the Engine.IO open and a Socket.IO CONNECT to "/" (what a chat page does) and then only answer
// pings, and reads the server's VmRSS from /proc before and after. The same run over plain ws://
// shows what TLS itself adds. The result goes to docs/tls.md.
//
//   cd tests && node ../scripts/measure-idle-wss.mjs [--connections 3000] [--server PATH]
//       [--threads 1] [--ping-interval 5000] [--settle 12000] [--mode tls|plain|both]
//
// --server defaults to $SIO_BUILD_DIR/bin/socketio-server, else build/bin/socketio-server.
// Uses the `ws` package from tests/node_modules (run `npm ci` in tests/ first). Needs a file
// descriptor limit above 2 x N (the clients live in this process).
import { setTimeout as delay } from "node:timers/promises";
import { WebSocket, option, rssKiB, serverPath, startServer as spawnServer } from "./lib/measure.mjs";

const N = Number(option("connections", "3000"));
const THREADS = option("threads", "1");
const PING_INTERVAL = Number(option("ping-interval", "5000"));
const SETTLE_MS = Number(option("settle", String(Math.max(12000, 2 * PING_INTERVAL + 2000))));
const MODE = option("mode", "both");
const BATCH = Number(option("batch", "100"));
const SERVER = serverPath();

async function startServer(tls) {
  const args = ["--host", "127.0.0.1", "--port", "0", "--threads", THREADS, "--log-level", "warn",
    "--ping-interval", String(PING_INTERVAL), "--ping-timeout", "20000", "--presence-limit", "0"];
  if (tls) args.push("--tls-self-signed", "localhost");
  return spawnServer(SERVER, args);
}

/** One idle client: Engine.IO open, Socket.IO CONNECT to "/", then pong to every ping. */
function openClient(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("connection timed out"));
    }, 30000);
    ws.on("message", (data) => {
      const text = data.toString();
      if (text === "2") ws.send("3");
      else if (text.startsWith("0{")) ws.send("40");
      else if (text.startsWith("40")) {
        clearTimeout(timer);
        resolve(ws);
      }
    });
    ws.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.once("close", () => {
      ws.closedEarly = true;
    });
  });
}

async function openMany(url, count) {
  const all = [];
  for (let i = 0; i < count; i += BATCH) {
    all.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, () => openClient(url)))));
  }
  return all;
}

async function measure(tls) {
  const { proc, port } = await startServer(tls);
  const url = `${tls ? "wss" : "ws"}://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`;
  try {
    // Warm-up: the first connections pay for pools, tables and the allocator's arenas.
    const warm = await openMany(url, 200);
    await delay(3000);
    const before = rssKiB(proc.pid);
    const started = Date.now();
    const clients = await openMany(url, N);
    const openMs = Date.now() - started;
    const justOpened = rssKiB(proc.pid);
    // Idle, through a few heartbeats (each a TLS read and write), so buffers are released.
    await delay(SETTLE_MS);
    const after = rssKiB(proc.pid);
    const dropped = [...warm, ...clients].filter((ws) => ws.closedEarly || ws.readyState !== WebSocket.OPEN).length;
    for (const ws of [...warm, ...clients]) ws.terminate();
    return { mode: tls ? "wss" : "ws", connections: N, openMs, beforeKiB: before, openedKiB: justOpened, afterKiB: after,
      perConnKiB: (after - before) / N, dropped };
  } finally {
    proc.kill("SIGTERM");
    await new Promise((resolve) => (proc.exitCode !== null ? resolve() : proc.once("exit", resolve)));
  }
}

const results = [];
for (const tls of MODE === "both" ? [true, false] : [MODE === "tls"]) {
  const r = await measure(tls);
  results.push(r);
  console.log(JSON.stringify(r));
}
console.log(`\nsocketio-server ${SERVER}, --threads ${THREADS}, ${N} idle clients (Socket.IO connected, ping every ${PING_INTERVAL} ms), RSS measured ${SETTLE_MS} ms after the last one opened:`);
for (const r of results) {
  console.log(`  ${r.mode.padEnd(3)}: VmRSS ${(r.beforeKiB / 1024).toFixed(1)} MiB -> ${(r.afterKiB / 1024).toFixed(1)} MiB, ` +
    `${r.perConnKiB.toFixed(1)} KiB per connection${r.dropped ? ` (${r.dropped} dropped!)` : ""}`);
}
if (results.length === 2) console.log(`  TLS adds ${(results[0].perConnKiB - results[1].perConnKiB).toFixed(1)} KiB per idle connection`);
