// Long-polling response compression (engine.io's httpCompression; --http-compression, on by
// default, threshold 1024 bytes): a GET's payload of at least the threshold is gzip- or
// deflate-encoded by its Accept-Encoding, unless no packet in it asked for compression
// (compress(false)). Raw HTTP against socketio-features-server (its do:broadcast event); the same
// expectations hold for the Node reference (scripts/test-reference.sh http_compression).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { closeAll, request, startServer } from "./lib/harness.mjs";
import { decodePayload } from "./lib/raw.mjs";

after(closeAll);

const T = { timeout: 30000 };
const BIG = "x".repeat(3000);

async function session(port) {
  const res = await request({ port, path: "/socket.io/?EIO=4&transport=polling" });
  const sid = JSON.parse(res.text.slice(1)).sid;
  const c = {
    port,
    sid,
    post: async (body) => {
      const r = await request({ port, method: "POST", path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`, body });
      assert.equal(r.text, "ok");
    },
    get: (headers = {}) => request({ port, path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`, headers }),
  };
  await c.post("40");
  const connected = await c.get();
  assert.match(connected.text, /^40\{"sid":/);
  return c;
}

/** The decoded body of a polling response, by its Content-Encoding. */
function decoded(res) {
  const enc = res.headers["content-encoding"];
  if (enc === "gzip") return zlib.gunzipSync(res.body).toString("utf8");
  if (enc === "deflate") return zlib.inflateSync(res.body).toString("utf8");
  assert.equal(enc, undefined);
  return res.text;
}

/** A broadcasts {spec}; B's next GET (with these headers) carries only that broadcast. */
async function broadcastTo(a, b, spec, headers) {
  const pending = b.get(headers);
  await a.post(`421["do:broadcast",${JSON.stringify({ event: "bc", ...spec })}]`);
  const res = await pending;
  assert.equal(res.status, 200);
  // Node sends compressed bodies chunked, we send a Content-Length: either is fine for clients.
  if (res.headers["content-length"] !== undefined) assert.equal(Number(res.headers["content-length"]), res.body.length);
  const packets = decodePayload(decoded(res));
  assert.deepEqual(packets, [`42${JSON.stringify(["bc", ...spec.args])}`]);
  // drain A's ack (and its own copy of the broadcast) so the next round starts clean
  let got = [];
  while (!got.some((p) => p.startsWith("431"))) got = got.concat(decodePayload(decoded(await a.get())));
  return res;
}

describe("HTTP long-polling compression", () => {
  let server, a, b;
  before(async () => {
    server = await startServer({ kind: "features" });
    a = await session(server.port);
    b = await session(server.port);
  });

  test("gzip for a payload over the threshold when the GET accepts it", T, async () => {
    const res = await broadcastTo(a, b, { args: [BIG] }, { "Accept-Encoding": "gzip, deflate, br" });
    assert.equal(res.headers["content-encoding"], "gzip");
    assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
    assert.ok(res.body.length < 200, `compressed to ${res.body.length} bytes`);
  });

  test("deflate (zlib format) when only deflate is accepted, or preferred", T, async () => {
    let res = await broadcastTo(a, b, { args: [BIG] }, { "Accept-Encoding": "deflate" });
    assert.equal(res.headers["content-encoding"], "deflate");
    res = await broadcastTo(a, b, { args: [BIG] }, { "Accept-Encoding": "gzip;q=0.5, deflate" });
    assert.equal(res.headers["content-encoding"], "deflate");
    res = await broadcastTo(a, b, { args: [BIG] }, { "Accept-Encoding": "deflate, gzip" });
    assert.equal(res.headers["content-encoding"], "deflate");
    res = await broadcastTo(a, b, { args: [BIG] }, { "Accept-Encoding": "*" });
    assert.equal(res.headers["content-encoding"], "gzip");
  });

  test("identity without Accept-Encoding, when nothing acceptable is offered, or q=0", T, async () => {
    for (const h of [{}, { "Accept-Encoding": "br" }, { "Accept-Encoding": "gzip;q=0, deflate;q=0" }, { "Accept-Encoding": "identity" }]) {
      const res = await broadcastTo(a, b, { args: [BIG] }, h);
      assert.equal(res.headers["content-encoding"], undefined, JSON.stringify(h));
    }
  });

  test("identity below the threshold (1024 bytes)", T, async () => {
    const small = "y".repeat(1000); // 42["bc","yyy…"] is 1011 bytes
    const res = await broadcastTo(a, b, { args: [small] }, { "Accept-Encoding": "gzip" });
    assert.equal(res.headers["content-encoding"], undefined);
    const res2 = await broadcastTo(a, b, { args: ["y".repeat(1013)] }, { "Accept-Encoding": "gzip" });
    assert.equal(res2.headers["content-encoding"], "gzip", "1024 bytes exactly is compressed");
  });

  test("compress(false): that payload goes uncompressed", T, async () => {
    const res = await broadcastTo(a, b, { args: [BIG], compress: false }, { "Accept-Encoding": "gzip" });
    assert.equal(res.headers["content-encoding"], undefined);
  });
});

describe("--http-compression=false", () => {
  test("no polling response is compressed", T, async () => {
    const server = await startServer({ kind: "features", args: ["--http-compression=false"] });
    const a = await session(server.port);
    const b = await session(server.port);
    const res = await broadcastTo(a, b, { args: [BIG] }, { "Accept-Encoding": "gzip, deflate" });
    assert.equal(res.headers["content-encoding"], undefined);
  });
});
