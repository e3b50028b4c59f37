// bench/static_stall.mjs: what --static costs the WebSocket clients of the same shard (issue 15,
// "nothing blocks a shard thread"). One socketio-server --threads 1 --static DIR (pinned to CPU 0
// when taskset exists); this process (CPU 1 when started under `taskset -c 1`) runs one
// socket.io-client over WebSocket that sends `echo` with an ack back to back, and measures each
// round trip, in three phases of --seconds each:
//   idle:    nothing else;
//   fetch:   --fetchers keep-alive HTTP clients (on a worker thread) GET a --size-mb file in a
//            loop (over 2 MiB, the cache does not keep it: every GET reads it);
//   held:    one GET of a file whose open() is held by a file lease (python3, as
//            tests/integration/lib/lease.mjs) for --seconds: a slow disk on demand.
// Prints one line per phase: acks, p50 / p99 / max round trip, and static GETs done.
//
//   taskset -c 1 node bench/static_stall.mjs --bin build-release/bin [--seconds 10] [--fetchers 4] [--size-mb 8]
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "tests", "package.json"));
const { io } = require("socket.io-client");

const opts = { bin: "", seconds: 10, fetchers: 4, sizeMb: 8 };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (k === "--bin") opts.bin = v;
  else if (k === "--seconds") opts.seconds = Number(v);
  else if (k === "--fetchers") opts.fetchers = Number(v);
  else if (k === "--size-mb") opts.sizeMb = Number(v);
  else throw new Error(`bench/static_stall: unknown argument ${k}`);
}
if (!opts.bin) throw new Error("bench/static_stall: --bin DIR (the directory of socketio-server)");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-static-bench-"));
const big = Buffer.alloc(opts.sizeMb * 1024 * 1024);
for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
fs.writeFileSync(path.join(dir, "big.bin"), big);
fs.writeFileSync(path.join(dir, "held.txt"), "held");

const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;
const argv = [path.join(opts.bin, "socketio-server"), "--threads", "1", "--port", "0", "--host", "127.0.0.1",
  "--static", dir, "--log-level", "warn"];
const server = spawn(hasTaskset ? "taskset" : argv[0], hasTaskset ? ["-c", "0", ...argv] : argv.slice(1), {
  stdio: ["ignore", "pipe", "pipe"],
});
server.stderr.pipe(process.stderr);
process.on("exit", () => server.kill("SIGKILL"));
const port = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/listening on \S+:(\d+)/) || out.match(/127\.0\.0\.1:(\d+)/);
    if (m) resolve(Number(m[1]));
  });
  server.once("exit", (code) => reject(new Error(`socketio-server exited (${code}): ${out}`)));
});

const socket = io(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
await new Promise((resolve, reject) => {
  socket.once("connect", resolve);
  socket.once("connect_error", reject);
});

async function echoFor(ms) {
  const rtts = [];
  const end = performance.now() + ms;
  for (let i = 0; performance.now() < end; i++) {
    const t0 = performance.now();
    await socket.timeout(60000).emitWithAck("echo", i);
    rtts.push(performance.now() - t0);
  }
  rtts.sort((a, b) => a - b);
  const q = (p) => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))];
  return { acks: rtts.length, p50: q(0.5), p99: q(0.99), max: rtts[rtts.length - 1] };
}

// The fetchers run on a worker thread: receiving megabytes must not delay the echo client's loop.
const FETCHER = `
const { workerData, parentPort } = require("node:worker_threads");
const http = require("node:http");
const { port, fetchers, size } = workerData;
let stopped = false, done = 0;
parentPort.on("message", () => (stopped = true));
const one = (agent) => new Promise((resolve, reject) => {
  http.get({ host: "127.0.0.1", port, path: "/big.bin", agent }, (res) => {
    let n = 0;
    res.on("data", (c) => (n += c.length));
    res.on("end", () => (n === size ? resolve() : reject(new Error("short body: " + n))));
  }).on("error", reject);
});
Promise.all(Array.from({ length: fetchers }, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (!stopped) { await one(agent); done++; }
  agent.destroy();
})).then(() => parentPort.postMessage(done));
`;

async function withFetchers(fn) {
  const worker = new Worker(FETCHER, { eval: true, workerData: { port, fetchers: opts.fetchers, size: big.length } });
  const gets = new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  await sleep(200);
  const result = await fn();
  worker.postMessage("stop");
  return { result, gets: await gets };
}

const fmt = (r) => `${r.acks} acks, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, max ${r.max.toFixed(1)} ms`;
const phaseMs = opts.seconds * 1000;
await echoFor(1000); // warm-up

console.log(`idle:  ${fmt(await echoFor(phaseMs))}`);

{
  const { result: r, gets } = await withFetchers(() => echoFor(phaseMs));
  console.log(`fetch: ${fmt(r)}; ${gets} GETs of ${opts.sizeMb} MiB by ${opts.fetchers} clients (${(gets / opts.seconds).toFixed(1)}/s)`);
}

{
  const holder = spawn("python3", ["-c", `
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("leased", flush=True)
sys.stdin.readline()
`, path.join(dir, "held.txt")], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise((resolve) => holder.stdout.once("data", resolve));
  const t0 = performance.now();
  const held = new Promise((resolve) =>
    http.get({ host: "127.0.0.1", port, path: "/held.txt" }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - t0));
    }),
  );
  await sleep(100);
  // Released after the phase's time whatever the echoes do: a server that waits in open() on its
  // shard gets its acks only then.
  const release = setTimeout(() => holder.stdin.end("\n"), phaseMs);
  const r = await echoFor(phaseMs);
  const heldMs = await held;
  clearTimeout(release);
  holder.stdin.end();
  console.log(`held:  ${fmt(r)}; the held GET answered ${heldMs.toFixed(0)} ms after it was sent`);
}

socket.disconnect();
server.kill("SIGTERM");
fs.rmSync(dir, { recursive: true, force: true });
