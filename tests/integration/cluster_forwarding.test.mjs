// No sticky sessions (docs/cluster.md, "One name, round-robin"): real nginx with
// deploy/nginx/socketio-round-robin.conf (plain round-robin, no hash, no ip_hash) over TLS in
// front of three plain socketio-server nodes on a real redis-server. Each request of a session
// may reach any node; a node that does not own the session forwards it to the owner over Redis
// (--forward-sessions, on with --redis). socket.io-client 4.8 clients of the three kinds
// (polling only, websocket only, default: polling then upgrade), 210 in all, connect, upgrade,
// join a room, send with acks, and every client receives every message exactly once; nginx's
// access log shows sessions whose requests reached several nodes, and upgrades that nginx
// passed from node to node until they reached their session's owner (the nodes answer 404 to
// an upgrade of another node's session when nginx says it retries on 404). Then one node is
// stopped gracefully (SIGTERM) and started again on its port: its clients reconnect, and no
// client of another node notices (the polls it relayed are released: their owners answer them
// at once; no WebSocket passes through it). Then another node is SIGKILLed and started again:
// its clients reconnect; the polling clients whose held long-poll it relayed do not notice
// (nginx retries the GET on another node, and the owner lets the new poll supersede the one held
// for the dead node). After each, every client again receives every message once. Without
// nginx's header, an upgrade that reaches another node is bridged to the owner (tested raw).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { closeAll, track, until, request, startRequest, openWebSocket, IS_REFERENCE, TESTS_DIR, freePort } from "./lib/harness.mjs";
import { startRedis, startNode } from "./lib/redis.mjs";
import { createPki } from "./lib/pki.mjs";
import { logLines, readOr, rewriteSite, startNginx, tlsReachable } from "./lib/nginx.mjs";
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
const portOfTag = new Map(); // every node started, restarted ones included

async function startPlainNode(port) {
  const node = await startNode("server", redis.url, ["--port", String(port), "--trust-proxy", "--metrics", "--threads", "2"]);
  // stderr and stdout are separate pipes: the log line may trail the "listening" line.
  const m = await until(() => /session ids carry the tag (\S{4});/.exec(node.stderr()), {
    timeoutMs: 5000,
    message: "the node logs its session-id tag",
  });
  portOfTag.set(m[1], port);
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
    c.joined.catch(() => {}); // a disconnect before the ack: the next connect joins again
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
  return logLines(proxy.accessLog).map((line) => {
    // upstream: "a:p" or, when nginx retried the request on another node, "a:p, b:q".
    const m = /^(\S+) \[[^\]]+\] "([^"]*)" (\d+) \d+ rt=\S+ upstream=(.+) sid=(\S*)$/.exec(line);
    assert.ok(m, `access log line: ${line}`);
    return { request: m[2], status: Number(m[3]), upstream: m[4].split(", ")[0], upstreams: m[4].split(", "), sid: m[5] };
  });
}

/**
 * After `victim` went away: the clients it owned, the default clients of other nodes whose
 * WebSocket it bridged (nginx logs a WebSocket when it closes; the last node it tried is the
 * one that accepted it), and every other client.
 */
function affected(victim, sidBefore) {
  const addr = `127.0.0.1:${victim.port}`;
  const bridgedSids = new Set(accessLog().filter((e) => /transport=websocket/.test(e.request) && e.status === 101 &&
    e.upstreams.at(-1) === addr).map((e) => e.sid));
  const orphans = clients.filter((c) => ownerTag(sidBefore.get(c)) === victim.tag);
  const bridged = clients.filter((c) => !orphans.includes(c) && bridgedSids.has(sidBefore.get(c)));
  const others = clients.filter((c) => !orphans.includes(c) && !bridged.includes(c));
  return { orphans, bridged, others };
}

const byKind = (list) => JSON.stringify(Object.fromEntries(Object.keys(KINDS).map((k) => [k, list.filter((c) => c.kind === k).length])));

async function everyClientBack(victim, sidBefore, timeoutMs) {
  const back = (c) => c.socket.connected && c.socket.io.engine.id && ownerTag(c.socket.io.engine.id) !== victim.tag;
  const missing = () => clients.filter((c) => !back(c)).map((c) =>
    `${c.kind} ${c.n} (was ${sidBefore.get(c)}, now ${c.socket.io.engine?.id} ${c.socket.io.engine?.transport?.name} connected=${c.socket.connected})`);
  await until(() => clients.every(back), { timeoutMs, intervalMs: 100, message: "every client connected to a live session" })
    .catch((e) => assert.fail(`${e.message}: ${missing().join(", ")}`));
  await Promise.all(clients.map((c) => connected(c)));
}

/**
 * Waits until the owners of the bridged clients' old sessions have closed them (asked directly:
 * "Session ID unknown", code 1, instead of the transport mismatch a live WebSocket session gets),
 * rather than keeping them, and their sockets in their rooms, until their ping timeout (45 s).
 */
async function bridgedSessionsClosed(bridged, sidBefore, timeoutMs) {
  const start = Date.now();
  for (const c of bridged) {
    const sid = sidBefore.get(c);
    const owner = nodes.find((n) => n.tag === ownerTag(sid));
    assert.ok(owner, `the owner of ${sid} is alive`);
    for (;;) {
      const res = await request({ port: owner.port, path: `/socket.io/?EIO=4&transport=polling&sid=${sid}` });
      if (res.status === 400 && /"code":1/.test(res.text)) break;
      assert.ok(Date.now() - start < timeoutMs, `${c.kind} client ${c.n}'s old session ${sid} still open after ${timeoutMs} ms: ${res.status} ${res.text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return Date.now() - start;
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
    // Upgrades of the default clients: nginx passed those that reached another node on (404)
    // until the owner accepted them, so every WebSocket lives on its session's node.
    let passedOn = 0;
    for (const n of nodes) passedOn += await metric(n, /^socketio_forward_exchanges_total\{result="passed_on"\} (\d+)/m);
    console.log(`# ${passedOn} upgrades passed on by a node that did not own the session (404)`);
    assert.ok(passedOn > 0, "some upgrades reached a node other than their owner first");
    for (const c of clients) assert.equal(c.disconnects, 0, `${c.kind} client ${c.n} stayed connected`);
  });

  test("a held poll relayed by another node gives way to the next poll by another way; by the same way it is an overlap", T, async () => {
    const [owner, relay, third] = nodes;
    const eio = (sid) => `/socket.io/?EIO=4&transport=polling${sid ? `&sid=${sid}` : ""}`;
    const handshake = async () => {
      const res = await request({ port: owner.port, path: eio() });
      assert.equal(res.status, 200);
      return JSON.parse(res.text.slice(1)).sid;
    };
    const held = (port, sid) => startRequest({ port, path: eio(sid), timeoutMs: 60000 }).response;
    const stillHeld = (p) => Promise.race([p.then(() => "answered"), new Promise((r) => setTimeout(r, 500, "held"))]);
    const superseded = () => metric(owner, /^socketio_relayed_polls_answered_total\{cause="superseded"\} (\d+)/m);
    const before = await superseded();

    // Relayed by one node, then directly, then relayed by a third: each gives way with a noop.
    const sid = await handshake();
    const viaRelay = held(relay.port, sid);
    assert.equal(await stillHeld(viaRelay), "held");
    const direct = held(owner.port, sid);
    assert.equal((await viaRelay).text, "6", "the relayed poll is answered with a noop");
    assert.equal(await stillHeld(direct), "held", "the direct one is held: the session lives");
    // Two direct polls: the overlap of the reference (400, the session closes: the held one gets "1").
    const overlap = await request({ port: owner.port, path: eio(sid) });
    assert.equal(overlap.status, 400);
    assert.equal((await direct).text, "1");
    assert.equal(await superseded(), before + 1);

    // Two polls relayed by the same node: an overlap too.
    const sid2 = await handshake();
    const first = held(relay.port, sid2);
    assert.equal(await stillHeld(first), "held");
    const second = await request({ port: relay.port, path: eio(sid2) });
    assert.equal(second.status, 400);
    assert.equal((await first).text, "1");

    // Relayed by one node, then by another: a noop for the first, the second is held.
    const sid3 = await handshake();
    const a = held(relay.port, sid3);
    assert.equal(await stillHeld(a), "held");
    const b = held(third.port, sid3);
    assert.equal((await a).text, "6");
    assert.equal(await stillHeld(b), "held");
    const close = await request({ port: owner.port, method: "POST", path: eio(sid3), body: "1" });
    assert.equal(close.status, 200);
    assert.equal((await b).text, "6", "a POSTed close releases the held poll with a noop");
    assert.equal(await superseded(), before + 2);
  });

  test("an upgrade of another node's session: answered with the balancer's retry status when it names one, bridged to the owner otherwise", T, async () => {
    const [owner, relay] = nodes;
    const handshake = async () => {
      const res = await request({ port: owner.port, path: "/socket.io/?EIO=4&transport=polling" });
      assert.equal(res.status, 200);
      return JSON.parse(res.text.slice(1)).sid;
    };
    const wsUrl = (sid) => `ws://127.0.0.1:${relay.port}/socket.io/?EIO=4&transport=websocket&sid=${sid}`;
    const passedOn = () => metric(relay, /^socketio_forward_exchanges_total\{result="passed_on"\} (\d+)/m);

    // The balancer retries on 404: the node answers 404 and keeps nothing open.
    const sid = await handshake();
    const before = await passedOn();
    const refused = await openWebSocket(wsUrl(sid), { headers: { "X-Socketio-Retry-Status": "404" } }).then(
      () => assert.fail("the upgrade was accepted"), (e) => e);
    assert.equal(refused.status, 404, String(refused));
    assert.match(refused.body.toString(), /"code":1/);
    assert.equal(await passedOn(), before + 1);
    // The session is untouched on its owner: its upgrade there still works.
    const direct = await openWebSocket(`ws://127.0.0.1:${owner.port}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    direct.send("2probe");
    assert.equal(await direct.next(), "3probe");
    await direct.close();

    // No header, or one that names no error status: bridged through this node to the owner.
    for (const headers of [{}, { "X-Socketio-Retry-Status": "200" }, { "X-Socketio-Retry-Status": "40x" }]) {
      const sid2 = await handshake();
      const ws = await openWebSocket(wsUrl(sid2), { headers });
      ws.send("2probe");
      assert.equal(await ws.next(), "3probe", JSON.stringify(headers));
      ws.send("5");
      ws.send("40");
      assert.match(await ws.next(), /^40\{"sid":"/, "CONNECT over the bridged WebSocket");
      await ws.close();
    }
    assert.equal(await passedOn(), before + 1);
  });

  test("one node stopped gracefully (SIGTERM) and restarted: its clients reconnect, no other client notices", T, async () => {
    const victim = nodes[2];
    const sidBefore = new Map(clients.map((c) => [c, c.socket.io.engine.id]));
    const disconnectsBefore = new Map(clients.map((c) => [c, c.disconnects]));
    const logBefore = accessLog().length;
    const stoppedAt = Date.now();
    await victim.stop();
    const { code, signal } = await victim.exited;
    assert.equal(signal, null, victim.stderr().slice(-30000));
    assert.equal(code, 0, victim.stderr().slice(-30000));
    assert.doesNotMatch(victim.stderr(), /exchanges for other nodes' sessions still open/);
    nodes[2] = await startPlainNode(victim.port);
    await new Promise((r) => setTimeout(r, 300));
    const { orphans, bridged, others } = affected(victim, sidBefore);
    assert.ok(orphans.length > 0);
    await everyClientBack(victim, sidBefore, 45000);
    const back = Date.now() - stoppedAt;
    for (const c of orphans) assert.notEqual(c.socket.io.engine.id, sidBefore.get(c), `${c.kind} client ${c.n} got a new session`);
    const noticed = (list) => list.filter((c) => c.disconnects > disconnectsBefore.get(c));
    // The polls it relayed were released: answered by their owners, retried by nobody.
    const released = accessLog().slice(logBefore).filter((e) => e.upstream === `127.0.0.1:${victim.port}` && e.status === 200 &&
      /transport=polling/.test(e.request) && e.sid !== "-" && !orphans.some((c) => sidBefore.get(c) === e.sid));
    console.log(`# SIGTERM: every client back ${back} ms after the stop; the node owned ${orphans.length} sessions (${noticed(orphans).length} reconnected), ` +
      `bridged ${bridged.length} WebSockets of other nodes' clients (${noticed(bridged).length} reconnected); ${noticed(others).length} of the other ` +
      `${others.length} clients noticed ${byKind(noticed(others))}; ${released.length} polls it relayed were answered during the stop`);
    assert.deepEqual(bridged.map((c) => `${c.kind} ${c.n}`), [], "no WebSocket of another node's session passed through it");
    assert.deepEqual(noticed(others).map((c) => `${c.kind} ${c.n}`), [], "no client of another node noticed");
    assert.equal(noticed(orphans).length, orphans.length, "its own clients were told to go (io server disconnect)");
    assert.ok(back < 30000, `every client back after ${back} ms`);
    // The owners of the WebSockets it bridged close those sessions (transport close).
    const leftover = await bridgedSessionsClosed(bridged, sidBefore, 10000);
    console.log(`# SIGTERM: the ${bridged.length} bridged sessions closed on their owners ${leftover} ms after every client was back`);
    await roundOfMessages("round 2");
  });

  test("one node SIGKILLed and restarted on its port: its clients reconnect, then every message once again", T, async () => {
    const victim = nodes[1];
    const sidBefore = new Map(clients.map((c) => [c, c.socket.io.engine.id]));
    const disconnectsBefore = new Map(clients.map((c) => [c, c.disconnects]));
    const logBefore = accessLog().length;
    const killedAt = Date.now();
    victim.proc.kill("SIGKILL");
    await victim.exited;
    nodes[1] = await startPlainNode(victim.port);
    // Every client of the killed node lost its session and makes a new one (on any node).
    await everyClientBack(victim, sidBefore, 45000);
    const recovered = Date.now() - killedAt;
    const { orphans, bridged, others } = affected(victim, sidBefore);
    assert.ok(orphans.length > 0);
    // A dead owner is noticed by the nodes holding its requests within one owner check (2 s),
    // not at --forward-timeout (45 s) nor at the clients' ping timeout (45 s).
    assert.ok(recovered < 20000, `every client back after ${recovered} ms`);
    for (const c of orphans) assert.notEqual(c.socket.io.engine.id, sidBefore.get(c), `${c.kind} client ${c.n} got a new session`);
    const noticed = (list) => list.filter((c) => c.disconnects > disconnectsBefore.get(c));
    const noticedOthers = noticed(others);
    // The owners of the WebSockets it bridged learn that it is gone within an owner check (2 s),
    // not at their ping timeout (45 s).
    const leftover = await bridgedSessionsClosed(bridged, sidBefore, 10000);
    await roundOfMessages("round 3");
    // Long-polls of other nodes' sessions that were held through the killed node: nginx retried
    // them on another node, and the owner held the retry (answered by the round of messages at
    // the latest: nginx logs a request when it ends).
    const retried = accessLog().slice(logBefore).filter((e) => e.upstreams.length > 1 && e.upstream === `127.0.0.1:${victim.port}` &&
      /^GET .*transport=polling/.test(e.request) && !orphans.some((c) => sidBefore.get(c) === e.sid));
    console.log(`# SIGKILL: every client back ${recovered} ms after the kill; the node owned ${orphans.length} sessions, bridged ${bridged.length} ` +
      `WebSockets of other nodes' clients (${noticed(bridged).length} reconnected); ${noticedOthers.length} of the other ${others.length} clients ` +
      `noticed ${byKind(noticedOthers)}; the bridged sessions closed on their owners ${leftover} ms after every client was back; nginx retried ${retried.length} long-polls of other nodes' sessions it held (statuses ${JSON.stringify(retried.map((e) => e.status))})`);
    for (const e of retried) assert.equal(e.status, 200, `a retried long-poll is answered: ${e.request}`);
    // A POST it was relaying when it died is lost (nginx does not replay a POST): its client
    // reconnects. The idle clients here send only pongs, so that is rare; nothing else may be.
    assert.deepEqual(bridged.map((c) => `${c.kind} ${c.n}`), [], "no WebSocket of another node's session passed through it");
    assert.ok(noticedOthers.length <= 2, `clients of other nodes that noticed: ${noticedOthers.map((c) => `${c.kind} ${c.n}`)}`);
    assert.ok(retried.length > 0, "some held long-polls went through the killed node");
    const errors = readOr(proxy.errorLog).split("\n").filter((l) => /\[(crit|alert|emerg)\]/.test(l));
    assert.deepEqual(errors, []);
  });

  test("every WebSocket upgrade ended on its session's owner; the nodes stop cleanly on SIGTERM", T, async () => {
    for (const c of clients) c.socket.disconnect();
    // nginx logs a WebSocket when it closes: now every one of them.
    const upgradeOf = (e) => e.status === 101 && /transport=websocket/.test(e.request) && e.sid !== "-" && e.sid !== "";
    await until(() => accessLog().filter(upgradeOf).length >= clients.filter((c) => c.kind === "default").length, {
      timeoutMs: 10000, message: "nginx logged the default clients' WebSockets" });
    const upgrades = accessLog().filter(upgradeOf);
    const wrong = upgrades.filter((e) => e.upstreams.at(-1) !== `127.0.0.1:${portOfTag.get(ownerTag(e.sid))}`);
    const retried = upgrades.filter((e) => e.upstreams.length > 1);
    console.log(`# ${upgrades.length} upgrades of sessions made by polling; ${retried.length} passed on by nginx (404) until they reached the owner; ${wrong.length} accepted elsewhere`);
    assert.deepEqual(wrong.map((e) => `${e.sid} via ${e.upstreams.join(", ")}`), [], "each WebSocket on its session's owner");
    assert.ok(retried.length > 0);
    for (const node of nodes) {
      await node.stop();
      const { code, signal } = await node.exited;
      assert.equal(signal, null, node.stderr().slice(-30000));
      assert.equal(code, 0, node.stderr());
      assert.doesNotMatch(node.stderr(), /Sanitizer|runtime error:/);
    }
  });
});
