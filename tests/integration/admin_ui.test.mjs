// The Socket.IO Admin UI (@socket.io/admin-ui 0.5.1) against `socketio-server --admin-ui`: the
// protocol of its /admin namespace with a socket.io-client (basic auth with a bcrypt hash and
// sessions, config, all_sockets, server_stats every 2 s with its fields and aggregated events,
// socket events, the join/leave/emit/_disconnect commands, readonly), then the real UI, served by
// the server at /admin-ui/, in headless Chromium: it logs in, shows the sockets the test holds and
// a socket's rooms, and disconnects one (the test's client sees it); two nodes on Redis seen and
// commanded from one UI. With SIO_TARGET=reference the
// same file runs against socket.io 4.8 + instrument() (tests/reference/cli.mjs), which pins the
// contract to the package's.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import bcrypt from "bcryptjs";
import { startServer, closeAll, request, until, sleep, IS_REFERENCE } from "./lib/harness.mjs";
import { sioConnect, sioClient, waitFor } from "./lib/clients.mjs";
import { startRedis } from "./lib/redis.mjs";

const CHROMIUM = "/usr/bin/chromium";
const T = { timeout: 90000 };
const PASSWORD = "s3cret-admin";
// bcryptjs writes $2a$; the same hash as $2b$ (identical for ASCII passwords) is what
// `htpasswd -B` and Python's bcrypt produce, and what crypt(3) must verify.
const HASH = "$2b$" + bcrypt.hashSync(PASSWORD, 8).slice(4);

let server;
let readonlyServer;
before(async () => {
  const admin = ["--admin-ui", "--admin-ui-username", "admin", "--admin-ui-password-hash", HASH];
  server = await startServer({ kind: "chat", args: admin });
  readonlyServer = await startServer({ kind: "chat", args: [...admin, "--admin-ui-readonly"] });
});
after(closeAll);

/** An admin client; resolves with {socket, config, allSockets, session}. */
async function adminConnect(srv, auth) {
  const socket = sioClient(srv, "/admin", { auth, transports: ["websocket"] });
  const got = {};
  socket.on("session", (s) => (got.session = s));
  const config = waitFor(socket, "config", 10000);
  const all = waitFor(socket, "all_sockets", 10000);
  await waitFor(socket, "connect", 10000);
  [got.config] = await config;
  [got.allSockets] = await all;
  got.socket = socket;
  return got;
}

async function joined(client, room) {
  const res = await client.emitWithAck("join", room);
  assert.equal(res.ok, true);
}

describe("the /admin namespace", () => {
  test("basic auth: a wrong password is refused, the right one gives a session that logs in again", T, async () => {
    const bad = sioClient(server, "/admin", { auth: { username: "admin", password: "nope" } });
    const [err] = await waitFor(bad, "connect_error", 10000);
    assert.equal(err.message, "invalid credentials");
    const nobody = sioClient(server, "/admin");
    assert.equal((await waitFor(nobody, "connect_error", 10000))[0].message, "invalid credentials");

    const a = await adminConnect(server, { username: "admin", password: PASSWORD });
    await until(() => typeof a.session === "string", { timeoutMs: 5000, message: "session id" });
    assert.match(a.session, /^[0-9a-f]{16}$/);
    const again = await adminConnect(server, { sessionId: a.session });
    assert.ok(again.socket.connected);
    assert.equal(again.session, undefined); // a session login makes no new session
    const forged = sioClient(server, "/admin", { auth: { sessionId: "0123456789abcdef" } });
    assert.equal((await waitFor(forged, "connect_error", 10000))[0].message, "invalid credentials");
  });

  test("config, all_sockets, server_stats and the socket events", T, async () => {
    const c1 = await sioConnect(server, "/", { transports: ["websocket"] });
    const c2 = await sioConnect(server, "/", { transports: ["polling"], upgrade: false });
    await joined(c1, "lobby");
    const a = await adminConnect(server, { username: "admin", password: PASSWORD });
    assert.deepEqual(a.config.supportedFeatures.slice().sort(),
      ["AGGREGATED_EVENTS", "ALL_EVENTS", "DISCONNECT", "EMIT", "JOIN", "LEAVE", "MDISCONNECT", "MJOIN", "MLEAVE"]);
    const s1 = a.allSockets.find((s) => s.id === c1.id);
    assert.ok(s1, "the client's socket is listed");
    assert.equal(s1.nsp, "/");
    assert.deepEqual(s1.rooms.slice().sort(), [c1.id, "lobby"].sort());
    assert.equal(s1.transport, "websocket");
    assert.equal(typeof s1.clientId, "string");
    assert.equal(s1.handshake.address.replace("::ffff:", ""), "127.0.0.1");
    assert.equal(typeof s1.handshake.headers, "object");
    assert.deepEqual(s1.data, {});
    assert.ok(a.allSockets.find((s) => s.id === c2.id && s.transport === "polling"));
    assert.ok(a.allSockets.some((s) => s.nsp === "/admin"), "the admin sockets are listed too, as the package does");

    // server_stats: its exact fields, every 2 s.
    const [stats] = await waitFor(a.socket, "server_stats", 5000);
    const t0 = Date.now();
    const [next] = await waitFor(a.socket, "server_stats", 5000);
    const gap = Date.now() - t0;
    assert.ok(gap > 1000 && gap < 4000, `2 s between stats (${gap} ms)`);
    assert.deepEqual(Object.keys(stats).sort(),
      ["aggregatedEvents", "clientsCount", "hostname", "namespaces", "pid", "pollingClientsCount", "serverId", "uptime"]);
    assert.equal(typeof stats.serverId, "string");
    assert.equal(typeof stats.pid, "number");
    assert.ok(next.clientsCount >= 3); // c1, c2 and the admin client(s)
    assert.ok(next.pollingClientsCount >= 1);
    assert.ok(next.namespaces.some((n) => n.name === "/" && n.socketsCount >= 2));

    // Aggregated events: what happened shows up in the next stats.
    const c3 = await sioConnect(server, "/", { transports: ["websocket"] });
    c3.emit("echo", "x", () => {});
    const seen = [];
    a.socket.on("socket_connected", (info, date) => seen.push([info, date]));
    const c4 = await sioConnect(server, "/", { transports: ["websocket"] });
    await until(() => seen.some(([info]) => info.id === c4.id), { timeoutMs: 5000, message: "socket_connected" });
    const [info, date] = seen.find(([i]) => i.id === c4.id);
    assert.equal(info.nsp, "/");
    assert.ok(!Number.isNaN(Date.parse(date)));
    const received = waitFor(a.socket, "event_received", 5000);
    c4.emit("echo", "hello", () => {});
    const [nsp, id, args] = await received;
    assert.deepEqual([nsp, id, args], ["/", c4.id, ["echo", "hello"]]);
    const gone = waitFor(a.socket, "socket_disconnected", 5000);
    const c4id = c4.id;
    c4.disconnect();
    const [gnsp, gid, reason] = await gone;
    assert.deepEqual([gnsp, gid, reason], ["/", c4id, "client namespace disconnect"]);
    let events = [];
    await until(
      async () => {
        const [s] = await waitFor(a.socket, "server_stats", 5000);
        events = events.concat(s.aggregatedEvents);
        return events.some((e) => e.type === "rawConnection") && events.some((e) => e.type === "packetsIn");
      },
      { timeoutMs: 10000, message: "aggregated events" },
    );
    for (const e of events) {
      assert.equal(typeof e.timestamp, "number");
      assert.equal(e.timestamp % 1000, 0);
      assert.ok(["rawConnection", "rawDisconnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"].includes(e.type), e.type);
      assert.ok(e.count > 0);
    }
    c3.disconnect();
  });

  test("join, leave, emit and _disconnect commands", T, async () => {
    const c = await sioConnect(server, "/", { transports: ["websocket"] });
    const a = await adminConnect(server, { username: "admin", password: PASSWORD });
    a.socket.emit("join", "/", "vip", c.id);
    // The chat's members answers members only: it works for c once the admin made it one.
    await until(async () => !!(await c.emitWithAck("members", "vip")).members?.some((m) => m.id === c.id), {
      timeoutMs: 5000,
      message: "joined by the admin",
    });
    const got = waitFor(c, "notice", 5000);
    a.socket.emit("emit", "/", "vip", "notice", { from: "admin" }, 42);
    assert.deepEqual(await got, [{ from: "admin" }, 42]);
    a.socket.emit("leave", "/", "vip", c.id);
    await until(async () => (await c.emitWithAck("members", "vip")).ok === false, {
      timeoutMs: 5000,
      message: "left by the admin",
    });
    const disconnected = waitFor(c, "disconnect", 5000);
    a.socket.emit("_disconnect", "/", false, c.id);
    assert.equal((await disconnected)[0], "io server disconnect");
  });

  test("readonly: no command feature, and the commands do nothing", T, async () => {
    const c = await sioConnect(readonlyServer, "/", { transports: ["websocket"] });
    const a = await adminConnect(readonlyServer, { username: "admin", password: PASSWORD });
    assert.deepEqual(a.config.supportedFeatures.slice().sort(), ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
    let disconnected = false;
    c.on("disconnect", () => (disconnected = true));
    a.socket.emit("_disconnect", "/", true, c.id);
    await sleep(500);
    assert.equal(disconnected, false);
    assert.ok(c.connected);
  });
});

describe("one UI for a cluster", () => {
  test("two nodes on Redis: the sockets and stats of both, and commands that reach the other node", T, async () => {
    const redis = await startRedis();
    const admin = ["--admin-ui", "--admin-ui-username", "admin", "--admin-ui-password-hash", HASH, "--redis", redis.url];
    const [a, b] = await Promise.all([
      startServer({ kind: "chat", args: [...admin, "--admin-ui-server-id", "node-a"] }),
      startServer({ kind: "chat", args: [...admin, "--admin-ui-server-id", "node-b"] }),
    ]);
    const far = await sioConnect(b, "/", { transports: ["websocket"] });
    await joined(far, "far-room");
    const near = await sioConnect(a, "/", { transports: ["websocket"] });
    // Stats from both nodes reach an admin connected to node A (through the adapter).
    const ui = await adminConnect(a, { username: "admin", password: PASSWORD });
    const seen = new Set();
    ui.socket.on("server_stats", (s) => seen.add(s.serverId));
    // all_sockets: fetchSockets of every namespace across the cluster.
    const listed = ui.allSockets.find((s) => s.id === far.id);
    assert.ok(listed, "the socket on node B is listed by node A");
    assert.deepEqual(listed.rooms.slice().sort(), [far.id, "far-room"].sort());
    assert.ok(ui.allSockets.some((s) => s.id === near.id));
    await until(() => seen.has("node-a") && seen.has("node-b"), { timeoutMs: 8000, message: `stats of both nodes (${[...seen]})` });
    // A command from the UI on node A reaches the socket on node B.
    const gone = waitFor(far, "disconnect", 5000);
    ui.socket.emit("_disconnect", "/", false, far.id);
    assert.equal((await gone)[0], "io server disconnect");
    assert.ok(near.connected, "only the target was disconnected");
    await a.stop();
    await b.stop();
  });
});

let chromium = null;
try {
  ({ chromium } = await import("playwright-core"));
} catch {
  // reported below
}

describe("the UI in Chromium", () => {
  test("logs in, lists the sockets and a socket's rooms, disconnects a socket", T, async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (scripts/deps.sh test installs it)`);
    assert.ok(chromium, "playwright-core is missing (npm ci in tests/)");
    const index = await request({ port: server.port, path: "/admin-ui/" });
    assert.equal(index.status, 200);
    assert.match(index.text, /Socket\.IO Admin UI/);

    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await sioConnect(server, "/", { transports: ["websocket"] }));
    await joined(clients[0], "blue-room");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${server.url}/admin-ui/`);
      await page.getByLabel("Server URL").fill(server.url);
      await page.getByLabel("Username").fill("admin");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Connect" }).click();
      await page.getByText("Server URL").first().waitFor({ state: "hidden", timeout: 30000 }).catch(() => {});

      // Every socket of namespace "/": ours (and only the sockets that are there).
      await page.goto(`${server.url}/admin-ui/#/sockets/`);
      for (const c of clients) await page.getByText(c.id).first().waitFor({ timeout: 30000 });
      const live = await fetchSocketIds(server);
      const shown = await page.locator("tbody tr").allInnerTexts();
      const ids = new Set(shown.flatMap((t) => t.match(/[A-Za-z0-9_-]{20}/g) ?? []));
      assert.deepEqual([...ids].sort(), live.slice().sort(), `one row per socket of /:\n${shown.join("\n")}`);

      // One socket's page: its rooms; then disconnect it from there.
      const target = clients[0];
      await page.goto(`${server.url}/admin-ui/#/n/%2F/sockets/${target.id}`);
      await page.getByText("blue-room").first().waitFor({ timeout: 30000 });
      const disconnected = waitFor(target, "disconnect", 30000);
      await page.locator("button:has(i.mdi-logout)").first().click();
      const [reason] = await disconnected;
      assert.ok(["io server disconnect", "transport close"].includes(reason), reason);
      assert.ok(clients[1].connected && clients[2].connected);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});

/** The socket ids of namespace "/" as the server sees them (an admin client's all_sockets). */
async function fetchSocketIds(srv) {
  const a = await adminConnect(srv, { username: "admin", password: PASSWORD });
  const ids = a.allSockets.filter((s) => s.nsp === "/").map((s) => s.id);
  a.socket.disconnect();
  return ids;
}
