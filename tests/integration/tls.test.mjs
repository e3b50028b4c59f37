// TLS served by socketio-server itself, proven with real, strict clients. The test makes its own
// PKI with the openssl CLI (lib/pki.mjs): a root CA, an intermediate CA, and server certificates
// for localhost (SAN DNS:localhost, IP:127.0.0.1) and *.example.test, signed by the
// intermediate. The server gets the leaf and the intermediate (--tls-cert/--tls-key/--tls-ca);
// the clients trust the root only, with rejectUnauthorized: true (Node's default), so every
// connection that succeeds has verified the chain the server sent and the host name.
//
// Clients: socket.io-client 4.8 (websocket only, polling only, polling then upgrade; events,
// rooms, binary acks over the chat contract of app/chat.hpp), node:tls (certificate, SNI, chain
// inspection), `openssl s_client -showcerts` (the chain exactly as sent), curl (a polling
// handshake), raw TCP (garbage and plain HTTP on the TLS port).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import {
  startServer,
  closeAll,
  track,
  until,
  rawExchange,
  parseRawResponse,
  toBuffer,
  IS_REFERENCE,
  TESTS_DIR,
} from "./lib/harness.mjs";
import { sioConnect, waitForUpgrade } from "./lib/clients.mjs";
import { createPki, replaceFile } from "./lib/pki.mjs";

const SKIP = IS_REFERENCE ? "the Node reference servers do not serve TLS (socketio-server flags)" : false;
const T = { timeout: 60000, skip: SKIP };

let pki;
let rootPem;
let localhostCert; // CN=localhost, SAN DNS:localhost IP:127.0.0.1
let wildcardCert; // CN=*.example.test, SAN DNS:*.example.test
let main; // the server most tests share: localhost certificate + intermediate

before(async () => {
  if (SKIP) return;
  pki = createPki();
  rootPem = fs.readFileSync(pki.root.cert);
  localhostCert = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"] });
  wildcardCert = pki.issue("*.example.test", { dns: ["*.example.test"] });
  main = await startServer({ kind: "chat", args: tlsArgs(localhostCert) });
});
after(closeAll);

function tlsArgs(leaf, { ca = pki.intermediate.cert } = {}) {
  return ["--tls-cert", leaf.cert, "--tls-key", leaf.key, ...(ca ? ["--tls-ca", ca] : [])];
}

/** Runs a program to its end; resolves {code, stdout, stderr} (never rejects on exit codes). */
function run(cmd, args, { timeoutMs = 20000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number" && !err.killed) return reject(err);
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr });
    });
    track(child, () => child.kill("SIGKILL"));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** One TLS handshake with node:tls; resolves what the client saw. Never rejects on verification. */
function tlsProbe(port, opts = {}) {
  const { servername, host = "127.0.0.1", minVersion, maxVersion } = opts;
  const ca = "ca" in opts ? opts.ca : rootPem; // {ca: undefined}: the system store only
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host, port, servername, ca, rejectUnauthorized: false, minVersion, maxVersion }, () => {
      const cert = sock.getPeerCertificate(true);
      const result = {
        authorized: sock.authorized,
        authorizationError: sock.authorizationError,
        cert,
        protocol: sock.getProtocol(),
      };
      sock.end();
      resolve(result);
    });
    const untrack = track(sock, () => sock.destroy());
    sock.once("close", untrack);
    sock.once("error", reject);
    sock.setTimeout(15000, () => sock.destroy(new Error("TLS probe timed out")));
  });
}

/** The certificates a server sends, in order, as `openssl s_client -showcerts` prints them. */
async function sentChain(port, servername) {
  const r = await run("openssl", [
    "s_client", "-connect", `127.0.0.1:${port}`, "-servername", servername, "-showcerts",
    "-CAfile", pki.root.cert, "-verify_return_error", "-verify_hostname", servername,
  ]);
  const blocks = [...r.stdout.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)].map((m) => m[0]);
  const subjects = blocks.map((pem) => new crypto.X509Certificate(pem).subject.split("\n").find((l) => l.startsWith("CN=")));
  const verify = /Verify return code: (\d+) \(([^)]*)\)/.exec(r.stdout);
  return { subjects, blocks, verifyCode: verify ? Number(verify[1]) : null, verifyText: verify?.[2], output: r.stdout + r.stderr };
}

/** Acks with every argument (socket.io-client's emitWithAck keeps only the first). */
function echo(socket, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(10000).emit("echo", ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  });
}

const ack = (socket, event, ...args) => socket.timeout(10000).emitWithAck(event, ...args);

/** What a strict client refusing the connection said, as one string. */
function refusal(err) {
  const parts = [err && err.message];
  let d = err && err.description;
  for (let i = 0; d && i < 4; i++) {
    parts.push(d.code, d.message, d.error && d.error.code, d.error && d.error.message);
    d = d.error || d.cause || d.context;
  }
  return parts.filter(Boolean).join(" | ");
}

/** Events, rooms and binary acks over one connection: the chat contract, end to end. */
async function exerciseChat(socket, label) {
  const bytes = crypto.randomBytes(300);
  const [text, num, obj, bin, nested] = await echo(socket, `hi ${label}`, 42, { a: [1, "b"] }, bytes, { file: bytes.subarray(0, 7) });
  assert.equal(text, `hi ${label}`);
  assert.equal(num, 42);
  assert.deepEqual(obj, { a: [1, "b"] });
  assert.deepEqual(toBuffer(bin), bytes, "binary ack");
  assert.deepEqual(toBuffer(nested.file), bytes.subarray(0, 7), "nested binary ack");

  const room = `room-${label}-${crypto.randomBytes(3).toString("hex")}`;
  assert.deepEqual(await ack(socket, "join", room), { ok: true });
  const got = new Promise((resolve) => socket.once("chat message", resolve));
  assert.deepEqual(await ack(socket, "chat message", room, { hello: label, data: bytes.subarray(0, 16) }), { ok: true });
  const msg = await got;
  assert.equal(msg.room, room);
  assert.equal(msg.text.hello, label);
  assert.deepEqual(toBuffer(msg.text.data), bytes.subarray(0, 16));

  const me = await ack(socket, "whoami");
  assert.equal(me.ok, true);
  assert.equal(me.id, socket.id);
  assert.equal(me.secure, true, "the server knows the connection is TLS");
  assert.equal(me.address, "127.0.0.1");
}

const strict = (extra = {}) => ({ ca: rootPem, rejectUnauthorized: true, ...extra });

describe("TLS with a real chain and strict clients", { skip: SKIP }, () => {
  test("the listening line says https", T, () => {
    assert.match(main.stdout(), /listening on https:\/\/127\.0\.0\.1:\d+/);
    assert.equal(main.url, `https://127.0.0.1:${main.port}`);
  });

  test("socket.io-client over WSS only (trusting only the root): events, rooms, binary acks", T, async () => {
    const s = await sioConnect(main, "/", strict({ transports: ["websocket"] }), 15000);
    assert.equal(s.io.engine.transport.name, "websocket");
    await exerciseChat(s, "ws");
    s.disconnect();
  });

  test("socket.io-client over HTTPS long-polling only", T, async () => {
    const s = await sioConnect(main, "/", strict({ transports: ["polling"] }), 15000);
    assert.equal(s.io.engine.transport.name, "polling");
    await exerciseChat(s, "polling");
    assert.equal(s.io.engine.transport.name, "polling");
    s.disconnect();
  });

  test("socket.io-client polling then upgrade to WSS, by host name (https://localhost)", T, async () => {
    const server = { url: `https://localhost:${main.port}` };
    const s = await sioConnect(server, "/", strict(), 15000);
    await waitForUpgrade(s, 15000);
    assert.equal(s.io.engine.transport.name, "websocket");
    await exerciseChat(s, "upgrade");
    s.disconnect();
  });

  test("two clients of different transports talk through a room", T, async () => {
    const a = await sioConnect(main, "/", strict({ transports: ["websocket"] }), 15000);
    const b = await sioConnect(main, "/", strict({ transports: ["polling"] }), 15000);
    assert.deepEqual(await ack(a, "join", "shared"), { ok: true });
    assert.deepEqual(await ack(b, "join", "shared"), { ok: true });
    const atB = new Promise((resolve) => b.on("chat message", (m) => m.text === "from a" && resolve(m)));
    const bin = crypto.randomBytes(64);
    const atA = new Promise((resolve) => a.on("chat message", (m) => typeof m.text !== "string" && resolve(m)));
    await ack(a, "chat message", "shared", "from a");
    await ack(b, "chat message", "shared", bin);
    assert.deepEqual(await atB, { room: "shared", text: "from a" });
    assert.deepEqual(toBuffer((await atA).text), bin);
    a.disconnect();
    b.disconnect();
  });

  test("a client that trusts nothing (no ca) is refused, on every transport", T, async () => {
    for (const transports of [["websocket"], ["polling"]]) {
      const err = await sioConnect(main, "/", { transports, rejectUnauthorized: true }, 15000).then(
        () => assert.fail(`${transports} connected without trusting the root`),
        (e) => e,
      );
      assert.ok(err instanceof Error, `${transports}: ${err}`);
      assert.doesNotMatch(refusal(err), /timed out/, `${transports}: refused at once, not timed out`);
    }
    // What a TLS client sees: a chain it cannot anchor.
    const seen = await tlsProbe(main.port, { ca: undefined, servername: "localhost" });
    assert.equal(seen.authorized, false);
    assert.equal(seen.authorizationError, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = https.get({ host: "127.0.0.1", port: main.port, path: "/socket.io/?EIO=4&transport=polling" }, resolve);
        track(req, () => req.destroy());
        req.on("error", reject);
      }),
      /unable to get local issuer certificate/,
    );
  });

  test("a certificate for another name is refused; the same client accepts the right one", T, async () => {
    const wrong = await startServer({ kind: "chat", args: tlsArgs(wildcardCert) });
    for (const transports of [["websocket"], ["polling"]]) {
      const err = await sioConnect({ url: `https://localhost:${wrong.port}` }, "/", strict({ transports }), 15000).then(
        () => assert.fail(`${transports} accepted *.example.test for localhost`),
        (e) => e,
      );
      assert.ok(err instanceof Error);
    }
    const seen = await tlsProbe(wrong.port, { servername: "localhost" });
    assert.equal(seen.authorized, false);
    assert.equal(seen.authorizationError, "ERR_TLS_CERT_ALTNAME_INVALID");
    assert.equal(seen.cert.subject.CN, "*.example.test");
    const ok = await tlsProbe(wrong.port, { servername: "node7.example.test" });
    assert.equal(ok.authorized, true, ok.authorizationError);
    const good = await sioConnect({ url: `https://localhost:${main.port}` }, "/", strict({ transports: ["websocket"] }), 15000);
    good.disconnect();
  });

  test("the chain sent is the leaf then the intermediate (and not the root)", T, async () => {
    const chain = await sentChain(main.port, "localhost");
    assert.deepEqual(chain.subjects, ["CN=localhost", "CN=Test Intermediate CA"], chain.output);
    assert.equal(chain.verifyCode, 0, chain.output);
    assert.equal(chain.blocks[0].trim(), localhostCert.pem.trim());
    assert.equal(chain.blocks[1].trim(), pki.intermediate.pem.trim());
    // Node sees the same path: leaf -> intermediate -> root
    const seen = await tlsProbe(main.port, { servername: "localhost" });
    assert.equal(seen.authorized, true, seen.authorizationError);
    assert.equal(seen.cert.serialNumber, localhostCert.serial);
    assert.equal(seen.cert.issuerCertificate.serialNumber, pki.intermediate.serial);
    assert.equal(seen.cert.issuerCertificate.issuerCertificate.serialNumber, pki.root.serial);
  });

  test("a cert file that already holds the chain works the same (no --tls-ca)", T, async () => {
    const bundled = { cert: pki.bundle("localhost-fullchain.pem", localhostCert.cert, pki.intermediate.cert), key: localhostCert.key };
    const server = await startServer({ kind: "chat", args: tlsArgs(bundled, { ca: null }) });
    const chain = await sentChain(server.port, "localhost");
    assert.deepEqual(chain.subjects, ["CN=localhost", "CN=Test Intermediate CA"], chain.output);
    assert.equal(chain.verifyCode, 0, chain.output);
    const s = await sioConnect(server, "/", strict({ transports: ["websocket"] }), 15000);
    assert.deepEqual(await echo(s, "x"), ["x"]);
    s.disconnect();
  });

  test("curl --cacert root.pem fetches a polling handshake; TLS 1.1 is refused", T, async () => {
    const url = `https://localhost:${main.port}/socket.io/?EIO=4&transport=polling`;
    const resolve = ["--resolve", `localhost:${main.port}:127.0.0.1`];
    const r = await run("curl", ["-sS", "--max-time", "15", "--cacert", pki.root.cert, ...resolve, "-w", "\n%{http_code} %{ssl_verify_result}", url]);
    assert.equal(r.code, 0, r.stderr);
    const [body, status] = r.stdout.split("\n");
    assert.equal(status, "200 0");
    assert.match(body, /^0\{"sid":"[^"]+","upgrades":\["websocket"\],"pingInterval":\d+,"pingTimeout":\d+,"maxPayload":\d+\}$/);
    // TLS 1.2 explicitly, then an old protocol: refused at the handshake
    const r12 = await run("curl", ["-sS", "--max-time", "15", "--cacert", pki.root.cert, ...resolve, "--tls-max", "1.2", "-o", "/dev/null", "-w", "%{http_code}", url]);
    assert.equal(r12.stdout, "200", r12.stderr);
    const old = await run("curl", ["-sS", "--max-time", "15", "--cacert", pki.root.cert, ...resolve, "--tlsv1.1", "--tls-max", "1.1", "-o", "/dev/null", url]);
    assert.notEqual(old.code, 0, "TLS 1.1 must fail");
    assert.match(old.stderr, /alert protocol version/, "refused by the server (alert 70), not by curl");
    // and without the root: curl refuses too
    const untrusted = await run("curl", ["-sS", "--max-time", "15", ...resolve, "-o", "/dev/null", url]);
    assert.equal(untrusted.code, 60, untrusted.stderr); // CURLE_PEER_FAILED_VERIFICATION
  });

  test("garbage bytes and plain HTTP on the TLS port: a clear close / 400, concurrent client unharmed", T, async () => {
    const s = await sioConnect(main, "/", strict({ transports: ["websocket"] }), 15000);
    const p = await sioConnect(main, "/", strict({ transports: ["polling"] }), 15000);
    let disconnected = false;
    for (const c of [s, p]) c.on("disconnect", () => (disconnected = true));

    // plain HTTP: a 400 saying what to do instead, then the connection is closed
    const plain = await rawExchange({
      port: main.port,
      data: "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n",
      timeoutMs: 15000,
    });
    const res = parseRawResponse(plain);
    assert.equal(res.status, 400);
    assert.match(res.body.toString(), /HTTPS/);
    assert.equal(res.headers.connection, "close");

    // a plain WebSocket upgrade attempt: the same
    const wsPlain = parseRawResponse(await rawExchange({
      port: main.port,
      data: "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      timeoutMs: 15000,
    }));
    assert.equal(wsPlain.status, 400);

    // bytes that are neither TLS nor HTTP: 400 Bad Request, closed
    const junk = await rawExchange({ port: main.port, data: Buffer.concat([Buffer.from([0, 1, 2, 0xff]), crypto.randomBytes(500), Buffer.from("\r\n\r\n")]), timeoutMs: 15000 });
    assert.equal(parseRawResponse(junk).status, 400);

    // what looks like a ClientHello (handshake record, type 1) but is junk: the handshake fails
    // and the connection is closed (at most a TLS alert comes back, record type 21)
    const hello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c]), crypto.randomBytes(60)]);
    const badTls = await rawExchange({ port: main.port, data: hello, timeoutMs: 15000 });
    assert.ok(badTls.length === 0 || badTls[0] === 21, `got ${badTls.toString("hex")}`);

    // a flood of such connections at once
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        rawExchange({ port: main.port, data: i % 2 ? crypto.randomBytes(200) : Buffer.concat([Buffer.from([0x16, 3, 3, 0, 200]), crypto.randomBytes(200)]), timeoutMs: 15000 }),
      ),
    );

    // clients that start a handshake and stall (the server closes them after its handshake
    // timeout): meanwhile other handshakes go through
    const stalled = await Promise.all(
      Array.from({ length: 20 }, () => new Promise((resolve, reject) => {
        const sock = net.connect({ host: "127.0.0.1", port: main.port }, () => {
          sock.write(hello.subarray(0, 20)); // a partial ClientHello, never finished
          resolve(sock);
        });
        track(sock, () => sock.destroy());
        sock.on("error", () => {});
        sock.once("connect", () => sock.off("error", reject));
        sock.once("error", reject);
      })),
    );
    const during = await tlsProbe(main.port, { servername: "localhost" });
    assert.equal(during.authorized, true, during.authorizationError);
    for (const sock of stalled) sock.destroy();

    // the clients that were connected all along still work, and new ones connect
    const [still, nine] = await echo(s, "still here", Buffer.from([9]));
    assert.equal(still, "still here");
    assert.deepEqual(toBuffer(nine), Buffer.from([9]));
    assert.deepEqual(await echo(p, "still here too"), ["still here too"]);
    assert.equal(disconnected, false);
    const fresh = await sioConnect(main, "/", strict(), 15000);
    await exerciseChat(fresh, "after-garbage");
    for (const c of [s, p, fresh]) c.disconnect();
  });

  test("--tls-redirect answers plain HTTP with a 308 to https", T, async () => {
    const server = await startServer({ kind: "chat", args: [...tlsArgs(localhostCert), "--tls-redirect"] });
    const res = parseRawResponse(await rawExchange({
      port: server.port,
      data: `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost:${server.port}\r\n\r\n`,
      timeoutMs: 15000,
    }));
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `https://localhost:${server.port}/socket.io/?EIO=4&transport=polling`);
  });
});

describe("SNI", { skip: SKIP }, () => {
  let server;
  before(async () => {
    if (SKIP) return;
    server = await startServer({
      kind: "chat",
      args: [...tlsArgs(localhostCert), "--tls-sni", `*.example.test=${wildcardCert.cert},${wildcardCert.key},${pki.intermediate.cert}`],
    });
  });

  test("the certificate follows the server name the client asks for", T, async () => {
    const cases = [
      ["node1.example.test", wildcardCert],
      ["NODE2.Example.Test", wildcardCert],
      ["localhost", localhostCert],
      [undefined, localhostCert], // no SNI (an IP address): the default
      ["a.b.example.test", localhostCert], // a wildcard covers one label only
      ["example.test", localhostCert],
      ["other.invalid", localhostCert],
    ];
    for (const [servername, expected] of cases) {
      const seen = await tlsProbe(server.port, { servername });
      assert.equal(seen.cert.serialNumber, expected.serial, `${servername}: got ${seen.cert.subject.CN}`);
      assert.equal(seen.cert.subject.CN, expected.cn);
      const shouldVerify = expected === wildcardCert || servername === "localhost" || servername === undefined;
      assert.equal(seen.authorized, shouldVerify, `${servername}: ${seen.authorizationError}`);
    }
  });

  test("the SNI chain is the wildcard leaf then the intermediate", T, async () => {
    const chain = await sentChain(server.port, "node1.example.test");
    assert.deepEqual(chain.subjects, ["CN=*.example.test", "CN=Test Intermediate CA"], chain.output);
    assert.equal(chain.verifyCode, 0, chain.output);
  });

  test("socket.io-client reaching node1.example.test gets the wildcard certificate (polling + upgrade)", T, async () => {
    // The host name goes in SNI (and is what the certificate is checked against); the address
    // stays 127.0.0.1, as if DNS pointed node1.example.test there.
    const agent = new https.Agent({ servername: "node1.example.test", ca: rootPem });
    track(agent, () => agent.destroy());
    const s = await sioConnect(server, "/", strict({ agent }), 15000);
    await waitForUpgrade(s, 15000);
    await exerciseChat(s, "sni");
    s.disconnect();
  });

  test("curl --resolve node1.example.test verifies the wildcard certificate", T, async () => {
    const r = await run("curl", [
      "-sS", "--max-time", "15", "--cacert", pki.root.cert, "--resolve", `node1.example.test:${server.port}:127.0.0.1`,
      `https://node1.example.test:${server.port}/socket.io/?EIO=4&transport=polling`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^0\{"sid":/);
  });
});

describe("certificate reload", { skip: SKIP }, () => {
  /** A server on copies of the localhost certificate, so the test can replace them. */
  async function reloadable(extraArgs = []) {
    const dir = fs.mkdtempSync(path.join(pki.dir, "live-"));
    const live = { cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem"), ca: path.join(dir, "chain.pem") };
    fs.copyFileSync(localhostCert.cert, live.cert);
    fs.copyFileSync(localhostCert.key, live.key);
    fs.copyFileSync(pki.intermediate.cert, live.ca);
    const server = await startServer({
      kind: "chat",
      args: ["--tls-cert", live.cert, "--tls-key", live.key, "--tls-ca", live.ca, ...extraArgs],
    });
    return { server, live };
  }

  function install(next, live) {
    // key first, then certificate, each replaced atomically
    replaceFile(next.key, live.key);
    replaceFile(next.cert, live.cert);
  }

  test("SIGHUP: new handshakes get the new certificate, an open WSS connection keeps working", T, async () => {
    const { server, live } = await reloadable();
    const before = await tlsProbe(server.port, { servername: "localhost" });
    assert.equal(before.cert.serialNumber, localhostCert.serial);

    const old = await sioConnect(server, "/", strict({ transports: ["websocket"] }), 15000);
    const oldPolling = await sioConnect(server, "/", strict({ transports: ["polling"] }), 15000);
    const oldId = old.id;
    let dropped = false;
    for (const c of [old, oldPolling]) c.on("disconnect", () => (dropped = true));
    assert.deepEqual(await echo(old, "before"), ["before"]);

    const next = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"], subject: { OU: "reloaded" } });
    install(next, live);
    server.proc.kill("SIGHUP");
    await until(() => /certificates reloaded \(SIGHUP\)/.test(server.stderr()), { timeoutMs: 15000, message: "reload log line" });

    const after = await tlsProbe(server.port, { servername: "localhost" });
    assert.equal(after.cert.serialNumber, next.serial);
    assert.equal(after.cert.subject.OU, "reloaded");
    assert.equal(after.authorized, true, after.authorizationError);

    // the connection made with the old certificate is untouched
    assert.equal(old.id, oldId);
    assert.equal(old.connected, true);
    assert.equal(old.io.engine.transport.name, "websocket");
    const [afterText, afterBin] = await echo(old, "after", Buffer.from("bin"));
    assert.equal(afterText, "after");
    assert.deepEqual(toBuffer(afterBin), Buffer.from("bin"));
    assert.deepEqual(await echo(oldPolling, "after (polling)"), ["after (polling)"]);
    assert.equal(dropped, false);
    // and new clients connect with the new one
    const fresh = await sioConnect(server, "/", strict(), 15000);
    await waitForUpgrade(fresh, 15000);
    await exerciseChat(fresh, "reloaded");

    // a bad set (a certificate that does not match the key) is refused; the good one stays
    replaceFile(pki.issue("localhost", { dns: ["localhost"] }).cert, live.cert);
    server.proc.kill("SIGHUP");
    await until(() => /reload refused \(SIGHUP\)/.test(server.stderr()), { timeoutMs: 15000, message: "refused log line" });
    assert.match(server.stderr(), new RegExp(`reload refused.*${live.key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    const kept = await tlsProbe(server.port, { servername: "localhost" });
    assert.equal(kept.cert.serialNumber, next.serial);
    assert.deepEqual(await echo(old, "still"), ["still"]);
    assert.equal(server.exitCode, undefined, "still running");
    for (const c of [old, oldPolling, fresh]) c.disconnect();
  });

  test("--tls-watch reloads when the files change", T, async () => {
    const { server, live } = await reloadable(["--tls-watch"]);
    const old = await sioConnect(server, "/", strict({ transports: ["websocket"] }), 15000);
    const next = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"], subject: { OU: "watched" } });
    install(next, live);
    await until(async () => (await tlsProbe(server.port, { servername: "localhost" })).cert.serialNumber === next.serial, {
      timeoutMs: 30000,
      intervalMs: 500,
      message: "the watched files reloaded",
    });
    assert.match(server.stderr(), /certificates reloaded \(files changed\)/);
    assert.deepEqual(await echo(old, "watched"), ["watched"]);
    old.disconnect();
  });
});

describe("start-up checks", { skip: SKIP }, () => {
  /** Runs socketio-server until it exits (or kills it after timeoutMs). */
  function runToExit(args, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const bin = path.join(process.env.SIO_BUILD_DIR ?? "", "bin", "socketio-server");
      const child = spawn(bin, ["--host", "127.0.0.1", "--port", "0", ...args], { cwd: TESTS_DIR, stdio: ["ignore", "pipe", "pipe"] });
      track(child, () => child.kill("SIGKILL"));
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", reject);
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  test("a key that does not match the certificate: exit 2 naming the key file", T, async () => {
    const other = pki.issue("localhost", { dns: ["localhost"] });
    const r = await runToExit(["--tls-cert", localhostCert.cert, "--tls-key", other.key, "--tls-ca", pki.intermediate.cert]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(other.key), r.stderr);
    assert.match(r.stderr, /does not match/);
    assert.doesNotMatch(r.stdout, /listening/);
  });

  test("a CA file that did not issue the certificate: exit 2 naming it", T, async () => {
    const r = await runToExit(["--tls-cert", localhostCert.cert, "--tls-key", localhostCert.key, "--tls-ca", pki.root.cert]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(pki.root.cert), r.stderr);
    assert.doesNotMatch(r.stdout, /listening/);
  });

  test("a file that is not PEM: exit 2 naming it", T, async () => {
    const notPem = pki.write("not-pem.pem", "hello\n");
    const r = await runToExit(["--tls-cert", notPem, "--tls-key", localhostCert.key]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(notPem), r.stderr);
  });

  test("an encrypted key: served with --tls-key-passphrase-file, exit 2 naming the key with a wrong one", T, async () => {
    const pass = pki.write("pass.txt", "correct horse battery staple\n");
    const wrong = pki.write("wrong.txt", "nope\n");
    const encrypted = pki.file("localhost-encrypted.key");
    await run("openssl", ["pkey", "-in", localhostCert.key, "-aes-256-cbc", "-passout", `file:${pass}`, "-out", encrypted]);
    assert.match(fs.readFileSync(encrypted, "utf8"), /ENCRYPTED PRIVATE KEY/);

    const server = await startServer({
      kind: "chat",
      args: ["--tls-cert", localhostCert.cert, "--tls-key", encrypted, "--tls-ca", pki.intermediate.cert, "--tls-key-passphrase-file", pass],
    });
    const s = await sioConnect(server, "/", strict({ transports: ["websocket"] }), 15000);
    assert.deepEqual(await echo(s, "encrypted"), ["encrypted"]);
    s.disconnect();

    const r = await runToExit(["--tls-cert", localhostCert.cert, "--tls-key", encrypted, "--tls-key-passphrase-file", wrong]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(encrypted), r.stderr);
    assert.match(r.stderr, /passphrase/);
    assert.ok(!r.stderr.includes("nope"), "the passphrase is never printed");
  });

  test("an expired certificate: the server starts with a warning naming the file; strict clients refuse it", T, async () => {
    // The issue asks for a warning, not a refusal: a late renewal must not keep a restarted
    // node down (nginx behaves the same). Clients do the refusing.
    const expired = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"], expired: true });
    const server = await startServer({ kind: "chat", args: tlsArgs(expired) });
    await until(() => /warning: tls: /.test(server.stderr()), { timeoutMs: 5000, message: "warning" });
    const line = server.stderr().split("\n").find((l) => l.includes("expired on"));
    assert.ok(line, server.stderr());
    assert.ok(line.includes(expired.cert), line);
    assert.match(line, /2020-02-01/);
    const seen = await tlsProbe(server.port, { servername: "localhost" });
    assert.equal(seen.authorized, false);
    assert.equal(seen.authorizationError, "CERT_HAS_EXPIRED");
    const err = await sioConnect(server, "/", strict({ transports: ["websocket"] }), 15000).then(
      () => assert.fail("connected to an expired certificate"),
      (e) => e,
    );
    assert.ok(err instanceof Error);
  });
});

describe("large payloads, bursts and a stalled reader over TLS", { skip: SKIP }, () => {
  let big; // allows 5 MB messages, so that 1 MB binaries (and their base64 over polling) fit
  before(async () => {
    if (SKIP) return;
    big = await startServer({ kind: "chat", args: [...tlsArgs(localhostCert), "--max-http-buffer-size", "5000000"] });
  });

  for (const transport of ["websocket", "polling"]) {
    test(`1 MB binary both ways and 300 small acks in one burst (${transport})`, T, async () => {
      const s = await sioConnect(big, "/", strict({ transports: [transport] }), 15000);
      assert.equal(s.io.engine.transport.name, transport);
      const payload = crypto.randomBytes(1 << 20);
      const [back] = await echo(s, payload);
      assert.deepEqual(toBuffer(back), payload, "1 MB binary echoed intact");
      const burst = await Promise.all(Array.from({ length: 300 }, (_, i) => echo(s, `m${i}`, i)));
      burst.forEach(([text, n], i) => {
        assert.equal(text, `m${i}`);
        assert.equal(n, i);
      });
      s.disconnect();
    });
  }

  test("a WSS client that stops reading: the server's writes wait for it, nothing is lost or reordered", T, async () => {
    const s = await sioConnect(big, "/", strict({ transports: ["websocket"] }), 15000);
    const raw = s.io.engine.transport.ws._socket; // the client's TLS socket
    const payloads = Array.from({ length: 4 }, () => crypto.randomBytes(1 << 20));
    raw.pause(); // kernel buffers fill up; the server's TLS writes back up while it still reads
    const answers = Promise.all(payloads.map((p, i) => echo(s, i, p)));
    await new Promise((resolve) => setTimeout(resolve, 800));
    raw.resume();
    const got = await answers;
    got.forEach(([i, b], k) => {
      assert.equal(i, k);
      assert.deepEqual(toBuffer(b), payloads[k], `payload ${k} intact`);
    });
    const [after] = await echo(s, "still fine");
    assert.equal(after, "still fine");
    s.disconnect();
  });

  test("the server stops cleanly after them (no sanitizer report)", T, async () => {
    const { code, signal } = await big.stop();
    assert.equal(signal, null);
    assert.equal(code, 0, big.stderr());
    assert.doesNotMatch(big.stderr(), /Sanitizer|runtime error:/);
  });
});

describe("shutdown", { skip: SKIP }, () => {
  test("after all that TLS traffic the server stops cleanly on SIGTERM (no sanitizer report)", T, async () => {
    const { code, signal } = await main.stop();
    assert.equal(signal, null);
    assert.equal(code, 0, main.stderr());
    assert.doesNotMatch(main.stderr(), /Sanitizer|runtime error:/);
  });
});
