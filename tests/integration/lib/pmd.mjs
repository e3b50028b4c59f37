// permessage-deflate (RFC 7692) for the tests' raw clients and wire taps, with Node's zlib: the
// agreement read from a 101 response, a peer that compresses what it sends and inflates what it
// receives the way that agreement says (context kept or not, each way), and the message frames
// built from compressed payloads.
import zlib from "node:zlib";
import { frame, OP } from "./wsraw.mjs";

export const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The Sec-WebSocket-Extensions value of a raw response head ("" when absent). */
export function extensionsOf(head) {
  const m = /^sec-websocket-extensions:\s*(.*)$/im.exec(head);
  return m ? m[1].trim() : "";
}

/**
 * A permessage-deflate answer as {serverNoContextTakeover, clientNoContextTakeover,
 * serverMaxWindowBits, clientMaxWindowBits} (window bits undefined when not given), or null.
 */
export function parseAgreement(value) {
  if (!value) return null;
  const parts = value.split(";").map((s) => s.trim());
  if (parts[0] !== "permessage-deflate") return null;
  const a = { serverNoContextTakeover: false, clientNoContextTakeover: false };
  for (const p of parts.slice(1)) {
    const [k, v] = p.split("=").map((s) => s.trim());
    if (k === "server_no_context_takeover") a.serverNoContextTakeover = true;
    else if (k === "client_no_context_takeover") a.clientNoContextTakeover = true;
    else if (k === "server_max_window_bits") a.serverMaxWindowBits = Number(v);
    else if (k === "client_max_window_bits") a.clientMaxWindowBits = Number(v);
    else throw new Error(`unexpected parameter ${p} in ${value}`);
  }
  return a;
}

// One zlib stream used message by message (flushed with Z_SYNC_FLUSH), recreated per message
// when the context is not kept.
class Stream {
  constructor(make) {
    this.make = make;
    this.z = null;
  }
  run(data, keep) {
    if (!this.z) this.z = this.make();
    const z = this.z;
    return new Promise((resolve, reject) => {
      const chunks = [];
      const onData = (c) => chunks.push(c);
      const onError = (e) => {
        z.off("data", onData);
        this.z = null;
        reject(e);
      };
      z.on("data", onData);
      z.once("error", onError);
      z.write(data);
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        z.off("data", onData);
        z.off("error", onError);
        if (!keep) {
          z.close();
          this.z = null;
        }
        resolve(Buffer.concat(chunks));
      });
    });
  }
}

/**
 * The client side of an agreement: deflate(message) gives the payload to send with RSV1 (the
 * sync flush's 00 00 ff ff removed), inflate(payload) the server's message back (the tail added).
 * windowBits: what the client compresses with (at most the agreed client_max_window_bits).
 */
export function clientPeer(agreement, { windowBits } = {}) {
  const clientBits = windowBits ?? agreement.clientMaxWindowBits ?? 15;
  const serverBits = agreement.serverMaxWindowBits ?? 15;
  const deflater = new Stream(() => zlib.createDeflateRaw({ windowBits: clientBits }));
  const inflater = new Stream(() => zlib.createInflateRaw({ windowBits: serverBits }));
  return {
    async deflate(message) {
      const out = await deflater.run(Buffer.from(message), !agreement.clientNoContextTakeover);
      return out.subarray(0, out.length - 4);
    },
    inflate(payload) {
      return inflater.run(Buffer.concat([payload, TAIL]), !agreement.serverNoContextTakeover);
    },
  };
}

/** A compressed message as one client frame (RSV1 set), or fragmented: sizes of each fragment. */
export function compressedFrames(opcode, payload, fragments = []) {
  if (fragments.length === 0) return [frame(opcode, payload, { rsv: 4 })];
  const out = [];
  let at = 0;
  fragments.forEach((n, i) => {
    const last = i === fragments.length - 1;
    const piece = last ? payload.subarray(at) : payload.subarray(at, at + n);
    out.push(frame(i === 0 ? opcode : OP.cont, piece, { fin: last, rsv: i === 0 ? 4 : 0 }));
    at += n;
  });
  return out;
}

/** Inflates one server message compressed without context (each frame on its own). */
export function inflateAlone(payload) {
  return zlib.inflateRawSync(Buffer.concat([payload, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
}
