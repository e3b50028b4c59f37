// What the reference servers share: the command line, the Socket.IO server they all start, the
// listening line, signal handling and ack splitting. They accept the same flags as the C++
// binaries (--host, --port, --threads) so the integration harness can start either one the same way.
// Node runs on one thread: --threads is accepted and ignored. --ping-interval/--ping-timeout (ms)
// override the server's heartbeat settings (the load tests use longer ones than the conformance
// defaults, so that a busy test machine does not turn into ping timeouts). Unknown flags are
// reported on stderr and ignored, so flags added to the C++ binaries later do not break the
// reference. --http-compression=false turns engine.io's httpCompression off; --per-message-deflate
// turns its perMessageDeflate on (-threshold, -server/-client-no-context-takeover=BOOL go into it). --allow-eio3 and --tls-cert/--tls-key/--tls-ca (conformance server) as the C++ flags.
// --redis URL [--redis-key K] [--redis-mode classic|sharded] [--redis-cluster] [--name N] put the chat
// server on a Redis cluster (redis-cluster.mjs). --trust-proxy (features server) is a switch;
// the C++-only --outbox-high-water, --slow-client-timeout and --log-level take a value and are
// ignored. --parser json|msgpack (socket.io-msgpack-parser), --cookie[=false], --cookie-name,
// --cookie-path and --cookie-same-site (lax|strict|none|false) map to socket.io's options.
// --admin-ui[=false], --admin-ui-username, --admin-ui-password-hash, --admin-ui-readonly, --admin-ui-server-id:
// @socket.io/admin-ui's instrument().
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { instrument } from "@socket.io/admin-ui";
import { Server as SocketServer } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";

const require = createRequire(import.meta.url);

const positiveInt = (name, key, v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}: invalid ${key} ${v}`);
  return n;
};

export function parseArgs(argv, name, defaults = {}) {
  const opts = { host: "127.0.0.1", port: 0, threads: 1, ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const key = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = () => {
      if (eq >= 0) return arg.slice(eq + 1);
      if (i + 1 >= argv.length) throw new Error(`${name}: ${key} needs a value`);
      return argv[++i];
    };
    switch (key) {
      case "--host":
        opts.host = takeValue();
        break;
      case "--port":
        opts.port = Number.parseInt(takeValue(), 10);
        if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
          throw new Error(`${name}: invalid --port`);
        }
        break;
      case "--threads":
        opts.threads = positiveInt(name, key, takeValue());
        break;
      case "--ping-interval":
        opts.pingInterval = positiveInt(name, key, takeValue());
        break;
      case "--ping-timeout":
        opts.pingTimeout = positiveInt(name, key, takeValue());
        break;
      case "--redis":
        opts.redis = takeValue();
        break;
      case "--redis-cluster":
        opts.redisCluster = eq < 0 || arg.slice(eq + 1) !== "false";
        break;
      case "--redis-key":
        opts.redisKey = takeValue();
        break;
      case "--redis-mode":
        opts.redisMode = takeValue();
        if (!["classic", "sharded", "streams"].includes(opts.redisMode)) {
          throw new Error(`${name}: invalid --redis-mode`);
        }
        break;
      case "--redis-streams-max-len":
        opts.redisStreamsMaxLen = positiveInt(name, key, takeValue());
        break;
      case "--name":
        opts.name = takeValue();
        break;
      case "--allow-eio3":
        opts.allowEIO3 = eq < 0 || arg.slice(eq + 1) !== "false";
        break;
      case "--tls-cert":
      case "--tls-key":
      case "--tls-ca":
        opts[key.slice(2).replace("-", "_")] = takeValue();
        break;
      case "--http-compression":
        opts.httpCompression = eq < 0 || arg.slice(eq + 1) !== "false";
        break;
      case "--per-message-deflate":
        opts.perMessageDeflate = eq < 0 || arg.slice(eq + 1) !== "false";
        break;
      case "--per-message-deflate-threshold":
        opts.deflateOptions = { ...opts.deflateOptions, threshold: Number(takeValue()) };
        break;
      case "--per-message-deflate-server-no-context-takeover":
        opts.deflateOptions = { ...opts.deflateOptions, serverNoContextTakeover: takeValue() !== "false" };
        break;
      case "--per-message-deflate-client-no-context-takeover":
        opts.deflateOptions = { ...opts.deflateOptions, clientNoContextTakeover: takeValue() !== "false" };
        break;
      case "--trust-proxy":
        opts.trustProxy = eq < 0 || arg.slice(eq + 1) !== "false";
        break;
      case "--connection-state-recovery":
        opts.recovery = eq < 0 || arg.slice(eq + 1) !== "false";
        break;
      case "--max-disconnection-duration":
        opts.maxDisconnectionDuration = positiveInt(name, key, takeValue());
        break;
      case "--recovery-skip-middlewares":
        opts.skipMiddlewares = takeValue() !== "false";
        break;
      case "--parser":
        opts.parser = takeValue();
        if (opts.parser !== "json" && opts.parser !== "msgpack") throw new Error(`${name}: invalid --parser`);
        break;
      case "--cookie":
        opts.cookie = eq < 0 || arg.slice(eq + 1) !== "false" ? { ...(opts.cookie || {}) } : undefined;
        break;
      case "--cookie-name":
        opts.cookie = { ...(opts.cookie || {}), name: takeValue() };
        break;
      case "--cookie-path":
        opts.cookie = { ...(opts.cookie || {}), path: takeValue() };
        break;
      case "--cookie-same-site": {
        const v = takeValue();
        opts.cookie = { ...(opts.cookie || {}), sameSite: v === "false" ? false : v };
        break;
      }
      case "--engine-hooks":
        opts.engineHooks = true;
        break;
      case "--admin-ui":
        opts.adminUi = eq < 0 || arg.slice(eq + 1) !== "false";
        break;
      case "--admin-ui-username":
        opts.adminUsername = takeValue();
        break;
      case "--admin-ui-password-hash":
        opts.adminPasswordHash = takeValue();
        break;
      case "--admin-ui-server-id":
        opts.adminServerId = takeValue();
        break;
      case "--admin-ui-readonly":
        opts.adminReadonly = eq < 0 || arg.slice(eq + 1) !== "false";
        break;
      case "--outbox-high-water":
      case "--slow-client-timeout":
      case "--log-level":
        takeValue();
        break;
      default:
        process.stderr.write(`${name}: ignoring unknown argument ${arg}\n`);
    }
  }
  return opts;
}

// An HTTP server answering 404 for anything but /socket.io/, with a socket.io 4.8 server on it
// configured like the C++ binaries (any origin, no client bundle, the heartbeat from opts).
export function createSocketServer(opts, extra = {}) {
  const httpServer = http.createServer((req, res) => {
    if (opts.adminUi && serveAdminUi(req, res)) return;
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("Not Found");
  });
  const io = new SocketServer(httpServer, {
    path: "/socket.io/",
    cors: { origin: "*" },
    serveClient: false,
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    ...(opts.httpCompression === false ? { httpCompression: false } : {}),
    ...(opts.perMessageDeflate ? { perMessageDeflate: opts.deflateOptions ?? true } : {}),
    allowEIO3: Boolean(opts.allowEIO3),
    ...(opts.recovery
      ? {
          connectionStateRecovery: {
            maxDisconnectionDuration: opts.maxDisconnectionDuration ?? 2 * 60 * 1000,
            skipMiddlewares: opts.skipMiddlewares ?? true,
          },
        }
      : {}),
    ...(opts.parser === "msgpack" ? { parser: msgpackParser } : {}),
    ...(opts.cookie ? { cookie: opts.cookie } : {}),
    ...extra,
  });
  // On a Redis cluster the chat server instruments once the adapter is set (namespaces made
  // before keep the in-memory adapter, and the UI would see this node only).
  if (!opts.redis) instrumentAdmin(io, opts);
  return { httpServer, io };
}

// The twin of socketio-server --admin-ui: @socket.io/admin-ui's instrument(), basic auth.
export function instrumentAdmin(io, opts) {
  if (!opts.adminUi) return;
  instrument(io, {
    auth: { type: "basic", username: opts.adminUsername ?? "admin", password: opts.adminPasswordHash },
    readonly: !!opts.adminReadonly,
    mode: "development",
    ...(opts.adminServerId ? { serverId: opts.adminServerId } : {}),
  });
}

// GET /admin-ui/... from the package's ui/dist, as socketio-server --admin-ui serves it.
const ADMIN_DIST = path.join(path.dirname(require.resolve("@socket.io/admin-ui/package.json")), "ui", "dist");
const TYPES = { ".html": "text/html", ".js": "application/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml" };
function serveAdminUi(req, res) {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/admin-ui") {
    res.writeHead(301, { Location: "/admin-ui/" });
    res.end();
    return true;
  }
  if (!url.pathname.startsWith("/admin-ui/")) return false;
  const rel = url.pathname.slice("/admin-ui/".length) || "index.html";
  const file = path.join(ADMIN_DIST, path.normalize(rel));
  if (!file.startsWith(ADMIN_DIST + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return false;
  res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
  res.end(fs.readFileSync(file));
  return true;
}

// Splits a trailing ack callback off an event's arguments.
export function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    return { args: args.slice(0, -1), ack: args[args.length - 1] };
  }
  return { args, ack: undefined };
}

// Prints the line the harness waits for, once the server really listens.
export function announce(name, httpServer, scheme = "http") {
  const { address, port } = httpServer.address();
  const host = address.includes(":") ? `[${address}]` : address;
  process.stdout.write(`${name} listening on ${scheme}://${host}:${port}\n`);
}

// SIGTERM/SIGINT: close everything and exit 0 (the C++ binaries are expected to do the same).
export function handleSignals(name, closeAll) {
  let closing = false;
  const onSignal = (signal) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`${name}: ${signal}, shutting down\n`);
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    Promise.resolve()
      .then(closeAll)
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
}
