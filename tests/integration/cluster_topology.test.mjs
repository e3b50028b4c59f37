// The direct-to-node topology (docs/cluster.md, "Direct to a node"): three socketio-server nodes
// on TLS with one certificate from a test CA (chat.localtest and *.chat.localtest), a real
// redis-server, each node started with --public-url https://nodeN.chat.localtest:PORT. The names
// resolve to 127.0.0.1 through Node's `lookup` option and Chromium's --host-resolver-rules; Node
// clients verify the certificate against the test CA and the name (the wildcard), Chromium
// accepts it with ignoreHTTPSErrors (see browser.test.mjs for why).
//
// What it proves: every node lists the three live nodes at /cluster/nodes with their public URL;
// /cluster/pick spreads 300 first contacts within ±15 % of even (asked of all three nodes, as a
// balancer would spread them) and honours ?exclude=; the routes carry the engine's CORS headers;
// the socket.io-client snippet of docs/cluster.md connects straight to the picked node. Then
// Chromium opens the chat page through real nginx (deploy/nginx/first-contact.conf) as the
// balancer: each page talks to its own node directly (nginx's access log holds the page, its
// files and /cluster/pick, never an Engine.IO request), two pages on two nodes chat through
// Redis, the first page's node is SIGKILLed and the page moves to another node and chats on. The
// killed node leaves every node's list within the ttl (10 s, the default); a node stopped with
// SIGTERM leaves at once (within one refresh) and exits 0.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import dns from "node:dns";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { closeAll, track, until, IS_REFERENCE, TESTS_DIR, freePort } from "./lib/harness.mjs";
import { startRedis, startNode } from "./lib/redis.mjs";
import { createPki } from "./lib/pki.mjs";
import { logLines, must, readOr, startNginx, tlsReachable } from "./lib/nginx.mjs";
import { launchChromium, waitMessage, waitSent } from "./lib/browser.mjs";
import { io } from "socket.io-client";

const SKIP = IS_REFERENCE ? "the Node reference server has no node registry" : false;
const T = { timeout: 90000, skip: SKIP };
const TTL_MS = 10000; // --node-ttl's default: the tests use it as it ships
const REFRESH_MS = TTL_MS / 4;
const CONFIG = path.resolve(TESTS_DIR, "..", "deploy", "nginx", "first-contact.conf");
const DOMAIN = "chat.localtest";
const WAIT = { timeout: 30000 };

let redis;
let pki;
let rootPem;
let cert; // {fullchain, key}
let nodes = []; // {name, port, publicUrl, proc, stop(), ...}
let agent;
let proxy;
let browser;
let killed; // {node, at}

/** *.chat.localtest and chat.localtest are 127.0.0.1 (what DNS would say in production). */
function lookup(hostname, options, callback) {
  if (hostname === DOMAIN || hostname.endsWith(`.${DOMAIN}`)) {
    if (options?.all) return callback(null, [{ address: "127.0.0.1", family: 4 }]);
    return callback(null, "127.0.0.1", 4);
  }
  return dns.lookup(hostname, options, callback);
}

async function startClusterNode(i) {
  const port = await freePort();
  const publicUrl = `https://node${i}.${DOMAIN}:${port}`;
  const node = await startNode("server", redis.url, [
    "--port", String(port),
    "--tls-cert", cert.fullchain,
    "--tls-key", cert.key,
    "--public-url", publicUrl,
    "--metrics",
  ]);
  return Object.assign(node, { name: `node${i}`, port, publicUrl });
}

/** GET https://<url><path> through the test agent (CA-verified, names from lookup()). */
function get(url, p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(new URL(p, url), { agent, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.setTimeout(10000, () => req.destroy(new Error(`GET ${url}${p} timed out`)));
  });
}

async function getJson(url, p) {
  const res = await get(url, p);
  assert.equal(res.status, 200, `${url}${p}: ${res.status} ${res.body}`);
  return JSON.parse(res.body);
}

const listed = async (node) => (await getJson(node.publicUrl, "/cluster/nodes")).nodes.map((n) => n.url).sort();
const live = () => nodes.filter((n) => n !== killed?.node && n.proc.exitCode === null);

before(async () => {
  if (SKIP) return;
  redis = await startRedis();
  pki = createPki({ prefix: "sio-topology-" });
  rootPem = fs.readFileSync(pki.root.cert);
  // Node (and browsers) refuse a wildcard directly under a TLD (*.localtest): one level more.
  const leaf = pki.issue(DOMAIN, { dns: [DOMAIN, `*.${DOMAIN}`] });
  cert = { fullchain: pki.bundle("fullchain.pem", leaf.cert, pki.intermediate.cert), key: leaf.key };
  agent = new https.Agent({ ca: rootPem, lookup, keepAlive: true, rejectUnauthorized: true });
  track(agent, () => agent.destroy());
  nodes = await Promise.all([1, 2, 3].map(startClusterNode));
});
after(closeAll);

describe("direct-to-node topology: node registry and first contact", { skip: SKIP }, () => {
  test("every node lists the three live nodes with their public URL", T, async () => {
    const urls = nodes.map((n) => n.publicUrl).sort();
    for (const node of nodes) {
      await until(async () => JSON.stringify(await listed(node)) === JSON.stringify(urls), {
        timeoutMs: 3 * REFRESH_MS + 5000,
        intervalMs: 200,
        message: `${node.name} lists the three nodes`,
      });
    }
    const view = await getJson(nodes[0].publicUrl, "/cluster/nodes");
    const ids = new Set();
    for (const n of view.nodes) {
      assert.match(n.id, /^[\w-]{1,64}$/);
      ids.add(n.id);
      assert.equal(typeof n.clients, "number");
      assert.ok(n.load >= 0 && n.load <= 100, `load ${n.load}`);
      assert.equal(n.weight, 1);
      assert.ok(n.started <= Date.now() && n.started > Date.now() - 120000, `started ${n.started}`);
      assert.ok(n.updated >= n.started);
    }
    assert.equal(ids.size, 3);
    // What the chat page reads to know it is in a cluster.
    assert.deepEqual(await getJson(nodes[0].publicUrl, "/chat-config.json"), { pick: "/cluster/pick" });
    assert.ok(ids.has(view.self), "self is one of the listed ids");
    // The same view from every node (the registry, not each node's own idea).
    for (const node of nodes) assert.deepEqual(await listed(node), urls);
    const metrics = await get(nodes[1].publicUrl, "/metrics");
    assert.match(metrics.body, /^socketio_cluster_nodes 3$/m);
    assert.match(metrics.body, /^socketio_cluster_registry_refreshes_total [1-9]/m);
  });

  test("/cluster/pick spreads 300 first contacts within ±15 % of even; ?exclude= and CORS", T, async () => {
    const counts = new Map(nodes.map((n) => [n.publicUrl, 0]));
    // As a round-robin balancer would: each contact asks the next node, 30 at a time.
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => getJson(nodes[(batch * 30 + i) % 3].publicUrl, "/cluster/pick")),
      );
      for (const { url } of answers) {
        assert.ok(counts.has(url), `picked ${url}`);
        counts.set(url, counts.get(url) + 1);
      }
    }
    console.log(`# 300 picks: ${JSON.stringify(Object.fromEntries(counts))}`);
    for (const [url, n] of counts) assert.ok(n >= 85 && n <= 115, `${url} got ${n} of 300 picks`);

    const lost = nodes[0].publicUrl;
    for (let i = 0; i < 12; i++) {
      const { url } = await getJson(nodes[i % 3].publicUrl, `/cluster/pick?exclude=${encodeURIComponent(lost)}`);
      assert.notEqual(url, lost, "an excluded node is not picked");
    }

    const cors = await get(nodes[2].publicUrl, "/cluster/pick", { Origin: "https://www.example.org" });
    assert.equal(cors.headers["access-control-allow-origin"], "*");
    assert.equal(cors.headers["cache-control"], "no-store");
    const pre = await new Promise((resolve, reject) => {
      const req = https.request(new URL("/cluster/pick", nodes[2].publicUrl), {
        method: "OPTIONS",
        agent,
        headers: { Origin: "https://www.example.org", "Access-Control-Request-Method": "GET" },
      }, (res) => {
        res.resume();
        res.on("end", () => resolve(res));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(pre.statusCode, 204);
    assert.equal(pre.headers["access-control-allow-origin"], "*");
    assert.match(pre.headers["access-control-allow-methods"], /GET/);
  });

  test("the client snippet of docs/cluster.md connects straight to the picked node", T, async () => {
    // docs/cluster.md, "The client": ask any node (here the balancer's stand-in), then io(url).
    const { url } = await getJson(nodes[1].publicUrl, "/cluster/pick");
    const socket = io(url, { agent, transports: ["polling", "websocket"], reconnection: false });
    track(socket, () => socket.disconnect());
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    assert.equal(socket.io.engine.hostname, new URL(url).hostname, "connected to the picked node by its name");
    const me = await socket.timeout(10000).emitWithAck("whoami");
    assert.equal(me.ok, true);
    assert.equal(me.secure, true);
    socket.disconnect();
  });

  test("Chromium: first contact through nginx, then straight to a node; the page moves on when its node dies", T, async () => {
    proxy = await startBalancer();
    browser = await launchChromium({ args: [`--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1, MAP ${DOMAIN} 127.0.0.1`] });
    const pageUrl = `https://${DOMAIN}:${proxy.port}/`;

    const alice = await openChat(pageUrl);
    const aliceNode = await nodeOf(alice);
    assert.ok(nodes.some((n) => n.publicUrl === aliceNode), `alice's node ${aliceNode} is one of ours`);
    await setNickAndJoin(alice, "alice", "topology");
    // Once the registry counts alice's client, the least-loaded pick sends bob elsewhere.
    await until(async () => {
      const view = await getJson(nodes[0].publicUrl, "/cluster/nodes");
      return view.nodes.find((n) => n.url === aliceNode)?.clients >= 1;
    }, { timeoutMs: 3 * REFRESH_MS + 5000, intervalMs: 200, message: "the registry counts alice's client" });
    const bob = await openChat(pageUrl);
    const bobNode = await nodeOf(bob);
    assert.notEqual(bobNode, aliceNode, "bob is sent to a less loaded node");
    await setNickAndJoin(bob, "bob", "topology");

    await send(alice, "hello from alice");
    await waitMessage(bob, "hello from alice");
    await send(bob, "hello from bob");
    await waitMessage(alice, "hello from bob");
    assertOnlyFirstContactThroughNginx(2);

    // alice's node dies without a goodbye.
    const victim = nodes.find((n) => n.publicUrl === aliceNode);
    victim.proc.kill("SIGKILL");
    killed = { node: victim, at: Date.now() };
    await victim.exited;
    await alice.waitForFunction(
      (old) => document.getElementById("node").dataset.node !== old &&
        document.getElementById("status").dataset.state === "connected",
      aliceNode,
      WAIT,
    );
    const aliceMoved = await nodeOf(alice);
    assert.notEqual(aliceMoved, aliceNode);
    assert.ok(nodes.some((n) => n.publicUrl === aliceMoved));
    await send(alice, "alice again, from another node");
    await waitMessage(bob, "alice again, from another node");
    await send(bob, "welcome back");
    await waitMessage(alice, "welcome back");
    assertOnlyFirstContactThroughNginx(3);
    assert.ok(accessLog().some((e) => e.request.includes(`/cluster/pick?exclude=${encodeURIComponent(aliceNode)}`)),
      "the page asked again, leaving its lost node out");
    for (const page of [alice, bob]) assert.deepEqual(page.errors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to load resource|websocket/i.test(e)), []);
  });

  test("a SIGKILLed node leaves every node's list within the ttl", T, async () => {
    assert.ok(killed, "the browser test killed a node");
    const others = live();
    await until(async () => {
      for (const n of others) if ((await listed(n)).includes(killed.node.publicUrl)) return false;
      return true;
    }, { timeoutMs: TTL_MS + 5000, intervalMs: 100, message: "the killed node gone from every list" });
    const gone = Date.now() - killed.at;
    console.log(`# SIGKILLed node gone from every list after ${gone} ms (ttl ${TTL_MS} ms)`);
    // By construction within 3/4 ttl (record PX = ttl/2, lists refreshed every ttl/4); the ttl
    // itself is the promise.
    assert.ok(gone <= TTL_MS, `gone after ${gone} ms`);
  });

  test("a node stopped with SIGTERM leaves the registry at once and exits 0", T, async () => {
    const [stopping, staying] = live();
    const before = Date.now();
    const { code, signal } = await stopping.stop().then(() => stopping.exited);
    assert.equal(signal, null);
    assert.equal(code, 0, stopping.stderr());
    assert.equal(await redisHas(stopping), false, "its record is deleted, not left to expire");
    await until(async () => !(await listed(staying)).includes(stopping.publicUrl), {
      timeoutMs: REFRESH_MS + 3000,
      intervalMs: 100,
      message: "the stopped node gone from the other node's list",
    });
    console.log(`# SIGTERMed node gone from the list after ${Date.now() - before} ms`);
    assert.doesNotMatch(stopping.stderr(), /Sanitizer|runtime error:/);
  });
});

// ---- helpers -------------------------------------------------------------------------------

async function redisHas(node) {
  const { createClient } = await import("redis");
  const c = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
  await c.connect();
  try {
    const ids = await c.zRange("socket.io#nodes", 0, -1);
    for (const id of ids) {
      const rec = await c.get(`socket.io#node#${id}`);
      if (rec && JSON.parse(rec).url === node.publicUrl) return true;
    }
    return false;
  } finally {
    await c.disconnect();
  }
}

/** The runtime copy of deploy/nginx/first-contact.conf. */
function balancerConfig({ dir, port }) {
  const file = "deploy/nginx/first-contact.conf";
  let conf = fs.readFileSync(CONFIG, "utf8");
  for (const name of ["socketio_any_node", "socketio_sticky_node"]) {
    conf = must(conf, new RegExp(`(upstream ${name} \\{[\\s\\S]*?)\\n\\}`), (_, body) => {
      const lines = body.split("\n").filter((l) => !/^\s*server\s+\S+[^;]*;\s*$/.test(l));
      lines.splice(1, 0, ...nodes.map((n) => `    server 127.0.0.1:${n.port} max_fails=1 fail_timeout=5s;`));
      return `${lines.join("\n")}\n}`;
    }, `upstream ${name}`, { file });
  }
  conf = must(conf, /^(\s*)listen 443 ssl;$/m, `$1listen 127.0.0.1:${port} ssl;`, "listen 443 ssl", { file });
  conf = must(conf, /^\s*listen \[::\]:443 ssl;\n/m, "", "listen [::]:443 ssl", { file });
  conf = must(conf, /^(\s*)server_name [^;]+;$/m, `$1server_name ${DOMAIN};`, "server_name", { file });
  conf = must(conf, /^(\s*)ssl_certificate\s+[^;]+;$/m, `$1ssl_certificate ${cert.fullchain};`, "ssl_certificate", { file });
  conf = must(conf, /^(\s*)ssl_certificate_key\s+[^;]+;$/m, `$1ssl_certificate_key ${cert.key};`, "ssl_certificate_key", { file });
  conf = must(conf, /^(\s*)proxy_ssl_name\s+[^;]+;$/m, `$1proxy_ssl_name nodes.${DOMAIN};`, "proxy_ssl_name", { file });
  conf = must(conf, /^(\s*)proxy_ssl_trusted_certificate\s+[^;]+;$/m, `$1proxy_ssl_trusted_certificate ${pki.root.cert};`,
    "proxy_ssl_trusted_certificate", { file });
  conf = must(conf, /^(\s*)access_log\s+\S+\s+socketio_first;$/m, `$1access_log ${path.join(dir, "access.log")} socketio_first;`, "access_log", { file });
  conf = must(conf, /^(\s*)error_log\s+\S+\s+(\w+);$/m, `$1error_log ${path.join(dir, "error.log")} $2;`, "error_log", { file });
  assert.doesNotMatch(conf.replace(/#.*$/gm, ""), /10\.0\.0\.\d+/, "every production address was replaced");
  return conf;
}

function startBalancer() {
  return startNginx({
    dir: path.join(pki.dir, "nginx"),
    site: balancerConfig,
    reachable: (port) => tlsReachable(port, { servername: DOMAIN, ca: rootPem }),
  });
}

/** nginx's access log: {address, request, status, upstream}. */
function accessLog() {
  return logLines(proxy.accessLog).map((line) => {
    const m = /^(\S+) \[[^\]]+\] "([^"]*)" (\d+) \d+ rt=\S+ upstream=(.*)$/.exec(line);
    assert.ok(m, `access log line in the socketio_first format: ${line}`);
    return { address: m[1], request: m[2], status: Number(m[3]), upstream: m[4] };
  });
}

/** Only the page, its files and /cluster/pick went through nginx; no Engine.IO request did. */
function assertOnlyFirstContactThroughNginx(minPicks) {
  const entries = accessLog();
  const paths = entries.map((e) => e.request.split(" ")[1]);
  assert.deepEqual(paths.filter((p) => /[?&]EIO=/.test(p)), [], "no Engine.IO request through the balancer");
  for (const p of paths) assert.match(p, /^\/(|app\.js|style\.css|socket\.io\/socket\.io\.js|chat-config\.json|cluster\/pick(\?exclude=[^&]+)?)$/, p);
  assert.ok(paths.filter((p) => p.startsWith("/cluster/pick")).length >= minPicks, JSON.stringify(paths));
}

async function openChat(url) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && page.errors.push(m.text()));
  await page.goto(url, WAIT);
  try {
    await page.waitForSelector('#status[data-state="connected"]', WAIT);
  } catch (e) {
    console.log(`# page did not connect:\nstatus: ${await page.textContent("#status")}\nnode: ${await nodeOf(page)}\npage errors: ${page.errors.join("\n")}` +
      `\nnginx access log:\n${readOr(proxy.accessLog)}\nnginx error log:\n${readOr(proxy.errorLog)}`);
    throw e;
  }
  return page;
}

const nodeOf = (page) => page.getAttribute("#node", "data-node");

async function setNickAndJoin(page, nick, room) {
  await page.fill("#nick", nick);
  await page.click("#set-nick");
  await page.waitForFunction((n) => document.getElementById("nick-status").textContent === `You are ${n}.`, nick, WAIT);
  await page.fill("#room", room);
  await page.click("#join");
  await page.waitForSelector(`#rooms [data-room="${room}"][aria-selected="true"]`, WAIT);
}

async function send(page, message) {
  await page.fill("#message", message);
  await page.press("#message", "Enter");
  await waitSent(page, message, WAIT.timeout);
}
