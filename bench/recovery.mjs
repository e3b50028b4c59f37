// bench/recovery.mjs: how long a client takes to recover its session on another node after its
// own node was SIGKILLed, N messages sent to its room meanwhile (--redis-mode streams,
// --connection-state-recovery). Run by bench/recovery (which builds the Release binaries).
//
// Per run: a redis-server (CPU 1), node A = socketio-server (CPU 0), node B = socketio-server or the
// Node reference (tests/reference/chat-server.mjs: socket.io 4.8 + @socket.io/redis-streams-adapter
// 0.3.1, CPU 0). A socket.io-client 4.8 client (CPU 1, this process) joins a room on A and
// receives one message (its offset); A is SIGKILLed; a second client on B sends N chat messages
// to the room (all stored in the stream before the clock starts); the first client reconnects to
// B. Measured: from socket.connect() to its "connect" event, by which time every missed message
// has arrived (they come before the CONNECT answer; each is checked to be there, once, in order).
//
//   node bench/recovery.mjs --bin DIR [--counts 0,100,1000,10000] [--reps 5] [--restorer cpp,node]
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// The clients come from the tests' npm dependencies (tests/package.json).
const require = createRequire(path.join(root, "tests", "package.json"));
const { io } = require("socket.io-client");
const { createClient } = require("redis");

const opts = { bin: "", counts: [0, 100, 1000, 10000], reps: 5, restorer: ["cpp", "node"] };
for (let i = 2; i < process.argv.length; i++) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (k === "--bin") opts.bin = v;
  else if (k === "--counts") opts.counts = v.split(",").map(Number);
  else if (k === "--reps") opts.reps = Number(v);
  else if (k === "--restorer") opts.restorer = v.split(",");
  else throw new Error(`bench/recovery: unknown argument ${k}`);
  i++;
}
if (!opts.bin) throw new Error("bench/recovery: --bin DIR (the directory of socketio-server)");

const children = new Set();
function start(cpu, cmd, args) {
  const p = spawn("taskset", ["-c", String(cpu), cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(p);
  p.once("exit", () => children.delete(p));
  p.out = "";
  p.stdout.on("data", (d) => (p.out += d));
  p.stderr.on("data", (d) => (p.out += d));
  return p;
}
function stopAll() {
  for (const p of children) p.kill("SIGKILL");
}
process.on("exit", stopAll);
process.on("SIGINT", () => process.exit(130));

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function until(cond, what, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(5);
  }
  throw new Error(`bench/recovery: ${what} not within ${ms} ms`);
}

async function node(kind, redisUrl, key) {
  const common = ["--host", "127.0.0.1", "--port", "0", "--redis", redisUrl, "--redis-key", key, "--redis-mode", "streams",
    "--connection-state-recovery", "--redis-streams-max-len", "1000000"];
  const p =
    kind === "cpp"
      ? start(0, path.join(opts.bin, "socketio-server"), [...common, "--threads", "1", "--log-level", "warn"])
      : start(0, process.execPath, [path.join(root, "tests", "reference", "chat-server.mjs"), ...common]);
  await until(() => /listening on (\S+)/.test(p.out), `${kind} node listening`);
  p.url = new URL(/listening on (\S+)/.exec(p.out)[1]).origin;
  return p;
}

function client(url) {
  const s = io(url, { path: "/socket.io/", forceNew: true, transports: ["websocket"], reconnection: false });
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

async function run(restorer, n, redisUrl, r, key) {
  const a = await node("cpp", redisUrl, key);
  const b = await node(restorer, redisUrl, key);
  const c = await client(a.url);
  const got = [];
  c.on("chat message", (m) => got.push(m.text));
  await c.timeout(5000).emitWithAck("join", "bench");
  const driver = await client(b.url);
  await driver.timeout(5000).emitWithAck("chat message", "bench", "first");
  await until(() => got.length === 1, "first message");
  await until(async () => (await r.get(`sio:session:${c._pid}`)) !== null, "session saved");
  const gone = new Promise((resolve) => c.once("disconnect", resolve));
  a.kill("SIGKILL");
  await gone;
  const before = await r.xLen(key);
  // N messages, 100 in flight at a time; then wait until the stream holds them all.
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 100); j++) batch.push(driver.timeout(10000).emitWithAck("chat message", "bench", j));
    await Promise.all(batch);
  }
  await until(async () => (await r.xLen(key)) >= before + n, "messages stored");
  got.length = 0;
  c.io.uri = b.url;
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    c.once("connect", resolve);
    c.once("connect_error", reject);
    c.connect();
  });
  const ms = performance.now() - t0;
  if (!c.recovered) throw new Error(`bench/recovery: not recovered (${restorer}, N=${n})`);
  if (got.length !== n || got.some((x, i) => x !== i)) throw new Error(`bench/recovery: ${got.length} of ${n} missed messages, or out of order`);
  c.disconnect();
  driver.disconnect();
  b.kill("SIGKILL");
  return ms;
}

const redisPort = await freePort();
const redis = start(1, "redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
const redisUrl = `redis://127.0.0.1:${redisPort}`;
await until(() => /Ready to accept connections/.test(redis.out), "redis-server");
const r = createClient({ url: redisUrl });
await r.connect();

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
console.log("| restored on | missed messages | reconnect + replay, median (min–max) of " + opts.reps + " | missed messages/s |");
console.log("|---|---|---|---|");
let run_no = 0;
for (const restorer of opts.restorer) {
  for (const n of opts.counts) {
    const times = [];
    for (let k = 0; k < opts.reps; k++) times.push(await run(restorer, n, redisUrl, r, `bench${run_no++}`));
    const m = median(times);
    const rate = n > 0 ? Math.round(n / (m / 1000)).toLocaleString("en") : "—";
    console.log(
      `| ${restorer === "cpp" ? "socketio-server" : "Node (socket.io 4.8 + streams adapter 0.3.1)"} | ${n} | ${m.toFixed(1)} ms (${Math.min(...times).toFixed(1)}–${Math.max(...times).toFixed(1)}) | ${rate} |`,
    );
  }
}
await r.quit();
stopAll();
