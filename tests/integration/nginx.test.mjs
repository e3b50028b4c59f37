// nginx terminating TLS in front of two socketio-server nodes, with the production config of
// deploy/nginx/socketio.conf. The test makes a runtime copy of that file in a temporary
// directory, changing only the node addresses, ports, server_name, certificate and log paths
// (each change is asserted, so a reworded config fails here instead of being tested half-way),
// starts real nginx (Debian package, /usr/sbin/nginx or $NGINX) in the foreground, and runs
// socket.io-client through it over https, trusting only the test's root CA.
//
// What it proves: polling with upgrade, polling only and websocket only work through nginx; every
// request of one Engine.IO session reaches one node (nginx's access log records the upstream of
// each request with its sid), and clients from different addresses are spread over both nodes;
// the nodes (--trust-proxy) see the client's own address from X-Forwarded-For and know the
// connection was https from X-Forwarded-Proto, and a client cannot forge its address with its
// own X-Forwarded-For header. The address is read back with the chat contract's `whoami` event.
// Clients get distinct source addresses by binding to 127.0.0.x (all of 127/8 is loopback).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { startServer, closeAll, track, until, rawExchange, parseRawResponse, toBuffer, IS_REFERENCE, TESTS_DIR } from "./lib/harness.mjs";
import { sioConnect, waitForUpgrade } from "./lib/clients.mjs";
import { createPki } from "./lib/pki.mjs";
import { NGINX, must, readOr, startNginx, tlsReachable } from "./lib/nginx.mjs";

const CONFIG = path.resolve(TESTS_DIR, "..", "deploy", "nginx", "socketio.conf");
// A missing nginx fails the test (scripts/deps.sh test installs it), it does not skip it.
const SKIP = IS_REFERENCE ? "the Node reference chat server has no --trust-proxy" : false;
if (SKIP) console.log(`# skipping nginx tests: ${SKIP}`);
const T = { timeout: 60000, skip: SKIP };

let pki;
let rootPem;
let nodes = [];
let proxy; // {port, httpPort, dir, accessLog, errorLog, proc}

before(async () => {
  if (SKIP) return;
  pki = createPki({ prefix: "sio-nginx-" });
  rootPem = fs.readFileSync(pki.root.cert);
  const leaf = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"] });
  const fullchain = pki.bundle("fullchain.pem", leaf.cert, pki.intermediate.cert);
  nodes = await Promise.all([0, 1].map(() => startServer({ kind: "chat", args: ["--trust-proxy"] })));
  proxy = await startProxy({ fullchain, key: leaf.key });
});
after(closeAll);



/** The runtime copy of deploy/nginx/socketio.conf for this test. */
function runtimeConfig({ dir, port, httpPort, fullchain, key }) {
  let conf = fs.readFileSync(CONFIG, "utf8");
  conf = must(conf, /(upstream socketio_nodes \{[\s\S]*?)\n\}/, (_, body) => {
    const lines = body.split("\n").filter((l) => !/^\s*server\s+\S+[^;]*;\s*$/.test(l));
    const at = lines.findIndex((l) => /^\s*(hash|ip_hash)\b/.test(l));
    assert.ok(at >= 0, "the upstream has a sticky hash or ip_hash");
    lines.splice(at + 1, 0, ...nodes.map((n) => `    server 127.0.0.1:${n.port} max_fails=3 fail_timeout=10s;`));
    return `${lines.join("\n")}\n}`;
  }, "upstream socketio_nodes");
  conf = must(conf, /^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${httpPort};`, "listen 80");
  conf = must(conf, /^\s*listen \[::\]:80;\n/m, "", "listen [::]:80");
  conf = must(conf, /^(\s*)listen 443 ssl;$/m, `$1listen 127.0.0.1:${port} ssl;`, "listen 443 ssl");
  conf = must(conf, /^\s*listen \[::\]:443 ssl;\n/m, "", "listen [::]:443 ssl");
  conf = must(conf, /^(\s*)server_name [^;]+;$/gm, "$1server_name localhost;", "server_name", { min: 2 });
  conf = must(conf, /^(\s*)ssl_certificate\s+[^;]+;$/m, `$1ssl_certificate ${fullchain};`, "ssl_certificate");
  conf = must(conf, /^(\s*)ssl_certificate_key\s+[^;]+;$/m, `$1ssl_certificate_key ${key};`, "ssl_certificate_key");
  conf = must(conf, /^(\s*)access_log\s+\S+\s+socketio;$/m, `$1access_log ${path.join(dir, "access.log")} socketio;`, "access_log");
  conf = must(conf, /^(\s*)error_log\s+\S+\s+(\w+);$/m, `$1error_log ${path.join(dir, "error.log")} $2;`, "error_log");
  return conf;
}

function startProxy({ fullchain, key }) {
  return startNginx({
    dir: path.join(pki.dir, "nginx"),
    site: ({ dir, port, httpPort }) => runtimeConfig({ dir, port, httpPort, fullchain, key }),
    reachable: (port) => tlsReachable(port, { servername: "localhost", ca: rootPem }),
  });
}

/** An https agent whose connections come from `address` (127.0.0.x) and trust only the root. */
function agentFrom(address) {
  const agent = new https.Agent({ localAddress: address, ca: rootPem, keepAlive: true });
  track(agent, () => agent.destroy());
  return agent;
}

const viaNginx = () => ({ url: `https://localhost:${proxy.port}` });
const strict = (extra = {}) => ({ ca: rootPem, rejectUnauthorized: true, ...extra });
const ack = (socket, event, ...args) => socket.timeout(10000).emitWithAck(event, ...args);

function echo(socket, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(10000).emit("echo", ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  });
}

/** Access-log entries: {address, request, status, upstream, sid}. */
function accessLog() {
  return readOr(proxy.accessLog)
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const m = /^(\S+) \[[^\]]+\] "([^"]*)" (\d+) \d+ rt=\S+ upstream=(\S+) sid=(\S*)$/.exec(line);
      assert.ok(m, `access log line in the socketio format: ${line}`);
      return { address: m[1], request: m[2], status: Number(m[3]), upstream: m[4], sid: m[5] };
    });
}

/** For each Engine.IO session id in the log: the set of upstream nodes its requests reached. */
function upstreamsBySid() {
  const out = new Map();
  for (const e of accessLog()) {
    if (!e.sid || e.sid === "-") continue;
    if (!out.has(e.sid)) out.set(e.sid, new Set());
    out.get(e.sid).add(e.upstream);
  }
  return out;
}

async function assertWhoami(socket, address) {
  const me = await ack(socket, "whoami");
  assert.equal(me.ok, true);
  assert.equal(me.address, address, "the node sees the client's address (X-Forwarded-For)");
  assert.equal(me.secure, true, "the node knows the client used https (X-Forwarded-Proto)");
}

describe("nginx in front of two nodes (deploy/nginx/socketio.conf)", { skip: SKIP }, () => {
  test("nginx is installed", T, () => {
    assert.ok(fs.existsSync(NGINX), `nginx not found at ${NGINX} (scripts/deps.sh test installs it; NGINX=/path overrides)`);
  });
  test("the config has what long-lived Socket.IO connections need", T, () => {
    const conf = fs.readFileSync(CONFIG, "utf8");
    assert.match(conf, /map \$http_upgrade \$\w+ \{/);
    assert.match(conf, /proxy_http_version 1\.1;/);
    assert.match(conf, /proxy_set_header Upgrade \$http_upgrade;/);
    assert.match(conf, /proxy_buffering off;/);
    assert.match(conf, /proxy_set_header X-Forwarded-For /);
    assert.match(conf, /proxy_set_header X-Forwarded-Proto \$scheme;/);
    assert.match(conf, /proxy_set_header X-Forwarded-Host /);
    const timeout = /proxy_read_timeout (\d+)s;/.exec(conf);
    assert.ok(timeout && Number(timeout[1]) > 45, "proxy_read_timeout above pingInterval + pingTimeout (45 s)");
    const upstream = /upstream socketio_nodes \{([\s\S]*?)\n\}/.exec(conf)[1];
    assert.match(upstream, /^\s*(hash \S+( consistent)?|ip_hash);/m, "a sticky choice of node");
    assert.ok((upstream.match(/^\s*server /gm) ?? []).length >= 2, "several nodes");
  });

  test("polling then upgrade to websocket, through nginx over https", T, async () => {
    const agent = agentFrom("127.0.0.2");
    const s = await sioConnect(viaNginx(), "/", strict({ agent }), 15000);
    await waitForUpgrade(s, 15000);
    assert.equal(s.io.engine.transport.name, "websocket");
    const bytes = crypto.randomBytes(200);
    const [text, bin] = await echo(s, "through nginx", bytes);
    assert.equal(text, "through nginx");
    assert.deepEqual(toBuffer(bin), bytes);
    assert.deepEqual(await ack(s, "join", "r"), { ok: true });
    const got = new Promise((resolve) => s.once("chat message", resolve));
    await ack(s, "chat message", "r", "hello");
    assert.deepEqual(await got, { room: "r", text: "hello" });
    await assertWhoami(s, "127.0.0.2");
    const sid = s.io.engine.id;
    s.disconnect();
    await until(() => accessLog().some((e) => e.sid === sid && /transport=websocket/.test(e.request)), {
      timeoutMs: 10000,
      message: "the websocket request in the access log",
    });
    const entries = accessLog().filter((e) => e.sid === sid);
    assert.equal(new Set(entries.map((e) => e.upstream)).size, 1, JSON.stringify(entries, null, 1));
    assert.ok(entries.some((e) => /transport=websocket/.test(e.request) && e.status === 101), JSON.stringify(entries, null, 1));
  });

  test("websocket only, through nginx", T, async () => {
    const s = await sioConnect(viaNginx(), "/", strict({ transports: ["websocket"], agent: agentFrom("127.0.0.3") }), 15000);
    assert.equal(s.io.engine.transport.name, "websocket");
    assert.deepEqual(await echo(s, 1, { two: [3] }), [1, { two: [3] }]);
    await assertWhoami(s, "127.0.0.3");
    s.disconnect();
  });

  test("long-polling sticks to one node; clients from many addresses use both nodes", T, async () => {
    // 20 polling-only clients from 20 addresses; each makes many requests (every emit is a
    // POST, every answer a GET). A request reaching the other node would get "Session ID
    // unknown" and the client would drop: so staying connected is itself the proof, and the
    // access log shows it request by request.
    const clients = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const address = `127.0.0.${20 + i}`;
        const s = await sioConnect(viaNginx(), "/", strict({ transports: ["polling"], agent: agentFrom(address) }), 20000);
        s.address = address;
        s.dropped = false;
        s.on("disconnect", () => (s.dropped = true));
        return s;
      }),
    );
    for (let round = 0; round < 5; round++) {
      await Promise.all(clients.map(async (s) => assert.deepEqual(await echo(s, round, s.address), [round, s.address])));
    }
    await Promise.all(clients.map((s) => assertWhoami(s, s.address)));
    assert.deepEqual(clients.filter((s) => s.dropped).map((s) => s.address), []);
    const sids = clients.map((s) => s.io.engine.id);
    for (const s of clients) s.disconnect();

    const bySid = upstreamsBySid();
    const used = new Set();
    for (const sid of sids) {
      const ups = bySid.get(sid);
      assert.ok(ups, `requests of session ${sid} in the access log`);
      assert.equal(ups.size, 1, `session ${sid} reached ${[...ups].join(", ")}`);
      used.add([...ups][0]);
    }
    assert.deepEqual([...used].sort(), nodes.map((n) => `127.0.0.1:${n.port}`).sort(), "both nodes serve clients");
    // and each client's requests all came from its own address
    for (const e of accessLog()) if (sids.includes(e.sid)) assert.match(e.address, /^127\.0\.0\.[23]\d$/);
  });

  test("a client cannot forge its address with its own X-Forwarded-For", T, async () => {
    for (const transports of [["polling"], ["websocket"]]) {
      const s = await sioConnect(
        viaNginx(),
        "/",
        strict({ transports, agent: agentFrom("127.0.0.4"), extraHeaders: { "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http" } }),
        15000,
      );
      await assertWhoami(s, "127.0.0.4");
      s.disconnect();
    }
  });

  test("plain http on the proxy is redirected to https", T, async () => {
    const res = parseRawResponse(await rawExchange({
      port: proxy.httpPort,
      data: "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      timeoutMs: 10000,
    }));
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, "https://localhost/socket.io/?EIO=4&transport=polling");
  });

  test("nginx logged no error while proxying", T, () => {
    const errors = readOr(proxy.errorLog).split("\n").filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
    assert.deepEqual(errors, []);
  });

  test("the nodes stop cleanly on SIGTERM (no sanitizer report)", T, async () => {
    for (const node of nodes) {
      const { code, signal } = await node.stop();
      assert.equal(signal, null);
      assert.equal(code, 0, node.stderr());
      assert.doesNotMatch(node.stderr(), /Sanitizer|runtime error:/);
    }
  });
});
