// The socketio-server command line contract (app/config.cpp, app/main.cpp): --help and --version
// exit 0; a bad flag, flag value or config-file value exits 2 with one "error: ..." line naming
// the flag or the file and key; both "--flag value" and "--flag=value"; TOML and JSON config
// files, overridden by the command line; the exact "listening on" line on stdout; exit 1 when the
// port is taken; SIGTERM stops gracefully (connected clients get "io server disconnect") and
// exits 0 within 3 s. Values that reach the wire are checked through the Engine.IO handshake.
//
// Against SIO_TARGET=reference only the tests that the Node reference implements run (it parses
// --host/--port/--threads and nothing else).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startServer, closeAll, request, track, waitFor, IS_REFERENCE } from "./lib/harness.mjs";
import { sioConnect, waitForUpgrade } from "./lib/clients.mjs";
import { pollingHandshake, pollingPath } from "./lib/raw.mjs";

const T = { timeout: 20000 };
const CLI = { ...T, skip: IS_REFERENCE ? "the reference server implements only --host/--port/--threads" : false };

let tmp;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sio-cli-"));
});
after(async () => {
  await closeAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function binary() {
  const dir = process.env.SIO_BUILD_DIR;
  if (!dir) throw new Error("SIO_BUILD_DIR is not set");
  return path.join(dir, "bin", "socketio-server");
}

/** Writes a file in the test's temporary directory and returns its path. */
function writeTmp(name, content) {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, content);
  return file;
}

/**
 * Runs the binary to completion (for the cases that must exit before listening). Resolves with
 * {code, signal, stdout, stderr}; kills it and rejects if it is still running after timeoutMs.
 */
function runToExit(args, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(binary(), args, { stdio: ["ignore", "pipe", "pipe"] });
    const untrack = track(proc, () => proc.kill("SIGKILL"));
    let stdout = "";
    let stderr = "";
    proc.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    proc.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`socketio-server ${args.join(" ")} still running after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    proc.once("error", (e) => {
      clearTimeout(timer);
      untrack();
      reject(e);
    });
    proc.once("close", (code, signal) => {
      clearTimeout(timer);
      untrack();
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Asserts exit code 2 and one "error: ..." line on stderr that contains every needle. */
async function expectConfigError(args, ...needles) {
  const r = await runToExit(args);
  assert.equal(r.code, 2, `exit code for ${args.join(" ")}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout, "", "nothing on stdout");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0], /^error: /);
  for (const n of needles) assert.ok(lines[0].includes(n), `stderr ${JSON.stringify(lines[0])} names ${n}`);
  return lines[0];
}

/** The Engine.IO handshake of a polling request: {sid, pingInterval, pingTimeout, maxPayload, upgrades}. */
async function handshake(server) {
  const res = await request({ port: server.port, path: "/socket.io/?EIO=4&transport=polling" });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text[0], "0", `an open packet: ${res.text}`);
  return JSON.parse(res.text.slice(1));
}

describe("socketio-server command line", () => {
  test("--help prints the usage on stdout and exits 0", CLI, async () => {
    const r = await runToExit(["--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    for (const flag of ["--port", "--host", "--config", "--cors-origin", "--tls-cert", "--log-level"]) {
      assert.ok(r.stdout.includes(flag), `--help mentions ${flag}`);
    }
  });

  test("--version prints the version and exits 0", CLI, async () => {
    const r = await runToExit(["--version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^socketio-server \d+\.\d+\.\d+\n$/);
  });

  test("an unknown flag exits 2 naming it", CLI, async () => {
    await expectConfigError(["--bogus-flag", "1"], "--bogus-flag");
    await expectConfigError(["--bogus-flag=1"], "--bogus-flag");
  });

  test("a bad flag value exits 2 naming the flag, in both --flag value and --flag=value forms", CLI, async () => {
    await expectConfigError(["--port", "70000"], "--port", "70000");
    await expectConfigError(["--port=70000"], "--port", "70000");
    await expectConfigError(["--port=abc"], "--port", "abc");
    await expectConfigError(["--port"], "--port");
    await expectConfigError(["--log-level", "loud"], "--log-level", "loud");
    await expectConfigError(["--transports=polling,carrier-pigeon"], "--transports", "carrier-pigeon");
    await expectConfigError(["--host", "not-an-address"], "--host");
    await expectConfigError(["--serve-client=maybe"], "--serve-client");
    await expectConfigError(["--tls-key", "key.pem"], "--tls-key");
  });

  test("--redis with a URL that is not redis:// exits 2 naming the flag", CLI, async () => {
    await expectConfigError(["--redis", "http://127.0.0.1:6379"], "--redis");
    // A Redis Cluster runs the sharded and streams modes, and needs its seed URLs.
    await expectConfigError(["--redis-cluster"], "--redis-cluster", "--redis");
    await expectConfigError(["--redis-reconnect-max-delay", "50"], "--redis-reconnect-max-delay");
    await expectConfigError(["--redis", "redis://127.0.0.1:1", "--redis-cluster"], "--redis-cluster", "sharded");
    await expectConfigError(["--redis", "redis://127.0.0.1:1", "--redis-mode", "classic", "--redis-cluster"], "--redis-cluster", "streams");
  });

  test("the node registry flags: bad values and missing companions exit 2 naming the flag", CLI, async () => {
    const redis = ["--redis", "redis://127.0.0.1:1"];
    await expectConfigError(["--public-url", "https://node1.example.com"], "--public-url", "--redis");
    await expectConfigError([...redis, "--public-url", "node1.example.com"], "--public-url", "not an absolute URL");
    await expectConfigError([...redis, "--public-url", "https://node1.example.com/socket.io"], "--public-url", "namespace");
    await expectConfigError([...redis, "--public-url", "ftp://node1.example.com"], "--public-url", "http or https");
    await expectConfigError(["--node-weight", "2"], "--node-weight", "--public-url");
    await expectConfigError(["--node-ttl", "5000"], "--node-ttl", "--public-url");
    const node = [...redis, "--public-url", "https://node1.example.com"];
    await expectConfigError([...node, "--node-weight", "1001"], "--node-weight", "1001");
    await expectConfigError([...node, "--node-ttl", "999"], "--node-ttl", "999");
    await expectConfigError([...node, "--cluster-pick-path", "cluster/pick"], "--cluster-pick-path");
    await expectConfigError([...node, "--cluster-pick-path", "/cluster/nodes"], "--cluster-pick-path", "--cluster-nodes-path");
    await expectConfigError([...redis, "--forward-timeout", "999"], "--forward-timeout", "999");
    await expectConfigError([...redis, "--forward-max-pending", "0"], "--forward-max-pending", "0");
    await expectConfigError([...redis, "--forward-sessions=maybe"], "--forward-sessions");
  });

  test("a config file value of the wrong type exits 2 naming the file and the key", CLI, async () => {
    const file = writeTmp("badtype.toml", 'port = "3000"\n');
    await expectConfigError(["--config", file], file, "'port'", "expected an integer");
    const json = writeTmp("badtype.json", '{"ping-interval": "fast"}');
    await expectConfigError([`--config=${json}`], json, "'ping-interval'");
  });

  test("a config file value out of range exits 2 naming the key", CLI, async () => {
    const file = writeTmp("range.toml", "port = 70000\n");
    await expectConfigError(["--config", file], "'port'", "70000");
  });

  test("an unknown config file key exits 2 naming it", CLI, async () => {
    const file = writeTmp("unknown.toml", "port = 0\nprot = 3000\n");
    await expectConfigError(["--config", file], file, "'prot'");
    const json = writeTmp("unknown.json", '{"pingInterval": 300}');
    await expectConfigError(["--config", json], json, "'pingInterval'");
  });

  test("a config file that does not parse or does not exist exits 2", CLI, async () => {
    const toml = writeTmp("syntax.toml", "port = \n");
    await expectConfigError(["--config", toml], toml);
    const json = writeTmp("syntax.json", '{"port": }');
    await expectConfigError(["--config", json], json, "JSON");
    await expectConfigError(["--config", path.join(tmp, "missing.toml")], "missing.toml");
  });

  test("TLS files that cannot be loaded exit 2", CLI, async () => {
    const r = await runToExit([
      "--host", "127.0.0.1", "--port", "0",
      "--tls-cert", path.join(tmp, "nope-cert.pem"), "--tls-key", path.join(tmp, "nope-key.pem"),
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /nope-(cert|key)\.pem/);
  });

  test("a port taken by another program exits 1 with a message naming it", CLI, async () => {
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    track(blocker, () => new Promise((resolve) => blocker.close(resolve)));
    const { port } = blocker.address();
    const r = await runToExit(["--host", "127.0.0.1", "--port", String(port)]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(String(port)), `stderr names the port: ${r.stderr}`);
    assert.equal(r.stdout, "");
  });

  test("the listening line is exactly one line on stdout", T, async () => {
    const server = await startServer({ kind: "chat" });
    assert.ok(server.port > 0);
    assert.equal(server.stdout(), `socketio-server listening on http://127.0.0.1:${server.port}\n`);
  });

  test("--flag=value values reach the server", CLI, async () => {
    const server = await startServer({ kind: "chat", args: ["--ping-interval=300", "--ping-timeout=250", "--max-http-buffer-size=5000"] });
    const hs = await handshake(server);
    assert.equal(hs.pingInterval, 300);
    assert.equal(hs.pingTimeout, 250);
    assert.equal(hs.maxPayload, 5000);
  });

  test("--transports limits the upgrades offered", CLI, async () => {
    const server = await startServer({ kind: "chat", args: ["--transports", "polling"] });
    const hs = await handshake(server);
    assert.deepEqual(hs.upgrades, []);
  });

  test("a TOML config file is applied", CLI, async () => {
    const file = writeTmp("good.toml", "# settings\nping-interval = 350\nping-timeout = 300\ncors-origin = [\"https://a.example\"]\n");
    const server = await startServer({ kind: "chat", args: ["--config", file] });
    const hs = await handshake(server);
    assert.equal(hs.pingInterval, 350);
    assert.equal(hs.pingTimeout, 300);
  });

  test("a JSON config file is applied (by extension, or by a leading '{')", CLI, async () => {
    const file = writeTmp("good.json", JSON.stringify({ "ping-interval": 400, "max-http-buffer-size": 6000, "allow-eio3": false }));
    const server = await startServer({ kind: "chat", args: [`--config=${file}`] });
    const hs = await handshake(server);
    assert.equal(hs.pingInterval, 400);
    assert.equal(hs.maxPayload, 6000);

    const sniffed = writeTmp("settings.conf", '\n  {"ping-interval": 450}\n');
    const server2 = await startServer({ kind: "chat", args: ["--config", sniffed] });
    assert.equal((await handshake(server2)).pingInterval, 450);
  });

  test("flags override the config file", CLI, async () => {
    // The harness passes --port 0; the file says port 1, which the test could not bind anyway.
    const file = writeTmp("override.toml", "port = 1\nping-interval = 700\nping-timeout = 600\n");
    const server = await startServer({ kind: "chat", args: ["--config", file, "--ping-timeout", "650"] });
    assert.notEqual(server.port, 1);
    assert.ok(server.port > 0);
    const hs = await handshake(server);
    assert.equal(hs.pingInterval, 700, "from the file");
    assert.equal(hs.pingTimeout, 650, "from the command line");
  });

  test("--tls-self-signed prints the fingerprint line and an https listening line", CLI, async () => {
    const server = await startServer({ kind: "chat", args: ["--tls-self-signed", "localhost"] });
    const lines = server.stdout().trimEnd().split("\n");
    assert.match(lines[0], /^tls: self-signed certificate for localhost, SHA-256 fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(lines.at(-1), `socketio-server listening on https://127.0.0.1:${server.port}`);
    const fingerprint = lines[0].split(" ").at(-1);
    const { status, peer } = await new Promise((resolve, reject) => {
      const req = https.get(
        { host: "127.0.0.1", port: server.port, path: "/socket.io/?EIO=4&transport=polling", rejectUnauthorized: false, agent: false },
        (res) => {
          const peerCert = res.socket.getPeerCertificate();
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode, peer: peerCert }));
        },
      );
      req.on("error", reject);
      track(req, () => req.destroy());
    });
    assert.equal(status, 200);
    assert.equal(peer.fingerprint256, fingerprint);
  });

  for (const transports of [["polling"], ["websocket"], undefined]) {
    const label = transports ? transports[0] : "polling upgraded to websocket";
    test(`SIGTERM: a connected client (${label}) gets "io server disconnect", exit 0 within 3 s`, T, async () => {
      const server = await startServer({ kind: "chat" });
      const socket = await sioConnect(server, "/", transports ? { transports } : {});
      if (!transports) await waitForUpgrade(socket);
      // A round trip first: the client is fully connected, handlers and all.
      const echoed = await socket.timeout(2000).emitWithAck("echo", "ready");
      assert.equal(echoed, "ready");

      const disconnected = waitFor(socket, "disconnect", 3000);
      const start = Date.now();
      server.proc.kill("SIGTERM");
      const [reason] = await disconnected;
      const { code, signal } = await Promise.race([
        server.exited,
        new Promise((_, reject) => setTimeout(() => reject(new Error("no exit within 3 s")), 3000).unref()),
      ]);
      const elapsed = Date.now() - start;
      // The Node reference (io.close()) closes the transports without a DISCONNECT packet, which
      // a polling client sees as a failed request.
      const expected = IS_REFERENCE
        ? ["io server disconnect", "transport close", "transport error"]
        : ["io server disconnect"];
      assert.ok(expected.includes(reason), `disconnect reason ${reason}`);
      assert.equal(signal, null);
      assert.equal(code, 0, `exit code\nstderr:\n${server.stderr()}`);
      assert.ok(elapsed < 3000, `exited after ${elapsed} ms`);
    });
  }

  // A polling client's next request often comes on a new TCP connection (Node's agent opens one
  // when the previous socket is not free yet): during the graceful stop the server must still
  // accept it, so that the request can carry the DISCONNECT; only new sessions are refused.
  test("SIGTERM: a polling request on a new connection still gets the DISCONNECT; new sessions are refused", CLI, async () => {
    const server = await startServer({ kind: "chat" });
    const base = "/socket.io/";
    const { sid } = await pollingHandshake(server.port, base);
    const path = pollingPath(base, { sid });
    const post = await request({ port: server.port, method: "POST", path, body: "40" });
    assert.equal(post.status, 200);
    const connected = await request({ port: server.port, path });
    assert.match(connected.text, /^40\{"sid":/);

    server.proc.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [poll, handshake] = await Promise.all([
      request({ port: server.port, path }), // agent: false, a new connection
      request({ port: server.port, path: pollingPath(base) }),
    ]);
    assert.equal(poll.status, 200);
    assert.ok(poll.text.split("\x1e").includes("41"), `poll answer ${poll.text}`);
    assert.equal(handshake.status, 403);
    assert.deepEqual(JSON.parse(handshake.text), { code: 4, message: "Server is shutting down" });
    const { code } = await server.exited;
    assert.equal(code, 0);
  });

  test("SIGINT also stops gracefully with exit 0", CLI, async () => {
    const server = await startServer({ kind: "chat" });
    server.proc.kill("SIGINT");
    const { code } = await server.exited;
    assert.equal(code, 0, server.stderr());
  });
});
