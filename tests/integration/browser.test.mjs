// A real browser against `socketio-server` on TLS: headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) opens the built-in chat page twice, on a desktop and on a phone-sized
// viewport; both pick a nickname and join a room, and what one types appears in the other. The page
// must say which transport it uses and that the connection is encrypted. A third page, served by a
// tiny Node server on another origin, loads the client bundle from the server with a plain
// <script src> and connects to it cross-origin (an echo ack proves the round trip). Then the server
// is restarted on the same port and both chat pages must come back by themselves. With
// ?parser=msgpack the page loads /socket.io/socket.io.msgpack.min.js and talks to a server started
// with --parser msgpack (one page on WebSocket, one on polling).
//
// TLS: the server makes its own certificate (--tls-self-signed localhost), the same command a
// developer runs, and the browser contexts accept it with ignoreHTTPSErrors (Chromium's
// Security.setIgnoreCertificateErrors; it covers wss:// as well as https://). Trusting a generated
// CA instead would need an NSS database in the profile (certutil, not installed) and would test
// Chromium's certificate store rather than our server; the server's chain handling is covered by
// tests/unit/net/tls_context_test.cpp and the TLS integration tests.
//
// Screenshots of both chat pages, with messages in them, go to $SIO_BUILD_DIR/screenshots/.
// Skipped with a message when /usr/bin/chromium is missing (scripts/deps.sh test installs it), and
// against the Node reference (its chat server has neither TLS nor the page).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { startServer, closeAll, track, IS_REFERENCE } from "./lib/harness.mjs";
import { CHROMIUM, CHROMIUM_ARGS, waitMessage as waitMessageFor, waitSent } from "./lib/browser.mjs";

// Generous: on the loaded 2-core CI machine Chromium's start and first paint take seconds.
const WAIT = { timeout: 30000 };
const T = { timeout: 90000 };
const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

// A missing Chromium or playwright-core fails the tests (scripts/deps.sh test installs both).
const { chromium } = await import("playwright-core");

const skip = IS_REFERENCE ? "the reference chat server serves neither TLS nor the chat page" : false;

// SIO_CHAT_STATIC=../web/chat serves the page from the source tree (--static) instead of the copy
// built into the binary: for working on web/chat/ without rebuilding.
const TLS_ARGS = [
  "--tls-self-signed",
  "localhost",
  "--threads",
  "2",
  ...(process.env.SIO_CHAT_STATIC ? ["--static", path.resolve(process.env.SIO_CHAT_STATIC)] : []),
];

let server;
let browser;
let tmp;
let shotsDir;
const pages = {};

/** Each context is a separate browser "user" (own storage, own connection). */
async function openChat(name, device, { srv = server, query = "" } = {}) {
  const context = await browser.newContext({ ...device, ignoreHTTPSErrors: true, colorScheme: "light", locale: "en-GB" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.errors = errors;
  await page.goto(`https://localhost:${srv.port}/${query}`, WAIT);
  pages[name] = page;
  return page;
}

const text = (page, selector) => page.locator(selector).textContent();

async function waitConnected(page) {
  await page.waitForSelector('#status[data-state="connected"]', WAIT);
}

async function setNick(page, nick) {
  await page.fill("#nick", nick);
  await page.click("#set-nick");
  await page.waitForFunction((n) => document.getElementById("nick-status").textContent === `You are ${n}.`, nick, WAIT);
}

async function join(page, room) {
  await page.fill("#room", room);
  await page.click("#join");
  await page.waitForSelector(`#rooms [data-room="${room}"][aria-selected="true"]`, WAIT);
}

async function send(page, message, { tap = false } = {}) {
  await page.locator("#message").pressSequentially(message);
  if (tap) await page.tap("#send");
  else await page.press("#message", "Enter");
  // Our own line is shown at once and marked sent when the server acks it.
  await waitSent(page, message, WAIT.timeout);
}

async function waitMessage(page, message) {
  await waitMessageFor(page, message, WAIT.timeout);
}

async function waitMembers(page, names) {
  await page.waitForFunction(
    (expected) => {
      const got = [...document.querySelectorAll("#members li")].map((li) => li.textContent.replace(/ \(you\)$/, ""));
      got.sort();
      return JSON.stringify(got) === JSON.stringify(expected);
    },
    [...names].sort(),
    WAIT,
  );
}

before(async () => {
  if (skip) return;
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/deps.sh test installs Debian's chromium`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sio-browser-"));
  // The browser first (it removes its own profile), then the directory; closeAll() closes the
  // servers after this.
  track(tmp, async () => {
    if (browser) await browser.close().catch(() => {});
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  shotsDir = path.join(process.env.SIO_BUILD_DIR, "screenshots");
  fs.mkdirSync(shotsDir, { recursive: true });

  server = await startServer({ kind: "chat", args: TLS_ARGS });
  assert.match(server.url, /^https:\/\//, "the server says it listens on https");

  // Playwright gives the browser a fresh profile (user-data-dir) in os.tmpdir() and deletes it on
  // close; pointing TMPDIR at our own temp dir while it launches keeps even a crashed run's
  // profile inside what closeAll() removes.
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      env: { ...process.env, TMPDIR: tmp },
      timeout: 60000,
    });
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
});
after(closeAll);

describe("chat page in Chromium over TLS", { skip }, () => {
  test("two pages join a room and talk; the page shows transport and encryption", T, async () => {
    const alice = await openChat("alice", DESKTOP);
    const bob = await openChat("bob", PHONE);
    for (const page of [alice, bob]) {
      await waitConnected(page);
      assert.equal(await text(page, "#secure"), "encrypted (TLS)");
      assert.equal(await page.getAttribute("#secure", "data-secure"), "true");
      // Starts on polling and upgrades to WebSocket (wss://) within moments.
      assert.match(await text(page, "#transport"), /^(polling|websocket)$/);
      await page.waitForFunction(() => document.getElementById("transport").textContent === "websocket", null, WAIT);
      // The bundle the page loaded is the pinned client, from this server.
      assert.equal(await page.evaluate(() => typeof window.io), "function");
    }

    await setNick(alice, "Alice");
    await setNick(bob, "Bob");
    await join(alice, "lobby");
    await join(bob, "lobby");
    await waitMembers(alice, ["Alice", "Bob"]);
    await waitMembers(bob, ["Alice", "Bob"]);

    await send(alice, "Hi Bob! This page talks to a C++ Socket.IO server over TLS.");
    await waitMessage(bob, "Hi Bob! This page talks to a C++ Socket.IO server over TLS.");
    await send(bob, "Hello Alice, reading you on my phone. Transport: websocket.", { tap: true });
    await waitMessage(alice, "Hello Alice, reading you on my phone. Transport: websocket.");
    await send(alice, "Rooms, presence and acks all work with the official client bundle.");
    await waitMessage(bob, "Rooms, presence and acks all work with the official client bundle.");
    await send(bob, "Looks good here too.", { tap: true });
    await waitMessage(alice, "Looks good here too.");

    // A second room on the desktop: its tab appears, and the view goes back to the lobby.
    await join(alice, "random");
    await alice.click('#rooms [data-room="lobby"]');
    await alice.waitForSelector('#rooms [data-room="lobby"][aria-selected="true"]', WAIT);
    await waitMembers(alice, ["Alice", "Bob"]);

    // The other way round: nothing the server relays is rendered as HTML.
    await send(bob, "<b>not bold</b>", { tap: true });
    await waitMessage(alice, "<b>not bold</b>");
    assert.equal(await alice.locator("#messages b").count(), 0);

    await alice.screenshot({ path: path.join(shotsDir, "chat-desktop.png") });
    await bob.screenshot({ path: path.join(shotsDir, "chat-phone.png") });

    // A phone viewport must not scroll sideways, neither the page nor its scrolling area.
    for (const selector of ["html", ".layout", "#messages"]) {
      const overflow = await bob.$eval(selector, (el) => el.scrollWidth - el.clientWidth);
      assert.ok(overflow <= 0, `on the phone, ${selector} is ${overflow}px wider than the screen`);
    }
    // ... and the composer is on screen without scrolling.
    const composer = await bob.$eval("#send", (el) => el.getBoundingClientRect().bottom);
    assert.ok(composer <= PHONE.viewport.height, `the Send button is below the screen (${composer}px)`);

    for (const page of [alice, bob]) assert.deepEqual(page.errors, [], "no script errors on the page");
  });

  test("a page on another origin loads the bundle with <script src> and connects", T, async () => {
    const origin = `https://localhost:${server.port}`;
    const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>other origin</title>
<script src="${origin}/socket.io/socket.io.js"></script></head>
<body><pre id="out">loading</pre>
<script>
  const out = document.getElementById("out");
  window.result = null;
  const socket = io(${JSON.stringify(origin)}, { reconnection: false });
  socket.on("connect_error", (e) => { window.result = { error: e.message }; });
  socket.on("connect", () => {
    socket.timeout(10000).emit("echo", "ping", { from: location.origin }, (err, ...args) => {
      window.result = err ? { error: String(err) } : { args, transport: socket.io.engine.transport.name };
      out.textContent = JSON.stringify(window.result);
    });
  });
  // The bundle also comes with CORS headers, for fetch() and <script crossorigin>: a cross-origin
  // fetch() (mode "cors") only resolves when the server allowed it.
  fetch(${JSON.stringify(origin + "/socket.io/socket.io.min.js")})
    .then((r) => { window.fetched = { status: r.status, type: r.type }; })
    .catch((e) => { window.fetched = { error: e.message }; });
</script></body></html>`;
    const site = http.createServer((req, res) => {
      res.writeHead(req.url === "/" ? 200 : 404, { "Content-Type": "text/html; charset=utf-8" });
      res.end(req.url === "/" ? html : "");
    });
    await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
    track(site, () => {
      site.closeAllConnections();
      return new Promise((resolve) => site.close(resolve));
    });
    site.unref();

    const context = await browser.newContext({ ...DESKTOP, ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const otherOrigin = `http://127.0.0.1:${site.address().port}`;
    await page.goto(`${otherOrigin}/`, WAIT);
    assert.equal(await page.evaluate(() => typeof window.io), "function", "the bundle loaded cross-origin");
    await page.waitForFunction(() => window.result !== null && window.fetched !== undefined, null, WAIT);
    const result = await page.evaluate(() => window.result);
    assert.deepEqual(result.args, ["ping", { from: otherOrigin }], JSON.stringify(result));
    assert.match(result.transport, /^(polling|websocket)$/);
    assert.deepEqual(await page.evaluate(() => window.fetched), { status: 200, type: "cors" });
    await context.close();
  });

  test("with ?parser=msgpack the page loads the MessagePack bundle and talks to a --parser msgpack server", T, async () => {
    const mp = await startServer({ kind: "chat", args: [...TLS_ARGS, "--parser", "msgpack"] });
    const carol = await openChat("carol", DESKTOP, { srv: mp, query: "?parser=msgpack" });
    const dave = await openChat("dave", PHONE, { srv: mp, query: "?parser=msgpack&transports=polling" });
    for (const page of [carol, dave]) {
      // A client with the default (JSON) parser never gets connected to this server.
      await waitConnected(page);
      const scripts = await page.evaluate(() => [...document.scripts].map((s) => new URL(s.src).pathname));
      assert.ok(scripts.includes("/socket.io/socket.io.msgpack.min.js"), `bundles loaded: ${scripts}`);
    }
    assert.equal(await text(dave, "#transport"), "polling");
    await carol.waitForFunction(() => document.getElementById("transport").textContent === "websocket", null, WAIT);
    await setNick(carol, "Carol");
    await setNick(dave, "Dave");
    await join(carol, "msgpack");
    await join(dave, "msgpack");
    await waitMembers(carol, ["Carol", "Dave"]);
    await waitMembers(dave, ["Carol", "Dave"]);
    await send(carol, "MessagePack over wss, é✓");
    await waitMessage(dave, "MessagePack over wss, é✓");
    await send(dave, "and over polling (base64 binary packets)", { tap: true });
    await waitMessage(carol, "and over polling (base64 binary packets)");
    await carol.screenshot({ path: path.join(shotsDir, "chat-msgpack.png") });
    for (const page of [carol, dave]) assert.deepEqual(page.errors, [], "no script errors on the page");
    for (const page of [carol, dave]) await page.context().close();
    await mp.stop();
  });

  test("the chat pages reconnect after a server restart on the same port", T, async () => {
    const { alice, bob } = pages;
    assert.ok(alice && bob, "needs the pages of the first test");
    const port = server.port;
    await server.stop();
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => document.getElementById("status").dataset.state !== "connected", null, WAIT);
    }
    server = await startServer({ kind: "chat", args: [...TLS_ARGS, "--port", String(port)] });
    assert.equal(server.port, port);
    for (const page of [alice, bob]) {
      await waitConnected(page);
      assert.equal(await text(page, "#secure"), "encrypted (TLS)");
    }
    // The pages re-sent their names and rooms: presence is back and messages flow again.
    await waitMembers(alice, ["Alice", "Bob"]);
    await waitMembers(bob, ["Alice", "Bob"]);
    await send(bob, "Still here after the restart.", { tap: true });
    await waitMessage(alice, "Still here after the restart.");
    await send(alice, "Me too.");
    await waitMessage(bob, "Me too.");
  });
});
