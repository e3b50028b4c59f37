// No sticky sessions (docs/cluster.md, "One name, round-robin"): real nginx with
// deploy/nginx/socketio-round-robin.conf (plain round-robin, no hash, no ip_hash) over TLS in
// front of three plain socketio-server nodes on a real redis-server. Each request of a session
// may reach any node; a node that does not own the session forwards it to the owner over Redis
// (--forward-sessions, on with --redis). socket.io-client 4.8 clients of the three kinds
// (polling only, websocket only, default: polling then upgrade), 210 in all, connect, upgrade,
// join a room, send with acks, and every client receives every message exactly once; nginx's
// access log shows sessions whose requests reached several nodes. Then one node is SIGKILLed and
// started again on its port: its clients (and clients whose open connection went through it)
// reconnect by themselves, and afterwards every client again receives every message once.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { closeAll, track, until, request, IS_REFERENCE, TESTS_DIR, freePort } from "./lib/harness.mjs";
import { startRedis, startNode } from "./lib/redis.mjs";
import { createPki } from "./lib/pki.mjs";
import { readOr, rewriteSite, startNginx, tlsReachable } from "./lib/nginx.mjs";
import { io } from "socket.io-client";

const SKIP = IS_REFERENCE ? "the Node reference server does not forward sessions" : false;
const T = { timeout: 110000, skip: SKIP };
const CONFIG = path.resolve(TESTS_DIR, "..", "deploy", "nginx", "socketio-round-robin.conf");
const PER_KIND = 70;
const SENDERS_PER_KIND = 10;
const KINDS = { polling: ["polling"], websocket: ["websocket"], default: undefined };

let redis;
let pki;
let rootPem;
let agent;
let nodes = []; // {port, tag, ...}
let proxy;
const clients = [];

async function startPlainNode(port) {
  const node = await startNode("server", redis.url, ["--port", String(port), "--trust-proxy", "--metrics", "--threads", "2"]);
  // stderr and stdout are separate pipes: the log line may trail the "listening" line.
  const m = await until(() => /session ids carry the tag (\S{4});/.exec(node.stderr()), {
    timeoutMs: 5000,
    message: "the node logs its session-id tag",
  });
  return Object.assign(node, { port, tag: m[1] });
}

before(async () => {
  if (SKIP) return;
  redis = await startRedis();
  pki = createPki({ prefix: "sio-forward-" });
  rootPem = fs.readFileSync(pki.root.cert);
  const leaf = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"] });
  const fullchain = pki.bundle("fullchain.pem", leaf.cert, pki.intermediate.cert);
  const ports = [await freePort(), await freePort(), await freePort()];
  nodes = await Promise.all(ports.map(startPlainNode));
  assert.equal(new Set(nodes.map((n) => n.tag)).size, 3, "three different tags");
  proxy = await startNginx({
    dir: path.join(pki.dir, "nginx"),
    site: ({ dir, port, httpPort }) =>
      rewriteSite(fs.readFileSync(CONFIG, "utf8"), {
        file: "deploy/nginx/socketio-round-robin.conf",
        upstream: "socketio_rr_nodes",
        servers: nodes.map((n) => `127.0.0.1:${n.port}`),
        port,
        httpPort,
        serverName: "localhost",
        cert: fullchain,
        key: leaf.key,
        dir,
        logFormat: "socketio_rr",
      }),
    reachable: (port) => tlsReachable(port, { servername: "localhost", ca: rootPem }),
  });
  agent = new https.Agent({ ca: rootPem, keepAlive: true, maxSockets: Infinity });
  track(agent, () => agent.destroy());
});
after(closeAll);

/** A chat client through nginx that (re)joins "rr" on every connect and records what it gets. */
function chatClient(kind, n) {
  const socket = io(`https://localhost:${proxy.port}`, {
    agent,
    ca: rootPem,
    rejectUnauthorized: true,
    transports: KINDS[kind],
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
  });
  track(socket, () => socket.disconnect());
  const c = { kind, n, socket, got: [], sids: new Set(), disconnects: 0, joined: null };
  socket.on("chat message", (msg) => c.got.push(msg.text));
  socket.on("disconnect", () => c.disconnects++);
  socket.on("connect", () => {
    c.sids.add(socket.io.engine.id);
    c.joined = socket.timeout(15000).emitWithAck("join", "rr");
    // A server that closed the session on purpose is not retried by socket.io-client itself.
  });
  socket.on("disconnect", (reason) => reason === "io server disconnect" && socket.connect());
  return c;
}

async function connected(c, timeoutMs = 30000) {
  await until(() => c.socket.connected && c.joined, { timeoutMs, intervalMs: 20, message: `${c.kind} client ${c.n} connected` });
  const r = await c.joined;
  assert.deepEqual(r, { ok: true });
}

const ownerTag = (sid) => sid.slice(1, 5);

/** Sends one message per sender (with its ack) and checks every client gets each exactly once. */
async function roundOfMessages(label) {
  const senders = Object.keys(KINDS).flatMap((kind) => clients.filter((c) => c.kind === kind).slice(0, SENDERS_PER_KIND));
  for (const c of clients) c.got = [];
  const texts = senders.map((c) => `${label} from ${c.kind} ${c.n}`);
  await Promise.all(senders.map(async (c, i) => {
    const res = await c.socket.timeout(15000).emitWithAck("chat message", "rr", texts[i]);
    assert.deepEqual(res, { ok: true }, `ack of ${texts[i]}`);
  }));
  await until(() => clients.every((c) => c.got.length >= texts.length), {
    timeoutMs: 30000,
    intervalMs: 50,
    message: `every client got the ${texts.length} messages of ${label}`,
  });
  await new Promise((r) => setTimeout(r, 500)); // anything extra would arrive now
  for (const c of clients) {
    assert.deepEqual([...c.got].sort(), [...texts].sort(), `${c.kind} client ${c.n}: each message once`);
  }
  return texts.length;
}

function accessLog() {
  return readOr(proxy.accessLog).split("\n").filter(Boolean).map((line) => {
    const m = /^(\S+) \[[^\]]+\] "([^"]*)" (\d+) \d+ rt=\S+ upstream=(\S+) sid=(\S*)$/.exec(line);
    assert.ok(m, `access log line: ${line}`);
    return { request: m[2], status: Number(m[3]), upstream: m[4], sid: m[5] };
  });
}

async function metric(node, re) {
  const res = await request({ port: node.port, path: "/metrics" });
  const m = re.exec(res.text);
  return m ? Number(m[1]) : 0;
}

describe("round-robin without sticky sessions: requests forwarded to the session's node", { skip: SKIP }, () => {
  test(`${3 * PER_KIND} clients (polling, websocket, default) connect, upgrade, chat, ack; every message once`, T, async () => {
    for (const kind of Object.keys(KINDS)) for (let n = 0; n < PER_KIND; n++) clients.push(chatClient(kind, n));
    for (let i = 0; i < clients.length; i += 30) await Promise.all(clients.slice(i, i + 30).map((c) => connected(c)));
    await Promise.all(clients.filter((c) => c.kind === "default").map((c) =>
      until(() => c.socket.io.engine.transport.name === "websocket", { timeoutMs: 30000, intervalMs: 50, message: `client ${c.n} upgraded` })));
    for (const c of clients) {
      const expected = c.kind === "polling" ? "polling" : "websocket";
      assert.equal(c.socket.io.engine.transport.name, expected, `${c.kind} client ${c.n}'s transport`);
    }
    // Sessions live on all three nodes.
    const owners = new Set(clients.map((c) => ownerTag(c.socket.io.engine.id)));
    assert.deepEqual([...owners].sort(), nodes.map((n) => n.tag).sort());

    await roundOfMessages("round 1");

    // No stickiness: polling sessions' requests reached several nodes.
    const bySid = new Map();
    for (const e of accessLog()) {
      if (!e.sid || e.sid === "-") continue;
      if (!bySid.has(e.sid)) bySid.set(e.sid, new Set());
      bySid.get(e.sid).add(e.upstream);
    }
    const polling = clients.filter((c) => c.kind === "polling").map((c) => bySid.get(c.socket.io.engine.id)?.size ?? 0);
    const spread = polling.filter((n) => n > 1).length;
    console.log(`# ${spread} of ${polling.length} polling-only sessions had requests reach more than one node`);
    assert.ok(spread >= polling.length / 2, "round-robin spreads one session's requests");
    let served = 0;
    for (const n of nodes) served += await metric(n, /^socketio_forward_exchanges_total\{result="served"\} (\d+)/m);
    console.log(`# ${served} exchanges served for other nodes`);
    assert.ok(served > 100);
    for (const c of clients) assert.equal(c.disconnects, 0, `${c.kind} client ${c.n} stayed connected`);
  });

  test("one node SIGKILLed and restarted on its port: its clients reconnect, then every message once again", T, async () => {
    const victim = nodes[1];
    const before = new Map(clients.map((c) => [c, c.socket.io.engine.id]));
    const killedAt = Date.now();
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const restarted = await startPlainNode(victim.port);
    nodes[1] = restarted;
    // Every client of the killed node lost its session and makes a new one (on any node).
    const orphans = clients.filter((c) => ownerTag(before.get(c)) === victim.tag);
    assert.ok(orphans.length > 0);
    await until(() => clients.every((c) => c.socket.connected && c.socket.io.engine.id !== undefined &&
      ownerTag(c.socket.io.engine.id) !== victim.tag), { timeoutMs: 45000, intervalMs: 100, message: "every client connected to a live session" });
    const recovered = Date.now() - killedAt;
    // A dead owner is noticed by the nodes holding its requests within one owner check (2 s),
    // not at --forward-timeout (45 s) nor at the clients' ping timeout (45 s).
    assert.ok(recovered < 20000, `every client back after ${recovered} ms`);
    await Promise.all(clients.map((c) => connected(c)));
    for (const c of orphans) assert.notEqual(c.socket.io.engine.id, before.get(c), `${c.kind} client ${c.n} got a new session`);
    const others = clients.filter((c) => !orphans.includes(c));
    const noticed = others.filter((c) => c.disconnects > 0);
    console.log(`# every client back ${recovered} ms after the kill; killed node owned ${orphans.length} sessions; ${noticed.length} of the other ${others.length} clients ` +
      `reconnected (their open connection went through it: ${JSON.stringify(Object.fromEntries(Object.keys(KINDS).map((k) => [k, noticed.filter((c) => c.kind === k).length])))})`);
    await roundOfMessages("round 2");
    const errors = readOr(proxy.errorLog).split("\n").filter((l) => /\[(crit|alert|emerg)\]/.test(l));
    assert.deepEqual(errors, []);
  });

  test("the nodes stop cleanly on SIGTERM", T, async () => {
    for (const c of clients) c.socket.disconnect();
    for (const node of nodes) {
      await node.stop();
      const { code, signal } = await node.exited;
      assert.equal(signal, null, node.stderr().slice(-30000));
      assert.equal(code, 0, node.stderr());
      assert.doesNotMatch(node.stderr(), /Sanitizer|runtime error:/);
    }
  });
});
