// A slow Redis between two C++ nodes (SIGSTOP: it holds its connections and reads nothing). What a
// node queues for Redis is bounded by --redis-max-publish-queue, session forwarding included: a
// client's WebSocket bridged by one node to its session's owner on the other floods messages, the
// relaying node's memory stays bounded, and once a message cannot be published the bridged
// WebSocket is closed (its client reconnects) rather than a hole left in its stream. Before
// session 13 forwarded traffic went to hiredis's buffer directly, past the bound.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { closeAll, until, request, openWebSocket, IS_REFERENCE, MEASURE_RSS_ENV } from "./lib/harness.mjs";
import { startRedis, startNode } from "./lib/redis.mjs";
import { rssBytes } from "./lib/procstat.mjs";

after(closeAll);

const SKIP = IS_REFERENCE ? "the Node reference server does not forward sessions" : false;
const MB = 1024 * 1024;

async function metric(port, re) {
  const res = await request({ port, path: "/metrics" });
  const m = re.exec(res.text);
  return m ? Number(m[1]) : 0;
}

test("a bridged WebSocket flooding a stalled Redis: the relay's queue stays bounded, the WebSocket is closed", { timeout: 60000, skip: SKIP }, async () => {
  const redis = await startRedis();
  const args = ["--metrics", "--threads", "1", "--log-level", "warn"];
  const owner = await startNode("server", redis.url, args);
  const relay = await startNode("server", redis.url, [...args, "--redis-max-publish-queue", "65536"], { env: MEASURE_RSS_ENV });
  const ownerPort = Number(new URL(owner.url).port);
  const relayPort = Number(new URL(relay.url).port);

  // A session on the owner, its WebSocket through the relay (bridged over Redis).
  const hs = await request({ port: ownerPort, path: "/socket.io/?EIO=4&transport=polling" });
  assert.equal(hs.status, 200);
  const sid = JSON.parse(hs.text.slice(1)).sid;
  const ws = await openWebSocket(`ws://127.0.0.1:${relayPort}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  ws.send("2probe");
  assert.equal(await ws.next(), "3probe");
  ws.send("5");
  ws.send("40");
  assert.match(await ws.next(), /^40\{"sid":"/, "CONNECT over the bridged WebSocket");

  redis.proc.kill("SIGSTOP");
  try {
    const pid = relay.proc.pid;
    const rss0 = rssBytes(pid);
    let peak = rss0;
    let closed = null;
    ws.closed.then((c) => (closed = c));
    // 64 MB offered, 16 KiB a message, far past the 64 KiB queue.
    const text = `42["chat message","${"x".repeat(16 * 1024)}"]`;
    for (let i = 0; i < 4096 && !closed; i++) {
      ws.send(text);
      if (i % 64 === 63) {
        await new Promise((r) => setTimeout(r, 5));
        peak = Math.max(peak, rssBytes(pid));
      }
    }
    await until(() => closed !== null, { timeoutMs: 10000, message: "the relay closed the bridged WebSocket" });
    peak = Math.max(peak, rssBytes(pid));
    console.log(`relay RSS ${(rss0 / MB).toFixed(1)} -> peak ${(peak / MB).toFixed(1)} MB; close code ${closed.code}`);
    assert.ok(peak - rss0 < 24 * MB, `the relay held ${((peak - rss0) / MB).toFixed(1)} MB for a stalled Redis`);
    assert.ok((await metric(relayPort, /^socketio_redis_publish_overflow_total (\d+)/m)) > 0, "overflow counted");
    assert.equal(await metric(relayPort, /^socketio_forward_exchanges_total\{result="link_lost"\} (\d+)/m), 1);
    assert.match(relay.stderr(), /forwarding: bridged WebSocket closed: a message could not be published to node/);
  } finally {
    redis.proc.kill("SIGCONT");
  }
  // Redis back: the relay forwards again (a new session through it works end to end).
  const hs2 = await request({ port: ownerPort, path: "/socket.io/?EIO=4&transport=polling" });
  const sid2 = JSON.parse(hs2.text.slice(1)).sid;
  const ws2 = await until(
    () => openWebSocket(`ws://127.0.0.1:${relayPort}/socket.io/?EIO=4&transport=websocket&sid=${sid2}`).catch(() => null),
    { timeoutMs: 10000, message: "a bridged WebSocket once Redis is back" },
  );
  ws2.send("2probe");
  assert.equal(await ws2.next(5000), "3probe");
  await ws2.close();
});
