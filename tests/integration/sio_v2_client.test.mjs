// socket.io-client 2.5.0 (npm, installed as "socket.io-client-v2": Engine.IO v3 + Socket.IO
// protocol v4) against socketio-features-server --allow-eio3, next to socket.io-client 4.x on
// the same server: every transport mode, events, acks both ways, binary, namespaces (with the v4
// query-as-auth), middleware errors in the v4 shape, rooms shared by both generations (one copy
// of a broadcast each, in its own format), and the raw v4 bytes of the auto-connect and of an
// error. Runs against the Node reference too (scripts/test-reference.sh sio_v2_client).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import ioV2 from "socket.io-client-v2";
import { closeAll, request, sleep, startServer, track } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";

after(closeAll);

const T = { timeout: 30000 };
let server;

before(async () => {
  server = await startServer({ kind: "features", args: ["--allow-eio3"] });
});

/** A tracked 2.x socket (no reconnection); resolves once connected, rejects on an error packet. */
function v2(nsp = "/", opts = {}) {
  const s = ioV2(`${server.url}${nsp}`, { reconnection: false, forceNew: true, ...opts });
  track(s, () => s.close());
  return s;
}

function connected(s) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("2.x client: no connect within 5 s")), 5000);
    s.once("connect", () => (clearTimeout(timer), resolve(s)));
    s.once("error", (e) => (clearTimeout(timer), reject(Object.assign(new Error("error packet"), { data: e }))));
    s.once("connect_error", (e) => (clearTimeout(timer), reject(e)));
  });
}

/** The first "error" the 2.x socket gets (a refused namespace). */
function refused(s) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("2.x client: no error within 5 s")), 5000);
    s.once("error", (e) => (clearTimeout(timer), resolve(e)));
    s.once("connect", () => (clearTimeout(timer), reject(new Error("connected"))));
  });
}

const call = (s, ev, ...args) => new Promise((resolve) => s.emit(ev, ...args, (...r) => resolve(r)));

for (const [name, transports] of [
  ["websocket", ["websocket"]],
  ["polling", ["polling"]],
  ["default (polling, then upgrade)", undefined],
]) {
  describe(`socket.io-client 2.5.0 over ${name}`, () => {
    test("connects to / without sending CONNECT; its id is the Engine.IO id", T, async () => {
      const s = await connected(v2("/", { transports }));
      assert.equal(s.id, s.io.engine.id);
      const [info] = await call(s, "get:id");
      assert.deepEqual(info, { id: s.id, nsp: "/" });
    });

    test("events and acks both ways, with binary", T, async () => {
      const s = await connected(v2("/", { transports }));
      // client → server with an ack, binary inside
      const [back] = await call(s, "mw:rewrite", { n: 1, bin: Buffer.from([1, 2, 3]), list: ["a", Buffer.from([9])] });
      assert.deepEqual(back, { n: 1, bin: Buffer.from([1, 2, 3]), list: ["a", Buffer.from([9])] });
      // server → client event
      const got = new Promise((r) => s.once("ev", (...a) => r(a)));
      await call(s, "do:emit", "ev", "x", Buffer.from([7, 8]), { k: null });
      assert.deepEqual(await got, ["x", Buffer.from([7, 8]), { k: null }]);
      // server → client with an ack the client answers (binary in the answer)
      s.once("question", (a, ack) => ack(a + 1, Buffer.from([5])));
      const [res] = await call(s, "do:emit-ack", { event: "question", args: [41], timeout: 5000 });
      assert.deepEqual(res, { timedOut: false, resp: [42, Buffer.from([5])] });
    });

    test("namespaces: the query is the auth, the id is <nsp>#<Engine.IO id>", T, async () => {
      const root = await connected(v2("/", { transports }));
      const s = v2("/dyn-abc?name=v2&x=1", { transports });
      const hello = new Promise((r) => s.once("hello", r));
      await connected(s);
      assert.deepEqual(await hello, { nsp: "/dyn-abc" });
      assert.equal(s.id, `/dyn-abc#${s.io.engine.id}`);
      const [h] = await call(s, "get:handshake");
      assert.deepEqual(h.auth, { name: "v2", x: "1" });
      assert.ok(root.connected);
    });

    test("middleware errors and unknown namespaces reach the 2.x client in the v4 shape", T, async () => {
      assert.deepEqual(await refused(v2("/dyn-abc?deny=1", { transports })), { nsp: "/dyn-abc" });
      assert.equal(await refused(v2("/dyn-abc?deny=plain", { transports })), "denied by parent");
      assert.deepEqual(await refused(v2("/nope", { transports })), { message: "Invalid namespace" });
    });
  });
}

describe("2.x and 4.x clients side by side", () => {
  test("a broadcast to a room reaches each once, in its own format", T, async () => {
    const old = await connected(v2("/"));
    const oldPolling = await connected(v2("/", { transports: ["polling"] }));
    const modern = await sioConnect(server, "/");
    const sender = await sioConnect(server, "/");
    for (const s of [old, oldPolling, modern]) await call(s, "join", ["mixed"]);
    const seen = { old: [], oldPolling: [], modern: [] };
    old.on("bc", (...a) => seen.old.push(a));
    oldPolling.on("bc", (...a) => seen.oldPolling.push(a));
    modern.on("bc", (...a) => seen.modern.push(a));
    const payload = ["hello", { bin: Buffer.from([1, 2, 3]) }, 3];
    await call(sender, "do:broadcast", { to: ["mixed"], event: "bc", args: payload });
    await sleep(500);
    for (const [who, got] of Object.entries(seen)) assert.deepEqual(got, [payload], who);
    // and a 2.x client can broadcast to 4.x ones
    const modernGot = new Promise((r) => modern.once("bc", (...a) => r(a)));
    await call(old, "do:broadcast", { to: ["mixed"], event: "bc", args: ["from v2"] });
    assert.deepEqual(await modernGot, ["from v2"]);
  });
});

describe("protocol v4 bytes (raw EIO=3 polling)", () => {
  test("the server sends 40 for / on its own; a refusal is 44<nsp>,<data or message>", T, async () => {
    const base = `/socket.io/?EIO=3&transport=polling&b64=1`;
    const open = await request({ port: server.port, path: base });
    const sid = JSON.parse(open.text.slice(open.text.indexOf(":") + 2)).sid;
    const path = `${base}&sid=${sid}`;
    assert.equal((await request({ port: server.port, path })).text, "2:40");
    const post = (body) =>
      request({ port: server.port, method: "POST", path, body, headers: { "Content-Type": "text/plain;charset=UTF-8" } });
    await post(`${"40/dyn-raw?deny=plain".length}:40/dyn-raw?deny=plain`);
    assert.equal((await request({ port: server.port, path })).text, '29:44/dyn-raw,"denied by parent"');
    await post(`${"40/dyn-raw".length}:40/dyn-raw`);
    const hello = '42/dyn-raw,["hello",{"nsp":"/dyn-raw"}]';
    assert.equal((await request({ port: server.port, path })).text, `11:40/dyn-raw,${hello.length}:${hello}`);
  });
});

describe("JSONP polling (j=, engine.io's polling-jsonp)", () => {
  /** The payload inside ___eio[N]("...");, checking the wrapper. */
  function unwrap(res, n) {
    assert.equal(res.status, 200);
    const m = /^___eio\[(\d+)\]\((".*")\);$/s.exec(res.text);
    assert.ok(m, `not a JSONP answer: ${res.text}`);
    assert.equal(m[1], n);
    return JSON.parse(m[2]);
  }

  test("handshake, the server's 40, events and acks through form-encoded POSTs", T, async () => {
    const base = "/socket.io/?EIO=3&transport=polling&j=7";
    const open = unwrap(await request({ port: server.port, path: `${base}&b64=1` }), "7");
    assert.match(open, /^\d+:0\{"sid":/);
    const sid = JSON.parse(open.slice(open.indexOf(":") + 2)).sid;
    const path = `${base}&sid=${sid}`;
    assert.equal(unwrap(await request({ port: server.port, path }), "7"), "2:40");
    // engine.io-client 3.x escapes a literal "\n" (inside JSON) as "\\n", a real newline as "\n".
    const packet = '421["mw:rewrite","a\\nb\\u2028"]';
    const escaped = packet.replace(/\\n/g, "\\\\n");
    const body = `d=${encodeURIComponent(`${packet.length}:${escaped}`)}`;
    const post = await request({
      port: server.port,
      method: "POST",
      path,
      body,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    assert.equal(post.text, "ok");
    const ack = unwrap(await request({ port: server.port, path }), "7");
    const text = ack.slice(ack.indexOf(":") + 1);
    assert.equal(text, `431${JSON.stringify(["A\nB\u2028"])}`);
    assert.equal(Number(ack.slice(0, ack.indexOf(":"))), text.length);
  });
});
