// The official protocol test suites of the socket.io monorepo (vendored under
// tests/protocol-suites/, see its README), run with mocha against the conformance server, unchanged
// but for the server URL (protocol-suites/run/register.mjs): Engine.IO v4 and Socket.IO v5 over
// plain HTTP and over TLS (a certificate from lib/pki.mjs, trusted through NODE_EXTRA_CA_CERTS),
// and Engine.IO v3 against the server started with --allow-eio3. Every case must pass: the run
// fails on any failing case, on a pending case the suite does not skip itself (the v3 suite skips
// one, as upstream), and when fewer cases ran than the suite holds.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { TESTS_DIR, closeAll, startServer, track } from "./lib/harness.mjs";
import { createPki } from "./lib/pki.mjs";

after(closeAll);

const SUITES = path.join(TESTS_DIR, "protocol-suites");
const MOCHA = path.join(TESTS_DIR, "node_modules", "mocha", "bin", "mocha.js");

/** The it(...) and it.skip(...) cases of a vendored suite (what a full run must report). */
function caseCount(suite) {
  const source = fs.readFileSync(path.join(SUITES, suite, "test-suite.js"), "utf8");
  return { run: source.match(/^\s*it\(/gm).length, skipped: (source.match(/^\s*it\.skip\(/gm) ?? []).length };
}

/** Runs one suite with mocha's JSON reporter; resolves its stats and failures. */
function runSuite(suite, url, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "./protocol-suites/run/register.mjs", MOCHA, "--reporter", "json", "--timeout", "10000",
        `protocol-suites/${suite}/test-suite.js`],
      { cwd: TESTS_DIR, env: { ...process.env, ...env, SIO_SUITE_URL: url }, stdio: ["ignore", "pipe", "pipe"] },
    );
    track(child, () => child.kill("SIGKILL"));
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("error", reject);
    child.once("exit", (code) => {
      const start = out.indexOf("{");
      let report;
      try {
        report = JSON.parse(out.slice(start));
      } catch (e) {
        return reject(new Error(`mocha (exit ${code}) printed no JSON report: ${e.message}\n${out}\n${err}`));
      }
      resolve({ code, report, stderr: err });
    });
  });
}

async function expectAllPass(suite, url, env) {
  const { code, report, stderr } = await runSuite(suite, url, env);
  const failures = report.failures.map((f) => `${f.fullTitle}: ${f.err.message}`);
  assert.deepEqual(failures, [], `failing cases of ${suite}\n${stderr}`);
  const expected = caseCount(suite);
  assert.equal(report.stats.pending, expected.skipped, "pending cases (only the suite's own it.skip)");
  assert.equal(report.stats.passes, expected.run, "every case of the suite ran and passed");
  assert.equal(code, 0);
}

describe("official suites over plain HTTP", () => {
  let server;
  before(async () => {
    server = await startServer({ kind: "conformance" });
  });
  test("engine.io-protocol v4-test-suite", () => expectAllPass("engine.io-v4", server.url));
  test("socket.io-protocol v5-test-suite", () => expectAllPass("socket.io-v5", server.url));
});

describe("official suites over TLS", () => {
  let server;
  let ca;
  before(async () => {
    const pki = createPki();
    const leaf = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"] });
    ca = pki.root.cert;
    server = await startServer({
      kind: "conformance",
      args: ["--tls-cert", leaf.cert, "--tls-key", leaf.key, "--tls-ca", pki.intermediate.cert],
    });
    assert.match(server.url, /^https:/);
  });
  test("engine.io-protocol v4-test-suite", () =>
    expectAllPass("engine.io-v4", server.url, { NODE_EXTRA_CA_CERTS: ca }));
  test("socket.io-protocol v5-test-suite", () =>
    expectAllPass("socket.io-v5", server.url, { NODE_EXTRA_CA_CERTS: ca }));
});

describe("official Engine.IO v3 suite with --allow-eio3", () => {
  let server;
  before(async () => {
    server = await startServer({ kind: "conformance", args: ["--allow-eio3"] });
  });
  test("engine.io-protocol v3-test-suite", () => expectAllPass("engine.io-v3", server.url));
});

