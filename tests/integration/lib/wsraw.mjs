// Raw WebSocket over a net.Socket (or a TLS socket): the opening handshake by hand, masked client
// frames built byte by byte, and the server's frames parsed as they arrive. For the tests that
// must send what no well-behaved client library would (ws_conformance: Autobahn-style cases;
// hostile: floods, peers that stop reading). Every socket opened here is tracked by the harness.
import crypto from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { AsyncQueue, track } from "./harness.mjs";

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

/**
 * One client frame: masked (unless mask: false), FIN set unless fin: false; rsv: the 3 reserved
 * bits (0-7); len: a length to claim instead of the payload's (for lies about the length).
 */
export function frame(opcode, payload = Buffer.alloc(0), { fin = true, rsv = 0, mask = true, len } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const n = len ?? data.length;
  const head = [((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)) >>> 0];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 0xff);
  else {
    head.push(m | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(n));
    head.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A close frame's payload: code (0: none) and reason. */
export function closePayload(code, reason = "") {
  if (!code) return Buffer.alloc(0);
  const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

/**
 * Parses the frames at the start of buf (server frames, or client frames: their payload is
 * unmasked); returns {frames, rest}. rsv: the 3 reserved bits (4: RSV1, permessage-deflate).
 */
export function parseFrames(buf) {
  const frames = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    const b0 = buf[at];
    const b1 = buf[at + 1];
    let len = b1 & 0x7f;
    let p = at + 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      p = at + 4;
    } else if (len === 127) {
      if (buf.length - at < 10) break;
      len = Number(buf.readBigUInt64BE(at + 2));
      p = at + 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) p += 4;
    if (buf.length < p + len) break;
    let payload = buf.subarray(p, p + len);
    if (masked) {
      const key = buf.subarray(p - 4, p);
      payload = Buffer.from(payload);
      for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    }
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    at = p + len;
  }
  return { frames, rest: buf.subarray(at) };
}

/**
 * Opens a WebSocket by hand on host:port at path (tls: true for wss, self-signed accepted);
 * headers: more request header lines (e.g. ["Sec-WebSocket-Extensions: permessage-deflate"]).
 * Returns {socket, head (the 101 response head), frames: AsyncQueue of parsed server frames,
 * closed: Promise (socket gone), send(buf), next(ms), pause(), resume()}.
 * The frames queue ends (next() rejects) when the socket closes.
 */
export async function rawWebSocket({ port, host = "127.0.0.1", path = "/", tls: secure = false, timeoutMs = 5000, headers = [] }) {
  const socket = secure
    ? tls.connect({ port, host, rejectUnauthorized: false, servername: "localhost" })
    : net.connect({ port, host });
  socket.setNoDelay(true);
  track(socket, () => socket.destroy());
  const frames = new AsyncQueue("websocket frames");
  let buf = Buffer.alloc(0);
  let upgraded = false;
  let resolveHead;
  let rejectHead;
  const head = new Promise((resolve, reject) => {
    resolveHead = resolve;
    rejectHead = reject;
  });
  const closed = new Promise((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  socket.on("close", () => {
    frames.end(new Error("websocket socket closed"));
    rejectHead(new Error("socket closed before the upgrade answer"));
  });
  socket.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const text = buf.subarray(0, end).toString("latin1");
      buf = buf.subarray(end + 4);
      upgraded = true;
      resolveHead(text);
    }
    const { frames: got, rest } = parseFrames(buf);
    buf = Buffer.from(rest);
    for (const f of got) frames.push(f);
  });
  await new Promise((resolve, reject) => {
    socket.once(secure ? "secureConnect" : "connect", resolve);
    socket.once("error", reject);
  });
  const key = crypto.randomBytes(16).toString("base64");
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`,
  );
  const timer = setTimeout(() => rejectHead(new Error(`no upgrade answer within ${timeoutMs} ms`)), timeoutMs);
  const status = await head.finally(() => clearTimeout(timer));
  if (!/^HTTP\/1\.1 101/.test(status)) throw new Error(`upgrade refused: ${status.split("\r\n")[0]}`);
  const ws = {
    socket,
    head: status,
    frames,
    closed,
    send: (b) => socket.write(b),
    next: (ms = 5000) => frames.next(ms),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
  return ws;
}

/** The close frame the server sent, {code, reason} (code 0: none), or null if it closed without one. */
export async function closeFrameOf(ws, ms = 5000) {
  for (;;) {
    let f;
    try {
      f = await ws.next(ms);
    } catch {
      return null;
    }
    if (f.opcode === OP.close) {
      const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 0;
      return { code, reason: f.payload.subarray(2).toString("utf8"), frame: f };
    }
  }
}
