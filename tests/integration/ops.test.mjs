// Operations (docs/operations.md): a real Prometheus (the Debian package) scrapes the server's
// GET /metrics and its HTTP API answers what the test did (connected clients, disconnections by
// reason); `promtool check metrics` accepts a scrape; /healthz; /readyz is 503 before the Redis
// subscriptions are confirmed and while draining, 200 otherwise; --drain-timeout and exit code 0.
// The C++ server only: the Node reference has no /metrics.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, closeAll, request, track, until, freePort, sleep, openWebSocket, IS_REFERENCE } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";
import { startRedis } from "./lib/redis.mjs";
import { rssBytes, allThreadsStopped } from "./lib/procstat.mjs";

const T = { timeout: 60000, skip: IS_REFERENCE ? "the Node reference has no /metrics" : false };

let tmp;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sio-ops-"));
});
after(async () => {
  await closeAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function need(cmd) {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  // Fail, never skip: scripts/deps.sh test installs it.
  assert.equal(r.status, 0, `${cmd} is not installed (scripts/deps.sh test installs it)`);
}

/** prometheus scraping 127.0.0.1:targetPort every second; resolves when it is ready. */
async function startPrometheus(targetPort) {
  need("prometheus");
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(tmp, "prom-"));
  const config = path.join(dir, "prometheus.yml");
  fs.writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n` +
      `  - job_name: socketio\n    static_configs:\n      - targets: ['127.0.0.1:${targetPort}']\n`,
  );
  const proc = spawn(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => (err = (err + d).slice(-20000)));
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  track(proc, async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    }
  });
  await until(
    async () => {
      if (proc.exitCode !== null) throw new Error(`prometheus exited: ${err}`);
      try {
        return (await request({ port, path: "/-/ready" })).status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 30000, intervalMs: 200, message: "prometheus ready" },
  );
  return {
    port,
    /** The value of an instant query with one result (NaN when there is none). */
    async value(query) {
      const res = await request({ port, path: `/api/v1/query?query=${encodeURIComponent(query)}` });
      const body = JSON.parse(res.text);
      assert.equal(body.status, "success", res.text);
      const r = body.data.result;
      return r.length === 1 ? Number(r[0].value[1]) : NaN;
    },
  };
}

async function eventually(prom, query, expected) {
  let last;
  await until(
    async () => {
      last = await prom.value(query);
      return last === expected;
    },
    { timeoutMs: 20000, intervalMs: 250, message: `${query} == ${expected} (last: ${last})` },
  );
}

/** n raw WebSocket sessions connected to "/" (100 at a time), every CONNECT answered. */
async function openSessions(port, n) {
  const sockets = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, () => openWebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`)),
    );
    for (const ws of batch) {
      await ws.next(); // the open packet
      ws.send("40");
      sockets.push(ws);
    }
  }
  for (const ws of sockets) await ws.next(); // every CONNECT answered
  return sockets;
}

describe("Prometheus", () => {
  test("a real Prometheus scrapes connected clients and disconnections by reason", T, async () => {
    const opsPort = await freePort();
    const server = await startServer({
      kind: "chat",
      args: ["--metrics-listen", `127.0.0.1:${opsPort}`, "--threads", "2"],
    });
    assert.match(server.stdout(), new RegExp(`metrics on http://127\\.0\\.0\\.1:${opsPort}/metrics`));
    const prom = await startPrometheus(opsPort);
    await eventually(prom, 'up{job="socketio"}', 1);

    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await sioConnect(server, "/", { transports: ["websocket"] }));
    for (let i = 0; i < 2; i++) clients.push(await sioConnect(server, "/", { transports: ["polling"] }));
    await eventually(prom, "sum(socketio_connected_clients)", 5);
    await eventually(prom, 'socketio_connected_clients{transport="polling"}', 2);
    await eventually(prom, 'socketio_connected_sockets{namespace="/"}', 5);
    await eventually(prom, 'socketio_disconnections_total{reason="transport close"}', 0);

    // Two clients leave (the client closes the transport: "transport close").
    clients[0].disconnect();
    clients[3].disconnect();
    await eventually(prom, 'socketio_disconnections_total{reason="transport close"}', 2);
    await eventually(prom, "sum(socketio_connected_clients)", 3);
    await eventually(prom, 'socketio_socket_disconnections_total{reason="client namespace disconnect"}', 2);
    assert.equal(await prom.value("socketio_socket_connections_total"), 5);
    assert.equal(await prom.value('socketio_build_info{version!=""}'), 1);
  });

  test("promtool check metrics accepts a scrape; /metrics on the main port with --metrics", T, async () => {
    need("promtool");
    const server = await startServer({ kind: "chat", args: ["--metrics"] });
    const c = await sioConnect(server, "/", { transports: ["websocket"] });
    c.emit("chat message", "hello");
    await sleep(100);
    const res = await request({ port: server.port, path: "/metrics" });
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"], /^text\/plain; version=0\.0\.4/);
    assert.match(res.text, /^socketio_connected_clients\{transport="websocket"\} 1$/m);
    assert.match(res.text, /^# TYPE socketio_event_loop_lag_seconds gauge$/m);
    const check = spawnSync("promtool", ["check", "metrics"], { input: res.text, encoding: "utf8" });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
    // Without --metrics, the main port has no /metrics (it is not public by default).
    const plain = await startServer({ kind: "chat" });
    assert.equal((await request({ port: plain.port, path: "/metrics" })).status, 404);
  });
});

describe("health", () => {
  test("/healthz and /readyz answer 200 on a running server; 405 for POST", T, async () => {
    const server = await startServer({ kind: "chat" });
    const h = await request({ port: server.port, path: "/healthz" });
    assert.equal(h.status, 200);
    assert.equal(h.text, "ok\n");
    const r = await request({ port: server.port, path: "/readyz" });
    assert.equal(r.status, 200);
    assert.equal((await request({ port: server.port, method: "POST", path: "/readyz", body: "" })).status, 405);
  });

  test("/readyz is 503 until Redis confirms the subscriptions", T, async () => {
    const redis = await startRedis();
    await redis.stop(); // the server starts while Redis is down
    const opsPort = await freePort();
    const starting = startServer({
      kind: "chat",
      args: ["--redis", redis.url, "--metrics-listen", `127.0.0.1:${opsPort}`],
      timeoutMs: 30000,
    });
    starting.catch(() => {});
    let res;
    await until(
      async () => {
        try {
          res = await request({ port: opsPort, path: "/readyz" });
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10000, message: "ops listener up" },
    );
    assert.equal(res.status, 503);
    assert.match(res.text, /redis: subscriptions not confirmed/);
    assert.equal((await request({ port: opsPort, path: "/healthz" })).status, 200); // alive, not ready
    await redis.start();
    await until(async () => (await request({ port: opsPort, path: "/readyz" })).status === 200, {
      timeoutMs: 15000,
      intervalMs: 100,
      message: "/readyz 200 once Redis is back",
    });
    const server = await starting;
    const metrics = await request({ port: opsPort, path: "/metrics" });
    assert.match(metrics.text, /^socketio_redis_subscribed 1$/m);
    await server.stop();
  });

  test("cluster requests: their duration in a histogram, their timeouts counted (--redis-requests-timeout)", T, async () => {
    const redis = await startRedis();
    const [a, b] = await Promise.all(
      [0, 1].map(() => startServer({ kind: "chat", args: ["--redis", redis.url, "--metrics", "--redis-requests-timeout", "1000"] })),
    );
    const scrape = async () => (await request({ port: a.port, path: "/metrics" })).text;
    const sample = (text, name, type) => Number(new RegExp(`^${name}\\{type="${type}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
    const ca = await sioConnect(a, "/", { transports: ["websocket"] });
    const cb = await sioConnect(b, "/", { transports: ["websocket"] });
    for (const c of [ca, cb]) assert.deepEqual(await c.timeout(5000).emitWithAck("join", "ops"), { ok: true });
    // Both nodes answer: fetchSockets observed (members, and the chat's presence on join), each
    // well under the timeout.
    let r = await ca.timeout(5000).emitWithAck("members", "ops");
    assert.equal(r.members.length, 2);
    let text = await scrape();
    const count = (t) => sample(t, "socketio_cluster_request_duration_seconds_count", "fetchSockets");
    const fast = (t) => Number(/^socketio_cluster_request_duration_seconds_bucket\{type="fetchSockets",le="0.5"\} (\d+)$/m.exec(t)?.[1]);
    const n0 = count(text);
    assert.ok(n0 >= 1, `fetchSockets observed (${n0})`);
    assert.equal(fast(text), n0, "every answered request under 0.5 s");
    assert.equal(sample(text, "socketio_cluster_request_timeouts_total", "fetchSockets"), 0);
    // Node B stopped (SIGSTOP: still subscribed, never answers): the request waits 1 s, then
    // answers with what came (node A's own member), and the timeout is counted.
    b.proc.kill("SIGSTOP");
    try {
      await until(() => allThreadsStopped(b.proc.pid), { timeoutMs: 5000, intervalMs: 10, message: "node B stopped" });
      const t0 = Date.now();
      r = await ca.timeout(5000).emitWithAck("members", "ops");
      const waited = Date.now() - t0;
      assert.deepEqual(r.members.map((m) => m.id), [ca.id]);
      assert.ok(waited >= 900 && waited < 4000, `answered after the 1 s requests timeout (${waited} ms)`);
      text = await scrape();
      assert.equal(count(text), n0 + 1);
      assert.equal(sample(text, "socketio_cluster_request_timeouts_total", "fetchSockets"), 1);
      assert.equal(fast(text), n0, "the timed-out one observed at about 1 s");
    } finally {
      b.proc.kill("SIGCONT");
    }
    await a.stop();
    await b.stop();
  });

  test("--memory-trim-interval gives back what a burst of connections left behind", T, async () => {
    // Two servers, the same burst: 6000 WebSocket sessions opened, then closed (1500 left too
    // little to tell apart once a connection cost ~6 KiB instead of ~11, and 3000 once it cost
    // ~2 KiB and one send less: 3.5-4.3 MB apart, at the bound). glibc keeps the
    // freed memory in its arenas unless trimmed. (Under ASan the allocator is ASan's, which
    // malloc_trim does not touch: the comparison is then meaningless and only the flag is run.)
    const [kept, trimmed] = await Promise.all([
      startServer({ kind: "chat", args: ["--threads", "1", "--memory-trim-interval", "0"] }),
      startServer({ kind: "chat", args: ["--threads", "1", "--memory-trim-interval", "200", "--log-level", "debug"] }),
    ]);
    for (const srv of [kept, trimmed]) {
      const sockets = await openSessions(srv.port, 6000);
      for (const ws of sockets) ws.close();
    }
    await sleep(1500); // sessions gone, a few trim periods
    const mb = (pid) => rssBytes(pid) / 2 ** 20;
    const [k, t] = [mb(kept.proc.pid), mb(trimmed.proc.pid)];
    console.log(`after 6000 sessions left: RSS ${k.toFixed(1)} MB untrimmed, ${t.toFixed(1)} MB with --memory-trim-interval 200`);
    if (!process.env.ASAN_OPTIONS) {
      assert.ok(t < k - 4, `trimmed RSS ${t.toFixed(1)} MB is at least 4 MB under untrimmed ${k.toFixed(1)} MB`);
      assert.match(trimmed.stderr(), /memory: freed heap pages given back/);
    }
    await kept.stop();
    await trimmed.stop();
  });

  test("a burst of connections that came and went, beside held ones, leaves the RSS where it was", T, async () => {
    // 2000 sessions held, then two bursts of 3000 more that open and close. Asio keeps each
    // accepted socket's reactor record (~200 bytes) in a pool for reuse, allocated by the thread
    // that accepts: when the shard accepted, the records of the burst stayed among the held
    // connections' objects and pinned the pages the burst freed, which no trim gives back
    // (measured here before the accept thread: +8.9 MB; after: +1.4 MB). Under ASan the allocator
    // is ASan's: only run.
    const srv = await startServer({ kind: "chat", args: ["--threads", "1", "--memory-trim-interval", "200"] });
    const held = await openSessions(srv.port, 2000);
    await sleep(1000);
    const mb = () => rssBytes(srv.proc.pid) / 2 ** 20;
    const before = mb();
    for (let round = 0; round < 2; round++) {
      const burst = await openSessions(srv.port, 3000);
      for (const ws of burst) ws.close();
      await sleep(1000); // the burst's sessions gone
    }
    await sleep(1500); // a few trim periods
    const after = mb();
    console.log(`2000 sessions held: RSS ${before.toFixed(1)} MB, ${after.toFixed(1)} MB after two bursts of 3000 came and went`);
    if (!process.env.ASAN_OPTIONS) assert.ok(after - before < 4, `RSS grew ${(after - before).toFixed(1)} MB (${before.toFixed(1)} -> ${after.toFixed(1)})`);
    for (const ws of held) ws.close();
    await srv.stop();
  });

  test("--malloc-thread-cache=false: the server starts itself again, same pid, with glibc's tcache off", T, async () => {
    // glibc reads its tunables only when a process starts: the flag makes the server exec itself
    // with GLIBC_TUNABLES extended (docs/reliability.md: what the cache does to the RSS after a
    // burst) and a marker that stops it from doing so again. /proc/PID/environ is the environment
    // the running image started with. glibc 2.36 writes a NUL after each tunable's value as it
    // reads them, so a caller's tunable before ours shows as its own entry, ours as the next one.
    const environ = (pid) => fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
    const tunables = (pid) => {
      const env = environ(pid);
      const i = env.findIndex((v) => v.startsWith("GLIBC_TUNABLES="));
      return i < 0 ? undefined : [env[i], env[i + 1]];
    };
    const alone = await startServer({ kind: "chat", args: ["--threads", "1", "--malloc-thread-cache=false"] });
    const beside = await startServer({
      kind: "chat",
      args: ["--threads", "1", "--malloc-thread-cache=false"],
      env: { GLIBC_TUNABLES: "glibc.malloc.mxfast=64" },
    });
    const plain = await startServer({ kind: "chat", args: ["--threads", "1"] });
    assert.equal(tunables(alone.proc.pid)[0], "GLIBC_TUNABLES=glibc.malloc.tcache_count=0");
    const [first, next] = tunables(beside.proc.pid);
    assert.ok(
      first === "GLIBC_TUNABLES=glibc.malloc.mxfast=64:glibc.malloc.tcache_count=0" ||
        (first === "GLIBC_TUNABLES=glibc.malloc.mxfast=64" && next === "glibc.malloc.tcache_count=0"),
      `${first} ${next}`,
    );
    for (const srv of [alone, beside]) assert.ok(environ(srv.proc.pid).includes("SOCKETIO_SERVER_NO_THREAD_CACHE=1"));
    assert.ok(!environ(plain.proc.pid).some((v) => v.includes("tcache_count") || v.startsWith("SOCKETIO_SERVER_NO")));
    for (const srv of [alone, beside]) {
      // The restarted image serves: sessions open and the process is the one the test started.
      const sockets = await openSessions(srv.port, 20);
      assert.equal(sockets.length, 20);
      for (const ws of sockets) ws.close();
      assert.equal(srv.exitCode, undefined);
    }
    await Promise.all([alone.stop(), beside.stop(), plain.stop()]);
  });

  test("socketio_heap_bytes: the heap in use, free and mmapped, read at scrape time", T, async () => {
    const srv = await startServer({ kind: "chat", args: ["--threads", "1", "--metrics"] });
    const heap = async () => {
      const { status, text } = await request({ port: srv.port, path: "/metrics" });
      assert.equal(status, 200);
      const value = (state) => {
        const m = new RegExp(`^socketio_heap_bytes\\{state="${state}"\\} (\\S+)$`, "m").exec(text);
        assert.ok(m, `socketio_heap_bytes{state="${state}"} in the scrape`);
        return Number(m[1]);
      };
      value("free");
      value("mmapped");
      return value("in_use");
    };
    const before = await heap();
    const sockets = await openSessions(srv.port, 300);
    const after = await heap();
    console.log(`heap in use: ${(before / 1024).toFixed(0)} KiB, ${(after / 1024).toFixed(0)} KiB with 300 sessions`);
    // Under ASan the allocator is ASan's, which glibc's mallinfo2 does not see: only the series.
    if (!process.env.ASAN_OPTIONS) assert.ok(after - before > 300 * 2048, "the heap grew by at least 2 KiB a session");
    for (const ws of sockets) ws.close();
    await srv.stop();
  });

  test("/readyz is 503 while draining; a clean drain exits 0 (--drain-timeout)", T, async () => {
    const opsPort = await freePort();
    const server = await startServer({
      kind: "chat",
      args: ["--metrics-listen", `127.0.0.1:${opsPort}`, "--drain-timeout", "3000"],
    });
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await sioConnect(server, "/", { transports: ["polling"] }));
    const disconnected = clients.map((c) => new Promise((resolve) => c.once("disconnect", resolve)));
    assert.equal((await request({ port: opsPort, path: "/readyz" })).status, 200);
    server.proc.kill("SIGTERM");
    const seen = [];
    const t0 = Date.now();
    while (server.exitCode === undefined && Date.now() - t0 < 10000) {
      try {
        const r = await request({ port: opsPort, path: "/readyz", timeoutMs: 1000 });
        seen.push(r.status);
      } catch {
        break; // the listener closed: the stop is ending
      }
      await sleep(10);
    }
    const { code } = await server.exited;
    assert.ok(seen.includes(503), `a 503 while draining (saw ${seen.join(",")})`);
    assert.equal(seen.at(-1), 503);
    assert.equal(code, 0, server.stderr());
    assert.deepEqual(await Promise.all(disconnected), Array(3).fill("io server disconnect"));
  });
});
