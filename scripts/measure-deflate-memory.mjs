#!/usr/bin/env node
// Measures what permessage-deflate costs socketio-server in memory per connection: starts the
// server (one worker thread, --metrics), opens N WebSocket clients (the `ws` package, offering
// permessage-deflate as socket.io-client does) that join one room; then one client broadcasts a
// 3 KB chat message to all (every connection is sent a compressed message) and every client sends
// one compressed 3 KB message of its own (every connection inflates one). It reads the server's
// VmRSS from /proc after the connections are up and after the traffic, and the zlib memory gauge
// (socketio_ws_zlib_memory_bytes) from /metrics. Modes: off (no --per-message-deflate), on (the
// defaults: no context takeover) and takeover (context takeover both ways, as ws does). The
// results go to docs/reliability.md.
//
//   cd tests && node ../scripts/measure-deflate-memory.mjs [--connections 1000] [--server PATH]
//       [--mode off|on|takeover|all]
//
// --server defaults to $SIO_BUILD_DIR/bin/socketio-server, else build/bin/socketio-server. Uses
// `ws` from tests/node_modules (run `npm ci` in tests/ first). Needs a file descriptor limit
// above 2 x N (the clients live in this process).
import { setTimeout as delay } from "node:timers/promises";
import { WebSocket, option, rssKiB, scrapeMetrics, serverPath, startServer as spawnServer } from "./lib/measure.mjs";

const N = Number(option("connections", "1000"));
const MODE = option("mode", "all");
const BATCH = 100;
const SERVER = serverPath();
const FLAGS = {
  off: [],
  on: ["--per-message-deflate"],
  takeover: ["--per-message-deflate", "--per-message-deflate-server-no-context-takeover=false", "--per-message-deflate-client-no-context-takeover=false"],
};

// A 3 KB chat text: words, ids and numbers (compresses about 2:1 alone, as real events do).
function chatText(seed) {
  const words = ["hello", "room", "deploy", "server", "client", "thanks", "later", "coffee", "ticket", "merge"];
  let x = seed;
  const rnd = (n) => ((x = (x * 1103515245 + 12345) % 2147483648) % n);
  const items = [];
  while (JSON.stringify(items).length < 3000) items.push({ id: `m_${rnd(1e8)}`, user: `u_${rnd(1e5)}`, text: Array.from({ length: 8 }, () => words[rnd(10)]).join(" ") });
  return JSON.stringify(items);
}

async function startServer(flags) {
  const args = ["--host", "127.0.0.1", "--port", "0", "--threads", "1", "--log-level", "warn", "--metrics", "--presence-limit", "0", ...flags];
  return spawnServer(SERVER, args);
}

// One client: Engine.IO open, Socket.IO CONNECT, join "r"; answers pings; counts "chat message".
function connect(port, stats) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: true });
    ws.on("error", reject);
    ws.on("message", (data) => {
      const s = data.toString();
      if (s.startsWith("0")) ws.send("40");
      else if (s === "2") ws.send("3");
      else if (s.startsWith("40")) ws.send('420["join","r"]');
      else if (s.startsWith("430")) resolve(ws);
      else if (s.startsWith('42["chat message"')) stats.received++;
    });
  });
}

async function measure(mode) {
  const { proc, port } = await startServer(FLAGS[mode]);
  await delay(500);
  const base = rssKiB(proc.pid);
  const stats = { received: 0 };
  const clients = [];
  for (let i = 0; i < N; i += BATCH) {
    const batch = [];
    for (let k = i; k < Math.min(N, i + BATCH); k++) batch.push(connect(port, stats));
    clients.push(...(await Promise.all(batch)));
  }
  await delay(2000);
  const connected = rssKiB(proc.pid);
  // One broadcast to every connection, then one message from every connection.
  clients[0].send(`42${JSON.stringify(["chat message", "r", chatText(1)])}`);
  const deadline = Date.now() + 30000;
  while (stats.received < N && Date.now() < deadline) await delay(50);
  for (const [i, ws] of clients.entries()) ws.send(`42${JSON.stringify(["chat message", "elsewhere", chatText(i + 2)])}`);
  await delay(3000);
  const after = rssKiB(proc.pid);
  const metrics = await scrapeMetrics(port);
  const zlibConnections = metrics("socketio_ws_zlib_memory_bytes", 'held_by="connections"');
  const zlibShards = metrics("socketio_ws_zlib_memory_bytes", 'held_by="shards"');
  for (const ws of clients) ws.terminate();
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  return {
    mode,
    connections: N,
    broadcast_received: stats.received,
    rss_per_connection_kib: +(((connected - base) / N).toFixed(2)),
    rss_growth_after_traffic_per_connection_kib: +(((after - connected) / N).toFixed(2)),
    zlib_per_connection_kib: +((zlibConnections / N / 1024).toFixed(2)),
    zlib_shards_kib: +((zlibShards / 1024).toFixed(1)),
  };
}

const modes = MODE === "all" ? ["off", "on", "takeover"] : [MODE];
for (const mode of modes) console.log(JSON.stringify(await measure(mode)));
