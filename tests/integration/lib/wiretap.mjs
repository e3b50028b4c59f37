// A TCP relay between a client and the server under test that reads the WebSocket frames going
// through it, each way: what client libraries hide (RSV1 on a compressed message, opcodes, the
// compressed payloads) is then visible to the test, and the client is the real one, unmodified.
// Plain HTTP (long-polling, pages, bundles) goes through untouched; a connection is parsed as
// WebSocket once its request asked for an upgrade and the server answered 101. Tracked by the
// harness (closeAll closes the relay and every connection through it).
//
// Compressed messages are inflated as they pass (message: the bytes the application sent), with
// the context each direction keeps under the agreement in the 101 (context takeover: the last
// 32 KiB of that direction's earlier compressed messages are the inflater's dictionary).
import net from "node:net";
import zlib from "node:zlib";
import { track } from "./harness.mjs";
import { parseFrames } from "./wsraw.mjs";
import { TAIL, extensionsOf, parseAgreement } from "./pmd.mjs";

// Inflates the compressed messages of one direction, adding `message` to each data frame (the
// last frame of a fragmented message carries the whole message).
function reader(takeover) {
  let history = Buffer.alloc(0);
  let parts = null;  // the payloads of a message in progress, and whether it is compressed
  return (f) => {
    if (f.opcode >= 8) return;
    if (f.opcode !== 0) parts = { compressed: (f.rsv & 4) !== 0, payloads: [] };
    if (!parts) return;
    parts.payloads.push(f.payload);
    if (!f.fin) return;
    const whole = Buffer.concat(parts.payloads);
    if (!parts.compressed) {
      f.message = whole;
    } else {
      const opts = { finishFlush: zlib.constants.Z_SYNC_FLUSH, ...(takeover() && history.length ? { dictionary: history } : {}) };
      try {
        f.message = zlib.inflateRawSync(Buffer.concat([whole, TAIL]), opts);
      } catch (e) {
        f.inflateError = e;
        f.message = Buffer.alloc(0);
      }
      if (takeover()) history = Buffer.concat([history, f.message]).subarray(-32768);
    }
    parts = null;
  };
}

/**
 * Starts a relay on 127.0.0.1 to targetPort. Returns {port, connections, toClient(), toServer(),
 * close()}: each connection is {request, response (the heads, "" until seen), agreement (from
 * lib/pmd.mjs, null without permessage-deflate), toClient: frames, toServer: frames};
 * toClient()/toServer() list the frames of every WebSocket connection, in order. A frame is
 * {fin, rsv, opcode, payload (unmasked, as on the wire), message (data frames ending a message:
 * the message, inflated when compressed)}; rsv & 4 is RSV1.
 */
export async function startWiretap(targetPort, host = "127.0.0.1") {
  const connections = [];
  const server = net.createServer((client) => {
    const conn = { request: "", response: "", agreement: null, toClient: [], toServer: [] };
    const toServer = reader(() => conn.agreement && !conn.agreement.clientNoContextTakeover);
    const toClient = reader(() => conn.agreement && !conn.agreement.serverNoContextTakeover);
    connections.push(conn);
    const upstream = net.connect({ port: targetPort, host });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const state = { up: { buf: Buffer.alloc(0), ws: false }, down: { buf: Buffer.alloc(0), ws: false } };
    // Client to server: the request head, then (if it asked for an upgrade) frames.
    client.on("data", (d) => {
      upstream.write(d);
      const s = state.up;
      s.buf = Buffer.concat([s.buf, d]);
      if (!s.ws) {
        if (conn.request) return;  // plain HTTP after the first request: not read
        const end = s.buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        conn.request = s.buf.subarray(0, end).toString("latin1");
        s.buf = s.buf.subarray(end + 4);
        if (!/^upgrade:\s*websocket/im.test(conn.request)) return;
        s.ws = true;
      }
      const { frames, rest } = parseFrames(s.buf);
      s.buf = Buffer.from(rest);
      frames.forEach(toServer);
      conn.toServer.push(...frames);
    });
    // Server to client: a 101 response head, then frames.
    upstream.on("data", (d) => {
      client.write(d);
      const s = state.down;
      if (!state.up.ws) return;
      s.buf = Buffer.concat([s.buf, d]);
      if (!s.ws) {
        const end = s.buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        conn.response = s.buf.subarray(0, end).toString("latin1");
        s.buf = s.buf.subarray(end + 4);
        if (!/^HTTP\/1\.1 101/.test(conn.response)) return;
        conn.agreement = parseAgreement(extensionsOf(conn.response));
        s.ws = true;
      }
      const { frames, rest } = parseFrames(s.buf);
      s.buf = Buffer.from(rest);
      frames.forEach(toClient);
      conn.toClient.push(...frames);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
    conns.add(client);
    conns.add(upstream);
  });
  const conns = new Set();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const tap = {
    port: server.address().port,
    connections,
    toClient: () => connections.flatMap((c) => c.toClient),
    toServer: () => connections.flatMap((c) => c.toServer),
    close: () =>
      new Promise((resolve) => {
        for (const s of conns) s.destroy();
        server.close(() => resolve());
      }),
  };
  track(tap, tap.close);
  return tap;
}
