// The Node side of scripts/soak.sh (not part of the test command). One role per process:
//
//   node soak.mjs hold    URL N SECONDS    N polling clients (socket.io-client) held open
//   node soak.mjs churn   URLS RATE SECONDS  RATE connect+disconnect per second, transports mixed
//   node soak.mjs chat    URLS N SECONDS   N chatters in rooms: messages with acks every 500 ms,
//                                          every delivery checked
//   node soak.mjs hostile URLS SECONDS     every hostile probe, in a loop, at once
//
// URLS: comma-separated server URLs (http:// or https://, self-signed accepted). Each role
// prints progress to stderr and one JSON line on stdout at the end: {role, errors, ...}.
// "errors" are what a well-behaved client saw go wrong (a refused connect, an unexpected
// disconnect, a missing ack or delivery); the hostile role reports what the server did to it.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { io } from "socket.io-client";
import WebSocket from "ws";

const [role, urlArg, ...rest] = process.argv.slice(2);
const urls = (urlArg ?? "").split(",").filter(Boolean);
const TLS_OPTS = { rejectUnauthorized: false };
const log = (...a) => process.stderr.write(`[${role} ${new Date().toISOString().slice(11, 19)}] ${a.join(" ")}\n`);
const pick = (i) => urls[i % urls.length];
// What the clients saw, by kind (message numbers folded), for the report.
const tally = (errors) => {
  const by = {};
  for (const e of errors) {
    const k = e.replace(/\bm\d+\b/g, "mN");
    by[k] = (by[k] ?? 0) + 1;
  }
  return by;
};

// Well-behaved clients behave like browsers: each from one of 50 loopback addresses (the
// hostile probes use 127.0.0.2 and 127.0.0.3), and a long-polling client keeps its connections
// alive (xmlhttprequest-ssl, socket.io-client's polling in Node, opens a new connection, and over
// TLS makes a new handshake, for every request unless given an agent; a browser does not).
let nextAddress = 0;
function client(url, transports, extra = {}) {
  const secure = url.startsWith("https");
  const localAddress = `127.0.1.${(nextAddress++ % 50) + 1}`;
  const agent = transports.includes("polling")
    ? new (secure ? https : http).Agent({ keepAlive: true, maxSockets: 2, localAddress, ...(secure ? TLS_OPTS : {}) })
    : undefined;
  const s = io(url, {
    transports,
    forceNew: true,
    reconnection: false,
    timeout: 20000,
    localAddress,
    ...(agent ? { agent } : {}),
    ...(secure ? TLS_OPTS : {}),
    ...extra,
  });
  if (agent) {
    // Not at once: the manager says "close" before the DISCONNECT packet's request has gone out
    // on a keep-alive connection, and destroying the agent then loses it (the server would see a
    // transport error instead of the client's disconnect).
    const done = () => setTimeout(() => agent.destroy(), 2000).unref();
    s.io.on("close", done);
    s.on("connect_error", done);
  }
  return s;
}

function connected(socket, ms = 30000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("connect timeout")), ms);
    socket.once("connect", () => {
      clearTimeout(t);
      resolve(socket);
    });
    socket.once("connect_error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

async function hold(n, seconds) {
  const errors = [];
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = client(urls[0], ["polling"]);
    sockets.push(s);
    connected(s).then(
      () => s.on("disconnect", (r) => r !== "io client disconnect" && errors.push(`disconnect: ${r}`)),
      (e) => errors.push(`connect: ${e.message}`),
    );
    if (i % 50 === 49) await sleep(100);
  }
  log(`${n} polling clients started`);
  // Until the time is up or the script says stop (SIGINT).
  await new Promise((resolve) => {
    setTimeout(resolve, seconds * 1000);
    process.once("SIGINT", resolve);
  });
  const up = sockets.filter((s) => s.connected).length;
  for (const s of sockets) s.disconnect();
  return { connected: up, errors: errors.length, by_kind: tally(errors) };
}

async function churn(rate, seconds) {
  const errors = [];
  let done = 0;
  const end = Date.now() + seconds * 1000;
  const kinds = [["websocket"], ["polling"]];
  let i = 0;
  while (Date.now() < end) {
    const tick = Date.now();
    for (let k = 0; k < rate / 10; k++, i++) {
      const s = client(pick(i), kinds[i % 2]);
      connected(s).then(
        () => {
          done++;
          s.disconnect();
        },
        (e) => {
          errors.push(`connect: ${e.message}`);
          s.close();
        },
      );
    }
    await sleep(Math.max(0, 100 - (Date.now() - tick)));
  }
  await sleep(3000);
  return { reconnects: done, per_second: +(done / seconds).toFixed(1), errors: errors.length, by_kind: tally(errors) };
}

async function chat(n, seconds) {
  const errors = [];
  const rooms = ["r0", "r1", "r2", "r3", "r4"];
  const members = [];
  for (let i = 0; i < n; i++) {
    const url = pick(i);
    const s = client(url, i % 3 === 0 ? ["polling"] : ["websocket"]);
    await connected(s);
    const room = rooms[i % rooms.length];
    const r = await s.timeout(10000).emitWithAck("join", room);
    if (!r?.ok) errors.push(`join: ${JSON.stringify(r)}`);
    s.received = new Map();
    s.on("chat message", (m) => s.received.set(m.text, true));
    s.on("disconnect", (reason) => reason !== "io client disconnect" && errors.push(`disconnect: ${reason}`));
    members.push({ s, room, url });
  }
  log(`${n} chatters in ${rooms.length} rooms`);
  let sent = 0;
  let delivered = 0;
  let seq = 0;
  const end = Date.now() + seconds * 1000;
  const checks = [];
  while (Date.now() < end) {
    for (const { s, room, url } of members) {
      const text = `m${seq++}`;
      sent++;
      checks.push(
        s
          .timeout(10000)
          .emitWithAck("chat message", room, text)
          .then(async (r) => {
            if (!r?.ok) errors.push(`ack: ${JSON.stringify(r)}`);
            await sleep(2000);
            for (const m of members) {
              // The servers share no adapter: a message reaches the room's members on its own server.
              if (m.room !== room || m.url !== url) continue;
              if (m.s.received.delete(text)) delivered++;
              else errors.push(`not delivered: ${text}`);
            }
          })
          .catch((e) => errors.push(`ack: ${e.message}`)),
      );
    }
    await sleep(500);
    if (checks.length > 5000) await Promise.all(checks.splice(0));
  }
  await Promise.all(checks);
  for (const { s } of members) s.disconnect();
  return { messages: sent, deliveries: delivered, errors: errors.length, by_kind: tally(errors) };
}

// ---------------------------------------------------------------------------------------------
// Hostile probes: each loops until the end; what the server did is counted.

function target(url) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), secure: u.protocol === "https:" };
}

function rawConnect({ host, port, secure }, localAddress) {
  return new Promise((resolve) => {
    const opts = { host, port, localAddress, ...(secure ? TLS_OPTS : {}) };
    const sock = secure ? tls.connect(opts) : net.connect(opts);
    sock.on("error", () => {});
    sock.once(secure ? "secureConnect" : "connect", () => resolve(sock));
    sock.once("close", () => resolve(sock));
    setTimeout(() => resolve(sock), 5000).unref();
  });
}

const stats = {};
const count = (k, n = 1) => (stats[k] = (stats[k] ?? 0) + n);

async function connFlood(t, end) {
  // 3000 connections from 127.0.0.2, held a few seconds: over --max-connections-per-address.
  while (Date.now() < end) {
    const socks = await Promise.all(Array.from({ length: 3000 }, () => rawConnect(t, "127.0.0.2")));
    await sleep(3000);
    count("conn_flood_closed_by_server", socks.filter((s) => s.destroyed || s.readableEnded).length);
    for (const s of socks) s.destroy();
    await sleep(2000);
  }
}

function get(t, path, { headers = {}, localAddress } = {}) {
  return new Promise((resolve) => {
    const mod = t.secure ? https : http;
    const req = mod.request({ host: t.host, port: t.port, path, headers, localAddress, agent: false, ...(t.secure ? TLS_OPTS : {}) }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", () => resolve(0));
    req.setTimeout(10000, () => req.destroy());
    req.end();
  });
}

async function handshakeFlood(t, end) {
  while (Date.now() < end) {
    const statuses = await Promise.all(
      Array.from({ length: 300 }, () => get(t, "/socket.io/?EIO=4&transport=polling", { localAddress: "127.0.0.3" })),
    );
    for (const s of statuses) count(`handshake_flood_${s}`);
    await sleep(200);
  }
}

async function headerBombs(t, end) {
  const many = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-h${i}`, "v"]));
  while (Date.now() < end) {
    count(`header_count_${await get(t, "/socket.io/?EIO=4&transport=polling", { headers: many })}`);
    count(`header_size_${await get(t, "/socket.io/?EIO=4&transport=polling", { headers: { cookie: "c".repeat(20000) } })}`);
    count(`cors_evil_${await get(t, "/socket.io/?EIO=4&transport=polling", { headers: { origin: "http://evil.example" } })}`);
    await sleep(100);
  }
}

function wsOpen(url) {
  const u = new URL(url);
  const wsUrl = `${u.protocol === "https:" ? "wss" : "ws"}://${u.host}/socket.io/?EIO=4&transport=websocket`;
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false, ...(u.protocol === "https:" ? TLS_OPTS : {}) });
    ws.on("error", () => resolve(null));
    ws.once("open", () => {
      ws.send("40");
      resolve(ws);
    });
  });
}

async function ackFlood(url, end) {
  // Unhandled events with acks: ids the server must not keep forever.
  while (Date.now() < end) {
    const ws = await wsOpen(url);
    if (!ws) {
      count("ack_flood_refused");
      await sleep(1000);
      continue;
    }
    for (let i = 1; i <= 50000 && Date.now() < end; i++) {
      ws.send(`42${i}["no such event"]`);
      if (i % 2000 === 0) await sleep(5);
    }
    count("ack_flood_rounds");
    ws.terminate();
  }
}

async function roomFlood(url, end) {
  while (Date.now() < end) {
    const s = client(url, ["websocket"]);
    try {
      await connected(s);
      let refused = 0;
      for (let i = 0; i < 2000 && Date.now() < end; i++) {
        const r = await s.timeout(10000).emitWithAck("join", `flood-${i}`).catch(() => null);
        if (!r?.ok) refused++;
      }
      count("room_joins_refused", refused);
    } catch {
      count("room_flood_connect_failed");
    }
    s.disconnect();
  }
}

async function namespaceFlood(url, end) {
  while (Date.now() < end) {
    const s = client(`${url}/${"n".repeat(5000)}`, ["websocket"]);
    const msg = await new Promise((resolve) => {
      s.once("connect_error", (e) => resolve(e.message));
      s.once("connect", () => resolve("connected"));
      setTimeout(() => resolve("timeout"), 10000).unref();
    });
    count(`long_namespace_${msg.replace(/\W+/g, "_")}`);
    s.close();
    await sleep(200);
  }
}

async function pingFlood(url, end) {
  // Pings as fast as possible, never reading: the transport half of issue 10 bounds it.
  while (Date.now() < end) {
    const ws = await wsOpen(url);
    if (!ws) {
      await sleep(1000);
      continue;
    }
    ws._socket.pause();
    const stopAt = Math.min(end, Date.now() + 15000);
    while (Date.now() < stopAt && ws.readyState === WebSocket.OPEN) {
      for (let i = 0; i < 500; i++) ws.ping();
      await sleep(10);
    }
    count(ws.readyState === WebSocket.OPEN ? "ping_flood_still_open" : "ping_flood_closed_by_server");
    ws.terminate();
  }
}

async function slowReaders(url, end) {
  // 20 members of a room that stop reading while the room is flooded.
  while (Date.now() < end) {
    const readers = [];
    for (let i = 0; i < 20; i++) {
      const s = client(url, ["websocket"]);
      try {
        await connected(s);
        await s.timeout(10000).emitWithAck("join", "flooded");
        s.io.engine.transport.ws._socket.pause();
        readers.push(s);
      } catch {
        count("slow_reader_connect_failed");
      }
    }
    const pub = client(url, ["websocket"]);
    try {
      await connected(pub);
      const big = "x".repeat(16 * 1024);
      const stopAt = Math.min(end, Date.now() + 20000);
      while (Date.now() < stopAt) {
        for (let i = 0; i < 20; i++) pub.emit("chat message", "flooded", big);
        await sleep(20);
      }
    } catch {
      count("slow_publisher_connect_failed");
    }
    count("slow_readers_cut", readers.filter((s) => !s.connected).length);
    for (const s of readers) s.close();
    pub.close();
    await sleep(1000);
  }
}

async function hostile(seconds) {
  const end = Date.now() + seconds * 1000;
  const probes = [];
  for (const url of urls) {
    const t = target(url);
    probes.push(connFlood(t, end), handshakeFlood(t, end), headerBombs(t, end), ackFlood(url, end), roomFlood(url, end),
      namespaceFlood(url, end), pingFlood(url, end), slowReaders(url, end));
  }
  const timer = setInterval(() => log(JSON.stringify(stats)), 30000);
  await Promise.all(probes.map((p) => p.catch((e) => count(`probe_crashed: ${e.message}`))));
  clearInterval(timer);
  return { probes: stats, errors: 0 };
}

const num = (i, d) => Number(rest[i] ?? d);
let result;
if (role === "hold") result = await hold(num(0, 100), num(1, 60));
else if (role === "churn") result = await churn(num(0, 500), num(1, 60));
else if (role === "chat") result = await chat(num(0, 20), num(1, 60));
else if (role === "hostile") result = await hostile(num(0, 60));
else {
  process.stderr.write("usage: node soak.mjs hold|churn|chat|hostile URLS ...\n");
  process.exit(2);
}
process.stdout.write(JSON.stringify({ role, ...result }) + "\n");
process.exit(0);
