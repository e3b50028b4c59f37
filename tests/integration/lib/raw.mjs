// Raw Engine.IO v4 helpers for the protocol tests: URL builders, payload codec, and a small raw
// Engine.IO client (polling or websocket) that answers pings and exposes received messages in an
// async queue. The Socket.IO raw tests build on it by sending Socket.IO packets as Engine.IO
// messages. Nothing here hides protocol details the tests assert on: the tests that pin exact
// bytes use the request()/openWebSocket() helpers from harness.mjs directly.
import { AsyncQueue, openWebSocket, request, startRequest, track, timeoutAfter } from "./harness.mjs";

export const SEP = "\x1e";

/** A session id as the reference produces them: URL-safe characters only. */
export const SID_RE = /^[A-Za-z0-9_-]+$/;

export function pollingPath(base, { sid, eio = "4", extra = "" } = {}) {
  let p = `${base}?EIO=${eio}&transport=polling`;
  if (sid !== undefined) p += `&sid=${encodeURIComponent(sid)}`;
  return p + extra;
}

export function wsUrl(port, base, { sid, eio = "4" } = {}) {
  let u = `ws://127.0.0.1:${port}${base}?EIO=${eio}&transport=websocket`;
  if (sid !== undefined) u += `&sid=${encodeURIComponent(sid)}`;
  return u;
}

/** The exact open packet (after the "0") with the conformance server's settings. */
export function expectedOpen(sid, upgrades) {
  return `{"sid":"${sid}","upgrades":${JSON.stringify(upgrades)},"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`;
}

/** Parses "0{...}" and returns the object (throws on anything else). */
export function parseOpen(text) {
  if (typeof text !== "string" || text[0] !== "0") throw new Error(`not an open packet: ${JSON.stringify(text)}`);
  return JSON.parse(text.slice(1));
}

/** Encodes Engine.IO packets for a polling payload: strings are sent as-is, Buffers as b+base64. */
export function encodePayload(packets) {
  return packets.map((p) => (typeof p === "string" ? p : `b${Buffer.from(p).toString("base64")}`)).join(SEP);
}

/** Splits a polling payload; `b...` packets are decoded to {type:"binary", data: Buffer}. */
export function decodePayload(text) {
  return text.split(SEP).map((p) => (p[0] === "b" ? { type: "binary", data: Buffer.from(p.slice(1), "base64") } : p));
}

/** Polling handshake. Returns {sid, open, response}. */
export async function pollingHandshake(port, base, { agent, headers } = {}) {
  const response = await request({ port, path: pollingPath(base), agent, headers });
  if (response.status !== 200) throw new Error(`handshake failed: ${response.status} ${response.text}`);
  const open = parseOpen(response.text);
  return { sid: open.sid, open, response };
}

/** An expected Engine.IO HTTP error answer. */
export function errorBody(code) {
  const messages = {
    0: "Transport unknown",
    1: "Session ID unknown",
    2: "Bad handshake method",
    3: "Bad request",
    4: "Forbidden",
    5: "Unsupported protocol version",
  };
  return JSON.stringify({ code, message: messages[code] });
}

/**
 * A raw Engine.IO v4 client.
 *   transport: "websocket" (direct) or "polling" (GET loop + serialized POSTs)
 *   autoPong: answer server pings with "3" (default true); pings are counted in `pings`
 * Exposes:
 *   sid, open        the handshake
 *   messages         AsyncQueue of message payloads: string (text, without the leading "4") or Buffer
 *   packets          every packet received except messages and pings (e.g. "6", "1"), as strings
 *   next(ms)         next message
 *   send(...msgs)    sends messages (string → text message, Buffer → binary), in one batch on polling
 *   sendRaw(str)     sends a raw Engine.IO packet string
 *   closed           Promise resolved with a description when the session ends
 *   isClosed         boolean
 *   close()          closes the session ("1" on polling, WebSocket close)
 */
export async function rawEngine({ port, base, transport = "websocket", autoPong = true }) {
  const messages = new AsyncQueue(`engine.io ${transport} messages`);
  const packets = [];
  const client = {
    transport,
    messages,
    packets,
    pings: 0,
    isClosed: false,
    next: (ms = 2000) => messages.next(ms),
  };
  let resolveClosed;
  client.closed = new Promise((r) => (resolveClosed = r));
  const markClosed = (why) => {
    if (client.isClosed) return;
    client.isClosed = true;
    messages.end(new Error(`engine.io session closed: ${why}`));
    resolveClosed(why);
  };

  const onPacket = (p) => {
    if (Buffer.isBuffer(p)) return messages.push(p);
    switch (p[0]) {
      case "4":
        return messages.push(p.slice(1));
      case "2":
        client.pings++;
        if (autoPong) client.sendRaw("3");
        return;
      case "1":
        packets.push(p);
        return markClosed("close packet");
      default:
        packets.push(p);
    }
  };

  if (transport === "websocket") {
    const ws = await openWebSocket(wsUrl(port, base));
    const first = await ws.next(5000);
    client.open = parseOpen(first);
    client.sid = client.open.sid;
    client.ws = ws;
    ws.ws.on("message", (data, isBinary) => onPacket(isBinary ? Buffer.from(data) : data.toString("utf8")));
    // messages already queued in ws.messages after the open packet
    while (ws.messages.size) {
      const m = await ws.messages.next(0);
      onPacket(m.data);
    }
    ws.closed.then(({ code }) => markClosed(`websocket closed ${code}`));
    client.sendRaw = (s) => {
      if (!client.isClosed) ws.send(s);
    };
    client.send = (...msgs) => {
      for (const m of msgs) {
        if (client.isClosed) return;
        ws.send(typeof m === "string" ? `4${m}` : Buffer.from(m));
      }
    };
    client.close = async () => {
      await ws.close();
      markClosed("closed by client");
    };
    track(client, client.close);
    return client;
  }

  // polling
  const hs = await pollingHandshake(port, base);
  client.open = hs.open;
  client.sid = hs.sid;
  const path = pollingPath(base, { sid: hs.sid });
  let current = null;
  let stopped = false;
  (async () => {
    while (!stopped && !client.isClosed) {
      current = startRequest({ port, path, timeoutMs: 60000 });
      let res;
      try {
        res = await current.response;
      } catch (e) {
        if (!stopped) markClosed(`poll failed: ${e.message}`);
        return;
      }
      if (res.status !== 200) {
        markClosed(`poll answered ${res.status} ${res.text}`);
        return;
      }
      for (const p of decodePayload(res.text)) onPacket(p.type === "binary" ? p.data : p);
    }
  })();
  // POSTs go one at a time; whatever accumulates meanwhile goes in the next batch.
  let outbox = [];
  let posting = null;
  const flush = async () => {
    while (outbox.length && !client.isClosed) {
      const batch = outbox;
      outbox = [];
      try {
        const r = await request({ port, method: "POST", path, body: encodePayload(batch), headers: { "Content-Type": "text/plain;charset=UTF-8" } });
        if (r.status !== 200) markClosed(`post answered ${r.status}`);
      } catch (e) {
        markClosed(`post failed: ${e.message}`);
      }
    }
    posting = null;
  };
  client.sendRaw = (s) => {
    outbox.push(s);
    if (!posting) posting = flush();
  };
  client.send = (...msgs) => {
    for (const m of msgs) outbox.push(typeof m === "string" ? `4${m}` : Buffer.from(m));
    if (!posting) posting = flush();
  };
  client.flushed = async () => {
    while (posting) await posting;
  };
  client.close = async () => {
    if (!client.isClosed) {
      stopped = true;
      try {
        await request({ port, method: "POST", path, body: "1", timeoutMs: 2000 });
      } catch {
        // already gone
      }
      if (current) current.abort();
      markClosed("closed by client");
    }
  };
  track(client, async () => {
    stopped = true;
    if (current) current.abort();
    markClosed("cleanup");
  });
  return client;
}

/** Collects messages until `ms` of silence; returns them. */
export async function drain(queue, ms = 150) {
  const out = [];
  for (;;) {
    try {
      out.push(await queue.next(ms));
    } catch {
      return out;
    }
  }
}

/** Resolves "open" if the session is still open after ms, otherwise the close description. */
export async function stateAfter(client, ms) {
  return Promise.race([client.closed, timeoutAfter(ms, "open")]);
}
