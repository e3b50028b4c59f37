#!/usr/bin/env node
// Measures what connection state recovery keeps in socketio-server's memory: per retained packet
// and per kept (disconnected) session. Starts the server (one worker thread, --metrics,
// --presence-limit 0, --memory-trim-interval 1000 so that freed memory is given back before the RSS
// is read), with --connection-state-recovery and, as a control, without it.
//   packets:  N WebSocket clients (raw Engine.IO/Socket.IO over `ws`) join room "r"; one of them
//             sends P "chat message" broadcasts of a SIZE-byte text to "r" (in batches, waiting for
//             its own copy); every client must receive all P. Then /metrics:
//             socketio_recovery_retained_bytes / _retained_packets, socketio_heap_bytes{in_use},
//             and VmRSS, each against the same figures before the broadcasts.
//   sessions: S clients connect and join room "r" plus a room of their own, then their TCP
//             connections are destroyed (no close frame: "transport close", a reason that keeps
//             the session); once socketio_recovery_sessions reaches S (or, recovery off, once the
//             server counts no connection), heap and RSS against the figures before they connected.
// Each JSON line is one measurement; a table is printed at the end (docs/benchmarks.md).
//
//   cd tests && node ../scripts/measure-recovery-memory.mjs [--server PATH] [--clients 50]
//       [--packets 20000] [--size 100] [--sessions 2000] [--recovery on|off|both]
//
// --server defaults to $SIO_BUILD_DIR/bin/socketio-server, else build/bin/socketio-server. Uses
// `ws` from tests/node_modules (run `npm ci` in tests/ first). Needs a file descriptor limit
// above 2 x sessions (the clients live in this process).
import { setTimeout as delay } from "node:timers/promises";
import { WebSocket, option, rssKiB, scrapeMetrics, serverPath, startServer } from "./lib/measure.mjs";

const N = Number(option("clients", "50"));
const P = Number(option("packets", "20000"));
const SIZE = Number(option("size", "100"));
const S = Number(option("sessions", "2000"));
const RECOVERY = option("recovery", "both");
const SERVER = serverPath();
const BATCH = 100;

async function snapshot(proc, port) {
  const m = await scrapeMetrics(port);
  return {
    rss: rssKiB(proc.pid) * 1024,
    heap: m("socketio_heap_bytes", 'state="in_use"'),
    retainedBytes: m("socketio_recovery_retained_bytes"),
    retainedPackets: m("socketio_recovery_retained_packets"),
    sessions: m("socketio_recovery_sessions"),
    clients: m("socketio_connected_clients"),
  };
}

// One client: Engine.IO open, Socket.IO CONNECT, joins the rooms; answers pings. Resolves once
// the last join is acknowledged.
function connect(port, rooms) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
    let acks = 0;
    ws.on("error", reject);
    ws.on("message", (data) => {
      const s = data.toString();
      if (s.startsWith("0")) ws.send("40");
      else if (s === "2") ws.send("3");
      else if (s.startsWith("40")) rooms.forEach((r, i) => ws.send(`42${i}${JSON.stringify(["join", r])}`));
      else if (/^43\d/.test(s) && ++acks === rooms.length) resolve(ws);
    });
  });
}

async function connectMany(port, count, rooms) {
  const clients = [];
  for (let i = 0; i < count; i += BATCH) {
    const batch = [];
    for (let k = i; k < Math.min(count, i + BATCH); k++) batch.push(connect(port, rooms(k)));
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

async function waitFor(what, cond, ms) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

async function start(recovery) {
  const flags = ["--host", "127.0.0.1", "--port", "0", "--threads", "1", "--log-level", "warn", "--metrics",
    "--presence-limit", "0", "--memory-trim-interval", "1000"];
  if (recovery) flags.push("--connection-state-recovery");
  return startServer(SERVER, flags);
}

async function stop(proc) {
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
}

async function packets(recovery) {
  const { proc, port } = await start(recovery);
  const received = new Array(N).fill(0);
  const clients = await connectMany(port, N, () => ["r"]);
  clients.forEach((ws, i) => ws.on("message", (d) => d.toString().startsWith('42["chat message"') && received[i]++));
  await delay(1000);
  const before = await snapshot(proc, port);
  const text = "x".repeat(SIZE);
  const window = 500;
  for (let sent = 0; sent < P; ) {
    const n = Math.min(window, P - sent);
    for (let k = 0; k < n; k++) clients[0].send(`42${JSON.stringify(["chat message", "r", `${sent + k}:${text}`])}`);
    sent += n;
    await waitFor("the publisher's own copies", () => received[0] >= sent, 60000);
  }
  await waitFor("every delivery", () => received.every((r) => r >= P), 60000);
  await delay(2000);
  const after = await snapshot(proc, port);
  for (const ws of clients) ws.terminate();
  await stop(proc);
  return {
    measure: "packets",
    recovery,
    clients: N,
    packets: P,
    text_bytes: SIZE,
    deliveries: received.reduce((a, b) => a + b, 0),
    retained_packets: after.retainedPackets,
    retained_bytes_per_packet: Math.round(after.retainedBytes / P),
    heap_per_packet: Math.round((after.heap - before.heap) / P),
    rss_per_packet: Math.round((after.rss - before.rss) / P),
  };
}

async function sessions(recovery) {
  const { proc, port } = await start(recovery);
  await delay(1000);
  const before = await snapshot(proc, port);
  const clients = await connectMany(port, S, (k) => ["r", `own-${k}`]);
  await delay(2000);
  const connected = await snapshot(proc, port);
  for (const ws of clients) ws._socket.destroy(); // no close frame: the server sees "transport close"
  await waitFor("the disconnections", async () => {
    const m = await snapshot(proc, port);
    return recovery ? m.sessions >= S : m.clients === 0;
  }, 60000);
  await delay(2000);
  const after = await snapshot(proc, port);
  await stop(proc);
  return {
    measure: "sessions",
    recovery,
    sessions: S,
    kept_sessions: after.sessions,
    heap_per_connection: Math.round((connected.heap - before.heap) / S),
    heap_per_kept_session: Math.round((after.heap - before.heap) / S),
    rss_per_connection: Math.round((connected.rss - before.rss) / S),
    rss_per_kept_session: Math.round((after.rss - before.rss) / S),
  };
}

const modes = RECOVERY === "both" ? [true, false] : [RECOVERY === "on"];
const results = [];
for (const recovery of modes) {
  for (const run of [packets, sessions]) {
    const r = await run(recovery);
    console.log(JSON.stringify(r));
    results.push(r);
  }
}
const on = (r) => (r.recovery ? "on" : "off");
const show = (x) => (Number.isFinite(x) ? x : "—");
console.log("\n| measure | recovery | count | kept (gauge) | store's own count (B) | heap in use (B) | RSS (B) |");
console.log("|---|---|---|---|---|---|---|");
for (const r of results) {
  if (r.measure === "packets")
    console.log(`| per retained packet (${r.text_bytes} B text, ${r.clients} clients in the room) | ${on(r)} | ${r.packets} | ${show(r.retained_packets)} | ${show(r.retained_bytes_per_packet)} | ${r.heap_per_packet} | ${r.rss_per_packet} |`);
  else
    console.log(`| per kept session (2 rooms; while connected: heap ${r.heap_per_connection}, RSS ${r.rss_per_connection}) | ${on(r)} | ${r.sessions} | ${show(r.kept_sessions)} | — | ${r.heap_per_kept_session} | ${r.rss_per_kept_session} |`);
}
// What recovery itself costs: the same measurement with it on minus with it off (the server keeps
// some memory after the traffic or the disconnections either way: buffers, allocator caches).
const find = (m, rec) => results.find((r) => r.measure === m && r.recovery === rec);
if (find("packets", true) && find("packets", false)) {
  const [a, b] = [find("packets", true), find("packets", false)];
  console.log(`| per retained packet, on − off | | | | | ${a.heap_per_packet - b.heap_per_packet} | ${a.rss_per_packet - b.rss_per_packet} |`);
}
if (find("sessions", true) && find("sessions", false)) {
  const [a, b] = [find("sessions", true), find("sessions", false)];
  console.log(`| per kept session, on − off | | | | | ${a.heap_per_kept_session - b.heap_per_kept_session} | ${a.rss_per_kept_session - b.rss_per_kept_session} |`);
}
