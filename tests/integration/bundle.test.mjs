// The socket.io-client bundle routes of `socketio-server` over real HTTP: what a browser's
// <script src="…/socket.io/socket.io.js"> and a devtools source-map fetch get. The handler itself is
// unit-tested in tests/unit/net/static_files_test.cpp (negotiation rules, ETag matching, every
// traversal trick against --static); this file checks what only the running binary shows: the
// router in front of Engine.IO, the bytes on the wire against the pinned npm package, the build-time
// gzip/brotli variants decoding to those bytes, 304s, HEAD, the CLI flags (--serve-client=false,
// --path) and traversal attempts through the prefix reaching nothing on disk.
//
// C++ only: the reference chat server (tests/reference/chat-server.mjs) runs with serveClient off
// and serves no page.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { startServer, closeAll, request, track, TESTS_DIR, IS_REFERENCE } from "./lib/harness.mjs";

const T = { timeout: 30000 };
const DIST = path.resolve(TESTS_DIR, "..", "web", "node_modules", "socket.io-client", "dist");
const CLIENT_VERSION = JSON.parse(
  fs.readFileSync(path.resolve(TESTS_DIR, "..", "web", "package-lock.json"), "utf8"),
).packages["node_modules/socket.io-client"].version;

const SCRIPTS = ["socket.io.js", "socket.io.min.js", "socket.io.esm.min.js", "socket.io.msgpack.min.js"];
const FILES = SCRIPTS.flatMap((f) => [f, `${f}.map`]);
const JS_TYPE = "application/javascript; charset=utf-8";
const MAP_TYPE = "application/json";

const skip = IS_REFERENCE
  ? "the reference chat server does not serve the client bundle (serveClient: false)"
  : !fs.existsSync(path.join(DIST, "socket.io.js"))
    ? `${DIST} is missing: run \`npm ci --prefix web\` and rebuild`
    : false;

let server;

before(async () => {
  if (skip) return;
  server = await startServer({ kind: "chat" });
});
after(closeAll);

const get = (p, headers = {}, srv = server) => request({ port: srv.port, path: p, headers });

function decode(res) {
  switch (res.headers["content-encoding"]) {
    case undefined:
      return res.body;
    case "gzip":
      return zlib.gunzipSync(res.body);
    case "br":
      return zlib.brotliDecompressSync(res.body);
    default:
      throw new Error(`unexpected Content-Encoding ${res.headers["content-encoding"]}`);
  }
}

describe("client bundle", { skip }, () => {
  test("every file is served byte for byte from the pinned socket.io-client, with its headers", T, async () => {
    for (const name of FILES) {
      const res = await get(`/socket.io/${name}`);
      assert.equal(res.status, 200, name);
      assert.ok(res.body.equals(fs.readFileSync(path.join(DIST, name))), `${name}: bytes differ from ${DIST}`);
      assert.equal(res.headers["content-type"], name.endsWith(".map") ? MAP_TYPE : JS_TYPE, name);
      assert.equal(res.headers["content-encoding"], undefined, `${name}: no Accept-Encoding, no coding`);
      assert.equal(Number(res.headers["content-length"]), res.body.length, name);
      assert.equal(res.headers["cache-control"], "public, max-age=0", name);
      assert.match(res.headers.etag, new RegExp(`^"${CLIENT_VERSION.replace(/\./g, "\\.")}-[0-9a-f]{16}"$`), name);
      assert.equal(res.headers.vary, "Accept-Encoding", name);
      assert.equal(res.headers["x-content-type-options"], "nosniff", name);
      // <script src> from another origin needs nothing, but fetch() and <script crossorigin> do.
      assert.equal(res.headers["access-control-allow-origin"], "*", name);
    }
    // The bundle says which client it is.
    const js = (await get("/socket.io/socket.io.js")).text;
    assert.ok(js.includes(`Socket.IO v${CLIENT_VERSION}`), "banner with the pinned version");
    // A cache-busting query string is fine, as with the reference server.
    assert.equal((await get(`/socket.io/socket.io.min.js?v=${CLIENT_VERSION}`)).status, 200);
  });

  test("gzip and brotli variants decode to the same bytes; negotiation follows Accept-Encoding", T, async () => {
    for (const name of FILES) {
      const identity = fs.readFileSync(path.join(DIST, name));
      const variants = new Map();
      for (const [accept, expected] of [
        ["gzip", "gzip"],
        ["br", "br"],
        ["gzip, deflate, br, zstd", "br"], // what Chromium sends over TLS
        ["gzip, deflate", "gzip"], // ... and over plain http
        ["br;q=0.5, gzip", "gzip"],
        ["identity", undefined],
        ["deflate", undefined],
        ["br;q=0, gzip;q=0", undefined],
      ]) {
        const res = await get(`/socket.io/${name}`, { "Accept-Encoding": accept });
        assert.equal(res.status, 200, `${name} ${accept}`);
        assert.equal(res.headers["content-encoding"], expected, `${name} with Accept-Encoding: ${accept}`);
        assert.equal(Number(res.headers["content-length"]), res.body.length);
        assert.ok(decode(res).equals(identity), `${name} ${accept}: decodes to the file`);
        if (expected) {
          assert.ok(res.body.length < identity.length, `${name} ${expected} is smaller`);
          variants.set(expected, res.body);
        }
        // The same entity whatever the coding: one ETag (as the reference server does).
        assert.match(res.headers.etag, /^"[^"]+"$/);
      }
      // Made once at build time: every request gets the very same bytes.
      const again = await get(`/socket.io/${name}`, { "Accept-Encoding": "br" });
      assert.ok(again.body.equals(variants.get("br")), `${name}: br variant is stable`);
    }
  });

  test("If-None-Match with the ETag gives 304 without a body; another tag gives 200", T, async () => {
    for (const name of ["socket.io.js", "socket.io.min.js.map"]) {
      const first = await get(`/socket.io/${name}`, { "Accept-Encoding": "gzip" });
      const etag = first.headers.etag;
      for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
        const res = await get(`/socket.io/${name}`, { "If-None-Match": inm, "Accept-Encoding": "gzip, br" });
        assert.equal(res.status, 304, `${name} If-None-Match: ${inm}`);
        assert.equal(res.body.length, 0);
        assert.equal(res.headers.etag, etag);
        assert.equal(res.headers["cache-control"], "public, max-age=0");
        assert.equal(res.headers["content-encoding"], undefined);
      }
      const other = await get(`/socket.io/${name}`, { "If-None-Match": '"4.8.4-0000000000000000"' });
      assert.equal(other.status, 200);
      assert.ok(other.body.length > 0);
    }
    // Each file has its own tag.
    const tags = await Promise.all(FILES.map(async (f) => (await get(`/socket.io/${f}`)).headers.etag));
    assert.equal(new Set(tags).size, FILES.length, "distinct ETags");
  });

  test("HEAD has the headers of GET and no body; other methods get 405", T, async () => {
    const head = await request({
      port: server.port,
      method: "HEAD",
      path: "/socket.io/socket.io.js",
      headers: { "Accept-Encoding": "br" },
    });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers["content-encoding"], "br");
    const getRes = await get("/socket.io/socket.io.js", { "Accept-Encoding": "br" });
    assert.equal(head.headers["content-length"], String(getRes.body.length));
    assert.equal(head.headers.etag, getRes.headers.etag);

    const post = await request({ port: server.port, method: "POST", path: "/socket.io/socket.io.js", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET, HEAD");
  });

  test("lookalikes of the bundle are not served; Engine.IO still owns the prefix", T, async () => {
    for (const p of [
      "/socket.io/socket.io.jsx",
      "/socket.io/socket.io.esm.js",
      "/socket.io/SOCKET.IO.JS",
      "/socket.io//socket.io.js",
      "/socket.io/dist/socket.io.js",
      "/socket.io/socket.io.js/",
      "/socket.io/%73ocket.io.js",
      "/socket.io/socket.io.js%00",
      "/socket.io/package.json",
    ]) {
      const res = await get(p);
      assert.notEqual(res.status, 200, p);
      assert.notEqual(res.headers["content-type"], JS_TYPE, p);
    }
    const handshake = await get("/socket.io/?EIO=4&transport=polling");
    assert.equal(handshake.status, 200);
    assert.match(handshake.text, /^0\{"sid":/);
  });
});

describe("client bundle: flags and traversal", { skip }, () => {
  let dir;
  before(() => {
    // A --static root with a secret file next to it (outside), and one inside a hidden dir.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-bundle-"));
    track(dir, () => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, "www", "socket.io"), { recursive: true });
    fs.mkdirSync(path.join(dir, "www", ".private"));
    fs.writeFileSync(path.join(dir, "www", "index.html"), "<!doctype html><title>mine</title>\n");
    fs.writeFileSync(path.join(dir, "www", ".private", "key.txt"), "SECRET-INSIDE\n");
    fs.writeFileSync(path.join(dir, "secret.txt"), "SECRET-OUTSIDE\n");
  });

  test("--serve-client=false turns the bundle routes off", T, async () => {
    const off = await startServer({ kind: "chat", args: ["--serve-client=false"] });
    for (const name of FILES) {
      const res = await get(`/socket.io/${name}`, { "Accept-Encoding": "gzip, br" }, off);
      assert.notEqual(res.status, 200, name);
      assert.notEqual(res.headers["content-type"], JS_TYPE, name);
      assert.ok(!res.text.includes("Socket.IO"), name);
      // As the reference: everything under the path is Engine.IO's, which knows no such transport.
      assert.equal(res.status, 400, name);
      assert.equal(res.headers["content-type"], "application/json", name);
      assert.equal(res.text, '{"code":0,"message":"Transport unknown"}', name);
    }
    // The rest is still there: the page and Engine.IO.
    assert.equal((await get("/", {}, off)).status, 200);
    assert.equal((await get("/socket.io/?EIO=4&transport=polling", {}, off)).status, 200);
    await off.stop();
  });

  test("--path moves the bundle along with Engine.IO", T, async () => {
    const moved = await startServer({ kind: "chat", args: ["--path", "/rt"] });
    const res = await get("/rt/socket.io.min.js", {}, moved);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(fs.readFileSync(path.join(DIST, "socket.io.min.js"))));
    assert.equal((await get("/socket.io/socket.io.min.js", {}, moved)).status, 404);
    assert.equal((await get("/rt/?EIO=4&transport=polling", {}, moved)).status, 200);
    await moved.stop();
  });

  test("path traversal through the bundle prefix or the static root reaches nothing", T, async () => {
    const srv = await startServer({ kind: "chat", args: ["--static", path.join(dir, "www")] });
    assert.equal((await get("/", {}, srv)).text, "<!doctype html><title>mine</title>\n");
    const attempts = [
      "/socket.io/../secret.txt",
      "/socket.io/../../secret.txt",
      "/socket.io/../index.html",
      "/socket.io/%2e%2e/secret.txt",
      "/socket.io/%2e%2e/%2e%2e/secret.txt",
      "/socket.io/%2E%2E%2F%2E%2E%2Fsecret.txt",
      "/socket.io/..%2f..%2fsecret.txt",
      "/socket.io/.%2e/.%2e/secret.txt",
      "/socket.io/socket.io.js/../../secret.txt",
      "/socket.io/..\\..\\secret.txt",
      "/socket.io/%252e%252e/secret.txt",
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2e%2e%2fsecret.txt",
      "/socket.io%2f..%2f..%2fsecret.txt",
      "/.private/key.txt",
      "/%2eprivate/key.txt",
      "/socket.io/../.private/key.txt",
      `/${path.join(dir, "secret.txt")}`,
      `/..${path.join(dir, "secret.txt")}`,
    ];
    for (const p of attempts) {
      const res = await get(p, { "Accept-Encoding": "gzip, br" }, srv);
      assert.ok(res.status >= 400, `${p} answered ${res.status}`);
      assert.ok(!res.text.includes("SECRET"), `${p} leaked a file`);
    }
    // The bundle still comes from the binary, not from --static's own socket.io/ directory.
    const bundle = await get("/socket.io/socket.io.js", {}, srv);
    assert.equal(bundle.status, 200);
    assert.ok(bundle.body.equals(fs.readFileSync(path.join(DIST, "socket.io.js"))));
    await srv.stop();
  });
});
