// The MessagePack parser: `socketio-features-server --parser msgpack` (reference: the Node features
// server with socket.io-msgpack-parser 3.0.2) driven by socket.io-client 4.8 with the same parser,
// over polling and over WebSocket: events, acks both ways, binary anywhere in the arguments, rooms,
// namespaces (dynamic ones, refusals), a broadcast with acks from several clients, and what the
// server does with packets it cannot read (it closes the connection, like the reference).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import msgpackParser from "socket.io-msgpack-parser";
import notepack from "notepack.io";
import { startServer, closeAll, waitFor, sleep, toBuffer } from "./lib/harness.mjs";
import { sioClient, sioConnect, eioOpen } from "./lib/clients.mjs";

const T = { timeout: 30000 };
let server;

before(async () => {
  server = await startServer({ kind: "features", args: ["--threads", "2", "--parser", "msgpack"] });
});
after(closeAll);

const call = (socket, event, ...args) => socket.timeout(5000).emitWithAck(event, ...args);

function normalize(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return toBuffer(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

for (const transports of [["polling"], ["websocket"]]) {
  const mode = transports[0];
  const connect = (nsp = "/", opts = {}) => sioConnect(server, nsp, { parser: msgpackParser, transports, ...opts });

  describe(`msgpack over ${mode}`, () => {
    test("events and acks both ways, with binary inline at any depth", T, async () => {
      const socket = await connect();
      assert.equal(socket.io.engine.transport.name, mode);
      // client -> server with an ack (the packet middleware rewrites the argument)
      assert.equal(await call(socket, "mw:rewrite", "abc"), "ABC");

      // server -> client: binary as a top-level argument and nested, numbers of every size
      const got = waitFor(socket, "bin");
      const blob = Buffer.from([0, 1, 2, 253, 254, 255]);
      const big = Buffer.alloc(70000, 7);
      await call(socket, "do:emit", "bin", blob, { nested: [big, { deep: blob }] }, -1.5, 2 ** 40, -(2 ** 33), "é✓");
      const args = normalize(await got);
      assert.deepEqual(args, [blob, { nested: [big, { deep: blob }] }, -1.5, 2 ** 40, -(2 ** 33), "é✓"]);

      // server -> client emit with an ack; the client answers with binary
      socket.on("question", (n, b, ack) => ack("answer", n + 1, Buffer.concat([toBuffer(b), Buffer.from([9])])));
      const res = await call(socket, "do:emit-ack", { event: "question", args: [41, Buffer.from([1])], timeout: 3000 });
      assert.equal(res.timedOut, false);
      assert.deepEqual(normalize(res.resp), ["answer", 42, Buffer.from([1, 9])]);

      // the server-side view: onAny / onAnyOutgoing saw the same values
      const any = await call(socket, "get:any");
      assert.ok(any.incoming.some((a) => a[0] === "mw:rewrite"));
      assert.ok(any.outgoing.some((a) => a[0] === "question" && a[1] === 41));
    });

    test("rooms and broadcasts with acks from several clients", T, async () => {
      const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
      await call(a, "join", "msgpack-room-" + mode);
      await call(b, "join", "msgpack-room-" + mode);
      const gotA = [];
      const gotC = [];
      a.on("room-msg", (...x) => gotA.push(normalize(x)));
      c.on("room-msg", (...x) => gotC.push(normalize(x)));
      const gotB = waitFor(b, "room-msg");
      await call(c, "do:broadcast", { from: "nsp", to: ["msgpack-room-" + mode], event: "room-msg", args: [Buffer.from("hi"), 1] });
      assert.deepEqual(normalize(await gotB), [Buffer.from("hi"), 1]);
      await sleep(200);
      assert.deepEqual(gotA, [[Buffer.from("hi"), 1]]);
      assert.deepEqual(gotC, [], "not a member");

      for (const s of [a, b]) s.on("poll", (x, ack) => ack({ from: s.id, x }));
      const res = await call(c, "do:broadcast", {
        from: "socket",
        to: ["msgpack-room-" + mode],
        event: "poll",
        args: [Buffer.from([5])],
        timeout: 3000,
      });
      assert.equal(res.timedOut, false);
      const responses = normalize(res.responses).sort((x, y) => (x.from < y.from ? -1 : 1));
      assert.deepEqual(
        responses,
        [a.id, b.id].sort().map((id) => ({ from: id, x: Buffer.from([5]) })),
      );
    });

    test("namespaces: dynamic, unknown, refused by middleware", T, async () => {
      const dyn = sioClient(server, "/dyn-mp", { parser: msgpackParser, transports });
      const [hello] = await waitFor(dyn, "hello");
      assert.deepEqual(hello, { nsp: "/dyn-mp" });
      assert.deepEqual(await call(dyn, "get:id"), { id: dyn.id, nsp: "/dyn-mp" });

      const unknown = sioClient(server, "/nope", { parser: msgpackParser, transports });
      const [err] = await waitFor(unknown, "connect_error");
      assert.equal(err.message, "Invalid namespace");

      const refused = sioClient(server, "/", { parser: msgpackParser, transports, auth: { reject: "no", data: { code: 7 } } });
      const [err2] = await waitFor(refused, "connect_error");
      assert.equal(err2.message, "no");
      assert.deepEqual(err2.data, { code: 7 });

      // auth travels as a map
      const named = await connect("/", { auth: { name: "mp-user" } });
      assert.deepEqual(await call(named, "data:get"), { name: "mp-user" });
    });
  });
}

describe("msgpack: packets the server cannot read close the connection", () => {
  for (const [what, data] of [
    ["not MessagePack", Buffer.from([0xc1])],
    ["an unknown packet type", notepack.encode({ type: 9, nsp: "/" })],
    ["a namespace that is not a string", notepack.encode({ type: 0, nsp: 1 })],
    ["EVENT data that is not an array", notepack.encode({ type: 2, data: "x", nsp: "/" })],
    ["a text message", "0"],
  ]) {
    test(what, T, async () => {
      const engine = await eioOpen(server, { path: "/socket.io/", transports: ["websocket"] });
      engine.send(notepack.encode({ type: 0, nsp: "/" }));
      const [reply] = await waitFor(engine, "message");
      assert.ok(typeof reply !== "string", "CONNECT reply is a binary message");
      engine.send(data);
      const [reason] = await waitFor(engine, "close", 5000);
      assert.equal(reason, "transport close");
    });
  }
});
