// Integration test harness: starts the server under test (the C++ binaries from SIO_BUILD_DIR, or
// with SIO_TARGET=reference the Node reference servers in tests/reference/), and offers raw HTTP and
// raw WebSocket helpers. Everything started through this module is tracked and closed by
// `closeAll()`, which every test file registers with `after(closeAll)`; so a test file never leaks
// a process or a socket, even when a test fails half-way.
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";
import WebSocket from "ws";

const here = path.dirname(fileURLToPath(import.meta.url));
export const TESTS_DIR = path.resolve(here, "..", "..");
export const TARGET = process.env.SIO_TARGET === "reference" ? "reference" : "cpp";
export const IS_REFERENCE = TARGET === "reference";

const KINDS = {
  conformance: { binary: "socketio-conformance-server", script: "conformance-server.mjs" },
  chat: { binary: "socketio-server", script: "chat-server.mjs" },
  features: { binary: "socketio-features-server", script: "features-server.mjs" },
};

export const sleep = (ms) => delay(ms);

/** A TCP port free on 127.0.0.1 right now (for servers that must be told their port). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves `value` after ms without keeping the process alive (for Promise.race guards). */
export const timeoutAfter = (ms, value) => delay(ms, value, { ref: false });

// ---------------------------------------------------------------------------------------------
// Resource tracking

const resources = new Set();

// Last resort: a test process that dies (uncaught exception, runner timeout) must not leave its
// servers behind. "exit" handlers run synchronously, so only a kill is possible here.
const liveProcesses = new Set();
process.on("exit", () => {
  for (const p of liveProcesses) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Registers something with a close() (sync or async) to be closed by closeAll(). */
export function track(resource, close) {
  const entry = { resource, close };
  resources.add(entry);
  return () => resources.delete(entry);
}

/** Closes every tracked resource (clients first, servers last). Safe to call more than once. */
export async function closeAll() {
  const entries = [...resources];
  resources.clear();
  const servers = entries.filter((e) => e.resource && e.resource.__isServer);
  const others = entries.filter((e) => !(e.resource && e.resource.__isServer));
  for (const group of [others, servers]) {
    await Promise.all(
      group.map(async (e) => {
        try {
          await e.close();
        } catch {
          // closing is best effort
        }
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Server process

function commandFor(kind, args) {
  const spec = KINDS[kind];
  if (!spec) throw new Error(`unknown server kind ${kind}`);
  const flags = ["--host", "127.0.0.1", "--port", "0", ...args];
  if (IS_REFERENCE) {
    return { cmd: process.execPath, argv: [path.join(TESTS_DIR, "reference", spec.script), ...flags] };
  }
  const buildDir = process.env.SIO_BUILD_DIR;
  if (!buildDir) throw new Error("SIO_BUILD_DIR is not set (or set SIO_TARGET=reference)");
  return { cmd: path.join(buildDir, "bin", spec.binary), argv: flags };
}

/**
 * Starts a server and waits for its "listening on <url>" line on stdout.
 * @param {{kind: "conformance"|"chat"|"features", args?: string[], env?: object, timeoutMs?: number}} opts
 * @returns {Promise<{url: string, port: number, host: string, proc: import("node:child_process").ChildProcess,
 *   stdout: () => string, stderr: () => string, exitCode: number|null|undefined, exitSignal: string|null|undefined,
 *   exited: Promise<{code: number|null, signal: string|null}>, stop: () => Promise<{code, signal}>}>}
 */
// For tests that measure the server's RSS: under ASan, freed blocks wait in a quarantine
// (256 MB by default) that RSS would count as held; a small one keeps the figure about what the
// server holds. Empty without ASan.
export const MEASURE_RSS_ENV = process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS}:quarantine_size_mb=1` } : {};

export async function startServer({ kind, args = [], env = {}, timeoutMs = 20000 } = {}) {
  const { cmd, argv } = commandFor(kind, args);
  const proc = spawn(cmd, argv, {
    cwd: TESTS_DIR,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  liveProcesses.add(proc);
  proc.once("exit", () => liveProcesses.delete(proc));
  let out = "";
  let err = "";
  const server = {
    __isServer: true,
    kind,
    proc,
    url: undefined,
    port: undefined,
    host: undefined,
    exitCode: undefined,
    exitSignal: undefined,
    stdout: () => out,
    stderr: () => err,
  };
  let spawnFailed;
  const spawnError = new Promise((_, reject) => (spawnFailed = reject));
  spawnError.catch(() => {});
  server.exited = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      server.exitCode = code;
      server.exitSignal = signal;
      resolve({ code, signal });
    });
    // e.g. ENOENT: there will be no "exit" event
    proc.once("error", (e) => {
      if (proc.pid === undefined && server.exitCode === undefined) {
        server.exitCode = null;
        server.exitSignal = null;
        resolve({ code: null, signal: null });
      }
      spawnFailed(e);
    });
  });

  server.stop = async () => {
    if (server.exitCode === undefined) {
      proc.kill("SIGTERM");
      const res = await Promise.race([server.exited, delay(5000, null, { ref: false })]);
      if (res === null) {
        proc.kill("SIGKILL");
        await server.exited;
      }
    }
    proc.stdout.destroy();
    proc.stderr.destroy();
    return { code: server.exitCode, signal: server.exitSignal };
  };
  track(server, server.stop);

  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => {
    err += d;
    if (err.length > 1 << 20) err = err.slice(-(1 << 19));
  });
  proc.stdout.setEncoding("utf8");
  const listening = new Promise((resolve, reject) => {
    proc.stdout.on("data", (d) => {
      out += d;
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
      const m = /listening on (\S+)/.exec(out);
      if (m && server.url === undefined) {
        const url = new URL(m[1]);
        server.url = `${url.protocol}//${url.host}`;
        server.host = url.hostname;
        server.port = Number(url.port);
        resolve();
      }
    });
    server.exited.then(({ code, signal }) =>
      reject(new Error(`${cmd} exited (code ${code}, signal ${signal}) before listening`)),
    );
  });
  try {
    await Promise.race([
      listening,
      spawnError,
      delay(timeoutMs, undefined, { ref: false }).then(() => {
        throw new Error(`${cmd} did not print "listening on <url>" within ${timeoutMs} ms`);
      }),
    ]);
  } catch (e) {
    await server.stop();
    e.message += `\ncommand: ${cmd} ${argv.join(" ")}\nstdout:\n${out}\nstderr:\n${err}`;
    throw e;
  }
  return server;
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

/**
 * One HTTP request. Resolves with {status, headers (lower-case names), rawHeaders, body: Buffer,
 * text, localPort}. Rejects on socket errors (e.g. the server resetting the connection).
 * `agent` defaults to false (a fresh connection, "Connection: close").
 */
export function request({ port, host = "127.0.0.1", method = "GET", path: p = "/", headers = {}, body, agent = false, timeoutMs = 10000 }) {
  return startRequest({ port, host, method, path: p, headers, body, agent, timeoutMs }).response;
}

/**
 * Like request(), but returns {req, response, abort()} so a test can abort a pending request.
 */
export function startRequest({ port, host = "127.0.0.1", method = "GET", path: p = "/", headers = {}, body, agent = false, timeoutMs = 10000 }) {
  let req;
  const response = new Promise((resolve, reject) => {
    const hdrs = { ...headers };
    if (body !== undefined && !Object.keys(hdrs).some((k) => k.toLowerCase() === "content-length")) {
      hdrs["Content-Length"] = Buffer.byteLength(body);
    }
    req = http.request({ host, port, method, path: p, headers: hdrs, agent }, (res) => {
      const chunks = [];
      const localPort = res.socket ? res.socket.localPort : undefined;
      res.on("data", (c) => chunks.push(c));
      res.on("error", reject);
      res.on("aborted", () => reject(new Error("response aborted")));
      res.on("end", () => {
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: buf,
          text: buf.toString("utf8"),
          localPort,
        });
      });
    });
    req.on("error", reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`HTTP ${method} ${p} timed out after ${timeoutMs} ms`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
  response.catch(() => {});
  const untrack = track(req, () => req.destroy());
  response.then(untrack, untrack);
  return { req, response, abort: () => req.destroy() };
}

/** A keep-alive agent with one socket, tracked for closing. */
export function keepAliveAgent() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  track(agent, () => agent.destroy());
  return agent;
}

/**
 * Sends raw bytes on a fresh TCP connection and collects everything the server sends until it
 * closes the connection, `until(bytesSoFar)` returns true, or timeoutMs. Resolves with a Buffer.
 */
export function rawExchange({ port, host = "127.0.0.1", data, timeoutMs = 5000, until: done }) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const sock = net.connect({ port, host }, () => sock.write(data));
    const untrack = track(sock, () => sock.destroy());
    const timer = setTimeout(() => {
      sock.destroy();
    }, timeoutMs);
    sock.on("data", (c) => {
      chunks.push(c);
      if (done && done(Buffer.concat(chunks))) sock.destroy();
    });
    sock.on("error", (e) => {
      if (e.code !== "ECONNRESET") reject(e);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      untrack();
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Parses a raw HTTP/1.1 response (one, non-chunked). */
export function parseRawResponse(buf) {
  const sep = buf.indexOf("\r\n\r\n");
  if (sep < 0) throw new Error(`incomplete HTTP response: ${JSON.stringify(buf.toString("latin1"))}`);
  const head = buf.subarray(0, sep).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(head[0]);
  if (!m) throw new Error(`bad status line ${JSON.stringify(head[0])}`);
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  return { status: Number(m[1]), reason: m[2] ?? "", headers, body: buf.subarray(sep + 4) };
}

// ---------------------------------------------------------------------------------------------
// Async queue + raw WebSocket

/** A queue of values with an awaitable next(timeoutMs). */
export class AsyncQueue {
  constructor(label = "queue") {
    this.label = label;
    this.items = [];
    this.waiters = [];
    this.ended = null;
  }
  push(item) {
    const w = this.waiters.shift();
    if (w) w.resolve(item);
    else this.items.push(item);
  }
  /** Ends the queue: pending and later next() calls reject with `reason` once items run out. */
  end(reason) {
    if (this.ended) return;
    this.ended = reason instanceof Error ? reason : new Error(String(reason));
    for (const w of this.waiters.splice(0)) w.reject(this.ended);
  }
  get size() {
    return this.items.length;
  }
  next(timeoutMs = 2000) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.label}: nothing within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
  /** Resolves true if nothing arrives within ms (the item, if any, stays queued). */
  async isQuiet(ms) {
    if (this.items.length) return false;
    await delay(ms);
    return this.items.length === 0;
  }
}

/**
 * Opens a raw WebSocket (ws package, no permessage-deflate unless asked) and resolves once open.
 * The returned object has:
 *   ws            the ws.WebSocket
 *   messages      AsyncQueue of {data: string|Buffer, binary: boolean}
 *   next(ms)      next message as a string (text) or Buffer (binary)
 *   send(data)    send a string (text frame) or Buffer (binary frame)
 *   closed        Promise<{code, reason}> resolved when the connection closes
 *   close()       close (and terminate if the server does not answer)
 */
export function openWebSocket(url, { headers = {}, perMessageDeflate = false, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate, handshakeTimeout: timeoutMs });
    const conn = makeWsConn(ws);
    const untrack = track(conn, conn.close);
    conn.closed.then(untrack);
    ws.once("open", () => resolve(conn));
    ws.once("unexpected-response", (req, res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const err = new Error(`WebSocket upgrade refused with HTTP ${res.statusCode}`);
        err.status = res.statusCode;
        err.headers = res.headers;
        err.body = Buffer.concat(chunks);
        req.destroy();
        ws.terminate();
        reject(err);
      });
    });
    ws.once("error", (e) => reject(e));
  });
}

function makeWsConn(ws) {
  const messages = new AsyncQueue("websocket");
  let resolveClosed;
  const closed = new Promise((r) => (resolveClosed = r));
  ws.on("message", (data, isBinary) => {
    messages.push(isBinary ? { data: Buffer.from(data), binary: true } : { data: data.toString("utf8"), binary: false });
  });
  ws.on("error", () => {});
  ws.on("close", (code, reason) => {
    messages.end(new Error(`websocket closed (code ${code})`));
    resolveClosed({ code, reason: reason.toString("utf8") });
  });
  return {
    ws,
    messages,
    closed,
    async next(timeoutMs = 2000) {
      return (await messages.next(timeoutMs)).data;
    },
    send(data) {
      ws.send(data, { binary: Buffer.isBuffer(data) || data instanceof Uint8Array });
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      if (ws.readyState === WebSocket.CONNECTING) {
        ws.terminate();
      } else {
        ws.close();
      }
      const done = await Promise.race([closed.then(() => true), delay(1000, false, { ref: false })]);
      if (!done) {
        ws.terminate();
        await closed;
      }
    },
  };
}

/** Waits for an event on an emitter, with a timeout. Resolves with the arguments array. */
export function waitFor(emitter, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`event "${event}" not received within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref(); // a forgotten waitFor must not keep the test process alive
    const handler = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    emitter.once(event, handler);
  });
}

/** Polls `cond` until it returns truthy or the timeout elapses. */
export async function until(cond, { timeoutMs = 5000, intervalMs = 10, message = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${message} not met within ${timeoutMs} ms`);
    await delay(intervalMs);
  }
}

/** Normalises a binary value received from a client library (Buffer, ArrayBuffer, view) to Buffer. */
export function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new Error(`not binary: ${Object.prototype.toString.call(v)}`);
}
