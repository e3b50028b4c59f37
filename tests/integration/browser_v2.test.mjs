// socket.io-client 2.5.0 in headless Chromium (Debian's /usr/bin/chromium via playwright-core)
// against socketio-features-server --allow-eio3, forced onto JSONP polling (forceJSONP: the
// <script> GETs and hidden-form POSTs 2.x browsers fall back to without XHR), and on its default
// transports. The page is about:blank with the npm package's dist bundle injected; the server is
// cross-origin to it, as JSONP is meant for. Fails (does not skip) when Chromium or
// playwright-core is missing; the JSONP case runs against the Node reference too.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { IS_REFERENCE, TESTS_DIR, closeAll, startServer, track } from "./lib/harness.mjs";

const CHROMIUM = "/usr/bin/chromium";
const BUNDLE = path.join(TESTS_DIR, "node_modules", "socket.io-client-v2", "dist", "socket.io.js");
const T = { timeout: 90000 };

let server, browser;

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/deps.sh test installs it`);
  const { chromium } = await import("playwright-core");
  server = await startServer({ kind: "features", args: ["--allow-eio3"] });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sio-browser-v2-"));
  track(tmp, () => fs.rmSync(tmp, { recursive: true, force: true }));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    env: { ...process.env, TMPDIR: tmp },
    timeout: 60000,
  });
  track(browser, () => browser.close());
});
after(closeAll);

/** Opens a blank page with the 2.x bundle; runs a connect + ack + binary ack in it. */
async function talk(options, { sameOrigin = false } = {}) {
  const page = await browser.newPage();
  // Same origin: the page is a document of the server's own origin (any answer will do).
  if (sameOrigin) await page.goto(`${server.url}/socket.io/?EIO=3`);
  await page.addScriptTag({ content: fs.readFileSync(BUNDLE, "utf8") });
  return page.evaluate(
    ({ url, options }) =>
      new Promise((resolve, reject) => {
        const s = window.io(url, { reconnection: false, forceNew: true, ...options });
        setTimeout(() => reject(new Error("no answer within 20 s")), 20000);
        s.on("error", (e) => reject(new Error(`error packet ${JSON.stringify(e)}`)));
        s.on("connect", () => {
          s.emit("get:id", (info) => {
            s.emit("mw:rewrite", 'line1\nline2 "q" \\n \u2028', (back) => {
              s.emit("mw:rewrite", new Uint8Array([1, 2, 3]).buffer, (bin) => {
                resolve({
                  id: s.id,
                  engineId: s.io.engine.id,
                  transport: s.io.engine.transport.name,
                  // the JSONP transport posts through a hidden form (the XHR one has none)
                  jsonp: String(s.io.engine.transport.form && s.io.engine.transport.form.tagName),
                  info,
                  back,
                  bin: Array.from(new Uint8Array(bin)),
                });
                s.close();
              });
            });
          });
        });
      }),
    { url: server.url, options },
  );
}

describe("socket.io-client 2.5.0 in Chromium", () => {
  test("JSONP polling (forceJSONP): connect, events, acks, binary as base64", T, async () => {
    const r = await talk({ transports: ["polling"], forceJSONP: true });
    assert.equal(r.transport, "polling");
    assert.equal(r.jsonp, "FORM", "the engine really uses the JSONP transport");
    assert.equal(r.id, r.engineId);
    assert.deepEqual(r.info, { id: r.id, nsp: "/" });
    assert.equal(r.back, 'LINE1\nLINE2 "Q" \\N \u2028');
    assert.deepEqual(r.bin, [1, 2, 3]);
  });

  // The 2.x client sends its XHRs with credentials, which a cross-origin page may only do with an
  // explicit origin list (the safe CORS default answers "*" without credentials, as the reference's
  // cors {origin: "*"}): the page is served from the server's own origin, as a 2.x app usually is.
  test("default transports (XHR polling, then WebSocket), same origin", T, async () => {
    const r = await talk({}, { sameOrigin: true });
    assert.deepEqual(r.info, { id: r.id, nsp: "/" });
    assert.deepEqual(r.bin, [1, 2, 3]);
  });
});
