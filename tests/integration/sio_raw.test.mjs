// Socket.IO v5 wire behaviour with raw packets, over a raw WebSocket (EIO=4&transport=websocket)
// and over raw long-polling, against the conformance server's /socket.io/ endpoint. Expected bytes
// were recorded from the Node reference (socket.io 4.8, socket.io-parser 4.2).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, closeAll, sleep } from "./lib/harness.mjs";
import { rawEngine, drain, stateAfter, SID_RE } from "./lib/raw.mjs";

const BASE = "/socket.io/";
const T = { timeout: 15000 };
const PH = (n) => `{"_placeholder":true,"num":${n}}`;

let server;
before(async () => {
  server = await startServer({ kind: "conformance" });
});
after(closeAll);

const open = (transport) => rawEngine({ port: server.port, base: BASE, transport });

/** Connects to "/" (or nsp) and returns {c, sid} after the CONNECT reply and the auth event. */
async function connected(transport, { nsp = "/", auth } = {}) {
  const c = await open(transport);
  const prefix = nsp === "/" ? "" : `${nsp},`;
  c.send(`0${prefix}${auth === undefined ? "" : JSON.stringify(auth)}`);
  const reply = await c.next();
  const m = new RegExp(`^0${escapeRe(prefix)}\\{"sid":"([^"]+)"\\}$`).exec(reply);
  assert.ok(m, `CONNECT reply ${reply}`);
  assert.equal(await c.next(), `2${prefix}["auth",${JSON.stringify(auth ?? {})}]`);
  return { c, sid: m[1] };
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

async function assertClosedBy(c, ...messages) {
  c.send(...messages);
  const state = await stateAfter(c, 1500);
  assert.notEqual(state, "open", `connection should close after ${JSON.stringify(messages.map(String))}`);
  assert.equal(c.messages.size, 0, "nothing answered before closing");
}

async function assertStaysOpen(c, ms = 400) {
  assert.equal(await stateAfter(c, ms), "open");
}

for (const transport of ["websocket", "polling"]) {
  describe(`over ${transport}`, () => {
    test("CONNECT without auth: 40{sid} (not the engine sid), then auth {}", T, async () => {
      const c = await open(transport);
      c.send("0");
      const reply = await c.next();
      const m = /^0\{"sid":"([^"]+)"\}$/.exec(reply);
      assert.ok(m, `CONNECT reply ${reply}`);
      assert.match(m[1], SID_RE);
      assert.notEqual(m[1], c.sid, "socket id differs from the Engine.IO sid");
      assert.equal(await c.next(), '2["auth",{}]');
      await c.close();
    });

    test("CONNECT with auth: the auth payload is seen by the server", T, async () => {
      const auth = { token: "123", nested: { a: [1, "b", null, true] }, "é": "😀" };
      const { c } = await connected(transport, { auth });
      await c.close();
    });

    test("/custom namespace: 40/custom,{sid}, auth with and without payload", T, async () => {
      const c = await open(transport);
      c.send('0/custom,{"token":"abc"}');
      const reply = await c.next();
      const m = /^0\/custom,\{"sid":"([^"]+)"\}$/.exec(reply);
      assert.ok(m, reply);
      assert.equal(await c.next(), '2/custom,["auth",{"token":"abc"}]');
      // "/" on the same connection: a different socket id
      c.send("0");
      const m2 = /^0\{"sid":"([^"]+)"\}$/.exec(await c.next());
      assert.ok(m2);
      assert.notEqual(m2[1], m[1]);
      assert.equal(await c.next(), '2["auth",{}]');
      await c.close();

      const { c: c2 } = await connected(transport, { nsp: "/custom" }); // "40/custom" without comma
      await c2.close();
    });

    test("refused namespace: 44/random,{message}, the connection stays usable", T, async () => {
      const c = await open(transport);
      c.send("0/random");
      assert.equal(await c.next(), '4/random,{"message":"Invalid namespace"}');
      c.send('0/random,{"token":"x"}');
      assert.equal(await c.next(), '4/random,{"message":"Invalid namespace"}');
      await assertStaysOpen(c);
      c.send("0");
      assert.match(await c.next(), /^0\{"sid":"[^"]+"\}$/);
      assert.equal(await c.next(), '2["auth",{}]');
      await c.close();
    });

    test("no namespace joined: the connection stays open (only heartbeats)", T, async () => {
      const c = await open(transport);
      const pings0 = c.pings;
      await assertStaysOpen(c, 1000);
      assert.ok(c.pings - pings0 >= 2, `pings: ${c.pings - pings0}`);
      assert.equal(c.messages.size, 0);
      assert.deepEqual(c.packets.filter((p) => p !== "6"), []);
      await c.close();
    });

    test("EVENT → message-back with the same arguments", T, async () => {
      const { c } = await connected(transport);
      c.send('2["message",1,"2",{"3":[true]},null,-1.5,"héllo €😀"]');
      assert.equal(await c.next(), '2["message-back",1,"2",{"3":[true]},null,-1.5,"héllo €😀"]');
      c.send('2["message"]');
      assert.equal(await c.next(), '2["message-back"]');
      await c.close();
    });

    test("EVENT with ack id → ACK with the same id and arguments", T, async () => {
      const { c } = await connected(transport);
      c.send('21["message-with-ack",1,"2",{"3":[true]}]');
      assert.equal(await c.next(), '31[1,"2",{"3":[true]}]');
      c.send('2456["message-with-ack"]');
      assert.equal(await c.next(), "3456[]");
      c.send('20["message-with-ack",{"a":"b"}]');
      assert.equal(await c.next(), '30[{"a":"b"}]');
      await c.close();
    });

    test("BINARY_EVENT with 2 attachments → message-back with 2 attachments", T, async () => {
      const { c } = await connected(transport);
      c.send(`52-["message",${PH(0)},${PH(1)}]`, Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6]));
      assert.equal(await c.next(), `52-["message-back",${PH(0)},${PH(1)}]`);
      assert.deepEqual(await c.next(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await c.next(), Buffer.from([4, 5, 6]));
      await c.close();
    });

    test("placeholders are renumbered in document order when re-encoded", T, async () => {
      const { c } = await connected(transport);
      c.send(`52-["message",{"x":[${PH(1)}]},${PH(0)},"t"]`, Buffer.from("A"), Buffer.from("B"));
      assert.equal(await c.next(), `52-["message-back",{"x":[${PH(0)}]},${PH(1)},"t"]`);
      assert.deepEqual(await c.next(), Buffer.from("B"));
      assert.deepEqual(await c.next(), Buffer.from("A"));
      await c.close();
    });

    test("BINARY_EVENT with ack → BINARY_ACK", T, async () => {
      const { c } = await connected(transport);
      c.send(`52-7["message-with-ack",${PH(0)},${PH(1)}]`, Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6]));
      assert.equal(await c.next(), `62-7[${PH(0)},${PH(1)}]`);
      assert.deepEqual(await c.next(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await c.next(), Buffer.from([4, 5, 6]));
      await c.close();
    });

    test("10 attachments are accepted (the default cap)", T, async () => {
      const { c } = await connected(transport);
      const bufs = Array.from({ length: 10 }, (_, i) => Buffer.from([i, i]));
      c.send(`510-["message",${bufs.map((_, i) => PH(i)).join(",")}]`, ...bufs);
      assert.equal(await c.next(), `510-["message-back",${bufs.map((_, i) => PH(i)).join(",")}]`);
      for (const b of bufs) assert.deepEqual(await c.next(), b);
      await c.close();
    });

    test("DISCONNECT from a namespace: no answer, other namespaces and the connection stay", T, async () => {
      const { c, sid } = await connected(transport);
      c.send("0/custom");
      assert.match(await c.next(), /^0\/custom,\{"sid":"[^"]+"\}$/);
      assert.equal(await c.next(), '2/custom,["auth",{}]');
      c.send("1/custom,");
      await assertStaysOpen(c, 300);
      c.send('2["message","still"]');
      assert.equal(await c.next(), '2["message-back","still"]');
      c.send("1");
      await assertStaysOpen(c, 300);
      assert.equal(c.messages.size, 0);
      // reconnecting "/" on the same Engine.IO connection gives a new socket id
      c.send("0");
      const m = /^0\{"sid":"([^"]+)"\}$/.exec(await c.next());
      assert.ok(m);
      assert.notEqual(m[1], sid);
      assert.equal(await c.next(), '2["auth",{}]');
      await c.close();
    });

    test("after DISCONNECT, an EVENT for that namespace closes the connection", T, async () => {
      const { c } = await connected(transport);
      c.send("1");
      await assertStaysOpen(c, 200);
      await assertClosedBy(c, '2["message",1]');
    });

    describe("lenient inputs the reference accepts (connection stays open)", () => {
      for (const [label, packet, reply] of [
        ["numeric event name", '2[1,"x"]', null],
        ["EVENT without payload", "2", null],
        ["ACK for an unknown id", '399["x"]', null],
        ["ACK without id", "3[]", null],
        ["ACK without payload", "31", null],
        ["EVENT for an event nobody listens to", '2["nobody-listens",1]', null],
      ]) {
        test(label, T, async () => {
          const { c } = await connected(transport);
          c.send(packet);
          await assertStaysOpen(c, 300);
          assert.equal(c.messages.size, 0, `no answer to ${packet}`);
          c.send('2["message","after"]');
          assert.equal(await c.next(), '2["message-back","after"]');
          await c.close();
        });
      }
    });

    describe("invalid packets close the connection", () => {
      for (const [label, ...msgs] of [
        ["ack id not digits: 42abc[", "2abc["],
        ["EVENT payload is an object", '2{"a":1}'],
        ["EVENT payload is a string", '2"x"'],
        ["EVENT payload is an empty array", "2[]"],
        ["reserved event name", '2["connect"]'],
        ["reserved event name disconnecting", '2["disconnecting"]'],
        ["truncated JSON", '2["message",1'],
        ["trailing garbage", '2["message"]x'],
        ["CONNECT payload is a string", '0"str"'],
        ["CONNECT payload is an array", "0[1]"],
        ["empty Socket.IO packet", ""],
        ["unknown packet type 7", "7"],
        ["DISCONNECT with payload", "1x"],
        ["CONNECT_ERROR from the client", '4{"message":"x"}'],
        ["second CONNECT to the same namespace", "0"],
        ["EVENT for a namespace not joined", '2/custom,["message"]'],
        ["ACK for a namespace not joined", "3/nope,1[]"],
        ["BINARY_EVENT without attachment count", '5-["x"]'],
        ["BINARY_EVENT with 0 attachments", '50-["x"]'],
        ["BINARY_EVENT with 11 attachments", `511-["message",${PH(0)}]`],
        ["attachment count on an EVENT", `21-["message",${PH(0)}]`],
        ["binary data with no binary packet pending", Buffer.from([1, 2])],
        ["text packet while attachments are pending", `52-["message",${PH(0)},${PH(1)}]`, Buffer.from([1]), '2["message"]'],
        ["placeholder index out of range", `53-["message",${PH(5)},1,2]`, Buffer.from([1]), Buffer.from([2]), Buffer.from([3])],
      ]) {
        test(label, T, async () => {
          const { c } = await connected(transport);
          await assertClosedBy(c, ...msgs);
        });
      }
    });
  });
}
