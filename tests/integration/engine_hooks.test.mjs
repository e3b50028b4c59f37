// engine.io's options and events that deployments configure, on `socketio-features-server`
// (reference: the Node features server, socket.io 4.8 / engine.io 6.6): the `cookie` option with
// its attributes, allowRequest refusing with the reference's error body, the initial_headers /
// headers hooks on the handshake, on every polling response and on WebSocket upgrades, and the
// connection_error event with each of the reference's codes (0-5), its message and context.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startServer, closeAll, request, until, track } from "./lib/harness.mjs";
import { pollingPath, pollingHandshake, wsUrl } from "./lib/raw.mjs";

const T = { timeout: 30000 };
const BASE = "/socket.io/";
after(closeAll);

const setCookies = (res) => res.headers["set-cookie"] ?? [];

/** A raw WebSocket handshake: resolves with the 101 response headers and the open socket. */
function wsUpgrade(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    track(ws, () => ws.terminate());
    ws.on("error", () => {});
    ws.once("upgrade", (res) => resolve({ headers: res.headers, ws }));
    ws.once("unexpected-response", (req, res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    setTimeout(() => reject(new Error("websocket handshake timed out")), 5000).unref();
  });
}

describe("cookie", () => {
  test("--cookie: io=<sid>; Path=/; HttpOnly; SameSite=Lax on the polling handshake only", T, async () => {
    const server = await startServer({ kind: "features", args: ["--cookie"] });
    const res = await request({ port: server.port, path: pollingPath(BASE) });
    assert.equal(res.status, 200);
    const sid = JSON.parse(res.text.slice(1)).sid;
    assert.deepEqual(setCookies(res), [`io=${sid}; Path=/; HttpOnly; SameSite=Lax`]);
    // later polling requests of the session: no cookie
    const poll = request({ port: server.port, path: pollingPath(BASE, { sid }) });
    const post = await request({ port: server.port, method: "POST", path: pollingPath(BASE, { sid }), body: "1" });
    assert.equal(post.status, 200);
    assert.deepEqual(setCookies(post), []);
    assert.deepEqual(setCookies(await poll), []);
    // a WebSocket-first session: engine.io sets no cookie there
    const ws = await wsUpgrade(wsUrl(server.port, BASE));
    assert.equal(ws.headers["set-cookie"], undefined);
  });

  test("--cookie-name, --cookie-path, --cookie-same-site", T, async () => {
    const server = await startServer({
      kind: "features",
      args: ["--cookie-name", "lb", "--cookie-path", "/app", "--cookie-same-site", "strict"],
    });
    const res = await request({ port: server.port, path: pollingPath(BASE) });
    const sid = JSON.parse(res.text.slice(1)).sid;
    assert.deepEqual(setCookies(res), [`lb=${sid}; Path=/app; HttpOnly; SameSite=Strict`]);

    const none = await startServer({ kind: "features", args: ["--cookie", "--cookie-same-site", "none"] });
    const res2 = await request({ port: none.port, path: pollingPath(BASE) });
    const sid2 = JSON.parse(res2.text.slice(1)).sid;
    assert.deepEqual(setCookies(res2), [`io=${sid2}; Path=/; HttpOnly; SameSite=None`]);

    const off = await startServer({ kind: "features", args: [] });
    assert.deepEqual(setCookies(await request({ port: off.port, path: pollingPath(BASE) })), []);
  });
});

describe("allowRequest, headers hooks, connection_error", () => {
  let server;
  before(async () => {
    server = await startServer({ kind: "features", args: ["--engine-hooks", "--cookie"] });
  });

  const logs = () =>
    server
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("log "))
      .map((l) => JSON.parse(l.slice(4)))
      .filter((e) => e.ev === "connection_error");
  async function nextError(count) {
    await until(() => logs().length > count, { message: "connection_error log line" });
    return logs()[count];
  }

  test("allow_request refuses with 403 and the reference's body; its message, or Forbidden", T, async () => {
    let n = logs().length;
    const refused = await request({ port: server.port, path: pollingPath(BASE), headers: { "X-Refuse": "go away" } });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(refused.text), { code: 4, message: "go away" });
    assert.deepEqual(await nextError(n), {
      ev: "connection_error",
      code: 4,
      message: "Forbidden",
      context: { message: "go away" },
    });

    n = logs().length;
    const bare = await request({ port: server.port, path: pollingPath(BASE), headers: { "X-Refuse": "" } });
    assert.equal(bare.status, 403);
    assert.deepEqual(JSON.parse(bare.text), { code: 4, message: "Forbidden" });
    assert.deepEqual((await nextError(n)).context, { message: null });

    // over WebSocket the reference answers any refusal with a bare 400 and the message
    const ws = await wsUpgrade(wsUrl(server.port, BASE), { "X-Refuse": "not you" });
    assert.equal(ws.status, 400);
    assert.equal(ws.body, "not you");

    // accepted without the header
    const ok = await request({ port: server.port, path: pollingPath(BASE) });
    assert.equal(ok.status, 200);
  });

  test("initial_headers on the handshake, headers on every polling response", T, async () => {
    const hs = await request({ port: server.port, path: pollingPath(BASE) });
    assert.equal(hs.status, 200);
    const sid = JSON.parse(hs.text.slice(1)).sid;
    assert.equal(hs.headers["x-initial"], "1");
    assert.equal(hs.headers["x-every"], "GET");
    // the engine's cookie first, then the one initial_headers added
    assert.deepEqual(setCookies(hs), [`io=${sid}; Path=/; HttpOnly; SameSite=Lax`, "hook=1"]);

    const poll = request({ port: server.port, path: pollingPath(BASE, { sid }) });
    const post = await request({ port: server.port, method: "POST", path: pollingPath(BASE, { sid }), body: "40" });
    assert.equal(post.status, 200);
    assert.equal(post.headers["x-every"], "POST");
    assert.equal(post.headers["x-initial"], undefined);
    const got = await poll;
    assert.equal(got.status, 200);
    assert.equal(got.headers["x-every"], "GET");
    assert.equal(got.headers["x-initial"], undefined);
    assert.deepEqual(setCookies(got), []);
  });

  test("headers on WebSocket upgrades: initial ones only on a WebSocket-first handshake", T, async () => {
    const first = await wsUpgrade(wsUrl(server.port, BASE));
    assert.equal(first.headers["x-initial"], "1");
    assert.equal(first.headers["x-every"], "GET");

    const { sid } = await pollingHandshake(server.port, BASE);
    const upgrade = await wsUpgrade(wsUrl(server.port, BASE, { sid }));
    assert.equal(upgrade.headers["x-every"], "GET");
    assert.equal(upgrade.headers["x-initial"], undefined);
    assert.equal(upgrade.headers["set-cookie"], undefined);
  });

  test("connection_error: each code with the reference's status, body, message and context", T, async () => {
    const cases = [
      {
        path: `${BASE}?EIO=4&transport=carrier-pigeon`,
        status: 400,
        code: 0,
        message: "Transport unknown",
        context: { transport: "carrier-pigeon" },
      },
      {
        path: pollingPath(BASE, { sid: "nope" }),
        status: 400,
        code: 1,
        message: "Session ID unknown",
        context: { sid: "nope" },
      },
      {
        path: pollingPath(BASE),
        method: "POST",
        body: "1",
        status: 400,
        code: 2,
        message: "Bad handshake method",
        context: { method: "POST" },
      },
      {
        path: `${BASE}?EIO=4&transport=websocket`,
        status: 400,
        code: 3,
        message: "Bad request",
        context: { name: "TRANSPORT_HANDSHAKE_ERROR" },
      },
      {
        path: pollingPath(BASE),
        headers: { "X-Refuse": "x" },
        status: 403,
        code: 4,
        message: "Forbidden",
        context: { message: "x" },
        expect: { code: 4, message: "x" },
      },
      {
        path: pollingPath(BASE, { eio: "5" }),
        status: 400,
        code: 5,
        message: "Unsupported protocol version",
        context: { protocol: 3 },
      },
    ];
    for (const c of cases) {
      const n = logs().length;
      const res = await request({ port: server.port, path: c.path, method: c.method, body: c.body, headers: c.headers });
      assert.equal(res.status, c.status, `status of code ${c.code}`);
      assert.deepEqual(JSON.parse(res.text), c.expect ?? { code: c.code, message: c.message }, `body of code ${c.code}`);
      assert.deepEqual(
        await nextError(n),
        { ev: "connection_error", code: c.code, message: c.message, context: c.context },
        `connection_error of code ${c.code}`,
      );
    }
  });
});
