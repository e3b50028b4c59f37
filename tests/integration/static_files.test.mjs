// --static DIR never stalls a shard (issue 15, "nothing blocks a shard thread"): the binary with
// one shard (--threads 1) serves a file whose open() blocks (a file lease, lib/lease.mjs, stands
// in for a slow disk or network file system) while a WebSocket client on that same shard keeps
// getting its echo acks; the file comes once the lease goes. FIFOs get 404 at once; past
// --static-max-pending waiting reads, 503 with Retry-After, counted in /metrics, and a client that
// leaves while its read waits costs no read. The handler's rules (paths, caching, the cache
// window) are unit-tested in tests/unit/net/static_files_test.cpp and static_files_io_test.cpp.
//
// C++ only: the reference chat server serves no --static directory.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, closeAll, request, startRequest, sleep, until, IS_REFERENCE } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";
import { holdLease } from "./lib/lease.mjs";

const T = { timeout: 60000 };
const skip = IS_REFERENCE ? "the reference chat server serves no --static directory" : false;

let dir;
before(() => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-static-"));
  fs.writeFileSync(path.join(dir, "index.html"), "<h1>home</h1>");
  for (const name of ["slow1.txt", "slow2.txt"]) fs.writeFileSync(path.join(dir, name), `content of ${name}`);
  fs.writeFileSync(path.join(dir, "a.txt"), "a");
  fs.writeFileSync(path.join(dir, "b.txt"), "b");
  execFileSync("mkfifo", [path.join(dir, "pipe")]);
});
after(async () => {
  await closeAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const get = (server, p, opts = {}) => request({ port: server.port, path: p, ...opts });

/** Sequential echo acks on `socket`: the slowest round trip, in ms (throws on a 2 s timeout). */
async function echoRoundTrips(socket, n) {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const got = await socket
      .timeout(2000)
      .emitWithAck("echo", i)
      .catch((err) => {
        throw new Error(`echo ${i}: no ack within 2 s (${err.message}): the shard is stalled`);
      });
    assert.equal(got, i);
    worst = Math.max(worst, performance.now() - t0);
  }
  return worst;
}

function metric(text, series) {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("--static off the shard threads", { skip }, () => {
  test("a file whose open() blocks holds no socket of its shard; it comes once the lease goes", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--threads", "1", "--static", dir] });
    const socket = await sioConnect(server, "/", { transports: ["websocket"] });
    await echoRoundTrips(socket, 3);

    const lease = await holdLease(path.join(dir, "slow1.txt"));
    const t0 = performance.now();
    const slow = startRequest({ port: server.port, path: "/slow1.txt", timeoutMs: 30000 });
    let slowDone = false;
    slow.response.then(() => (slowDone = true), () => (slowDone = true));
    await lease.broken; // the server is in open() on that file now
    let worst;
    try {
      // On main before this change, the shard itself waited in open(): the first echo timed out.
      worst = await echoRoundTrips(socket, 20);
    } finally {
      assert.equal(slowDone, false, "the file must still be held while the echoes ran, or this proves nothing");
      await lease.release();
    }
    assert.ok(worst < 1000, `slowest echo ack while the read was held: ${worst.toFixed(1)} ms`);
    const res = await slow.response;
    assert.equal(res.status, 200);
    assert.equal(res.text, "content of slow1.txt");
    assert.ok(performance.now() - t0 < 20000);
    // The shard still serves pages and echoes after.
    assert.equal((await get(server, "/")).text, "<h1>home</h1>");
    await echoRoundTrips(socket, 3);
    socket.disconnect();
  });

  test("a FIFO in the directory is 404 at once, never read", T, async () => {
    const server = await startServer({ kind: "chat", args: ["--threads", "1", "--static", dir, "--metrics"] });
    const t0 = performance.now();
    const res = await get(server, "/pipe", { timeoutMs: 5000 });
    assert.equal(res.status, 404);
    assert.ok(performance.now() - t0 < 3000, "answered without waiting for a writer");
    const scrape = (await get(server, "/metrics")).text;
    assert.equal(metric(scrape, 'socketio_static_refused_total{reason="not_regular"}'), 1);
    assert.equal((await get(server, "/a.txt")).text, "a");
  });

  test("--static-max-pending: 503 with Retry-After past it, counted; a client that leaves costs no read", T, async () => {
    const server = await startServer({
      kind: "chat",
      args: ["--threads", "1", "--static", dir, "--metrics", "--static-max-pending", "1"],
    });
    const scrape = async () => (await get(server, "/metrics")).text;
    // Both I/O threads held in open(), one on each leased file.
    const leases = [];
    const held = [];
    try {
      for (const name of ["slow1.txt", "slow2.txt"]) {
        const lease = await holdLease(path.join(dir, name));
        leases.push(lease);
        held.push(startRequest({ port: server.port, path: `/${name}`, timeoutMs: 30000 }));
        await lease.broken;
      }
      const waiting = startRequest({ port: server.port, path: "/a.txt", timeoutMs: 30000 });
      await until(async () => metric(await scrape(), "socketio_static_pending_jobs") === 1, {
        timeoutMs: 10000,
        message: "a.txt waiting for an I/O thread",
      });
      const refused = await get(server, "/b.txt");
      assert.equal(refused.status, 503);
      assert.equal(refused.headers["retry-after"], "1");
      assert.equal(metric(await scrape(), "socketio_static_queue_full_total"), 1);

      waiting.abort(); // its client leaves while the read waits
      await sleep(500); // the shard sees the connection close and marks the job
    } finally {
      for (const lease of leases) await lease.release();
    }
    for (const [i, h] of held.entries()) assert.equal((await h.response).text, `content of slow${i + 1}.txt`);
    await until(async () => metric(await scrape(), "socketio_static_abandoned_total") === 1, {
      timeoutMs: 10000,
      message: "the abandoned read counted",
    });
    assert.equal(metric(await scrape(), "socketio_static_file_reads_total"), 2, "slow1 and slow2 only");
    assert.equal((await get(server, "/b.txt")).text, "b", "served once there is room");
  });
});
