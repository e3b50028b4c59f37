// socket.io-client against the chat server (`socketio-server`): join/leave acks, room fan-out,
// binary relay, echo, invalid arguments, and 50 clients on 4 threads in one room.
//
// The chat contract (the C++ app and tests/reference/chat-server.mjs implement it):
//   join (room, ack) / leave (room, ack)   → ack({ok:true})
//   chat message (room, text[, ack])       → io.to(room).emit("chat message", {room, text}); ack({ok:true})
//   echo (...args, ack)                    → ack(...args)
//   nick (name, ack)                       → 1..32 code points, no control character; ack({ok:true})
//   members (room, ack)                    → ack({ok:true, room, members:[{id, name}]}), sorted by id;
//                                            {ok:false, error} unless the asker is in the room
//   invalid arguments                      → ack({ok:false, error:"<non-empty string>"}) if there is an
//                                            ack, otherwise ignored; never a crash
//   presence                               → {room, members} to the room after a join, leave, nick or
//                                            disconnect that changed it (rooms of up to 100 members)
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, closeAll, waitFor, sleep, toBuffer, until, AsyncQueue } from "./lib/harness.mjs";
import { sioConnect } from "./lib/clients.mjs";

const T = { timeout: 20000 };
let server;

before(async () => {
  server = await startServer({ kind: "chat" });
});
after(closeAll);

function normalize(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return toBuffer(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

/** Connects a client that records every "chat message" it receives. */
async function chatter(opts = {}, srv = server) {
  const socket = await sioConnect(srv, "/", opts, 10000);
  socket.received = [];
  socket.on("chat message", (msg) => socket.received.push(msg));
  return socket;
}

const ack = (socket, event, ...args) => socket.timeout(5000).emitWithAck(event, ...args);

function assertError(res) {
  assert.equal(res.ok, false, JSON.stringify(res));
  assert.equal(typeof res.error, "string");
  assert.ok(res.error.length > 0);
  assert.deepEqual(Object.keys(res).sort(), ["error", "ok"]);
}

describe("chat", () => {
  test("join and leave are acked with {ok:true}", T, async () => {
    const s = await chatter();
    assert.deepEqual(await ack(s, "join", "room-a"), { ok: true });
    assert.deepEqual(await ack(s, "join", "room-a"), { ok: true }, "joining twice is fine");
    assert.deepEqual(await ack(s, "leave", "room-a"), { ok: true });
    assert.deepEqual(await ack(s, "leave", "never-joined"), { ok: true });
    s.disconnect();
  });

  test("chat message goes to room members only, sender included; leave stops delivery", T, async () => {
    const [a, b, c] = await Promise.all([chatter({ transports: ["websocket"] }), chatter({ transports: ["polling"] }), chatter()]);
    assert.deepEqual(await ack(a, "join", "r1"), { ok: true });
    assert.deepEqual(await ack(b, "join", "r1"), { ok: true });
    assert.deepEqual(await ack(c, "join", "r2"), { ok: true });

    assert.deepEqual(await ack(a, "chat message", "r1", "hello"), { ok: true });
    await until(() => a.received.length === 1 && b.received.length === 1, { message: "fan-out" });
    await sleep(200);
    assert.deepEqual(a.received, [{ room: "r1", text: "hello" }]);
    assert.deepEqual(b.received, [{ room: "r1", text: "hello" }]);
    assert.deepEqual(c.received, []);

    // a non-member may send to a room: members get it, the sender does not
    assert.deepEqual(await ack(c, "chat message", "r1", "from outside"), { ok: true });
    await until(() => a.received.length === 2 && b.received.length === 2, { message: "fan-out 2" });
    await sleep(200);
    assert.deepEqual(c.received, []);
    assert.deepEqual(b.received[1], { room: "r1", text: "from outside" });

    assert.deepEqual(await ack(b, "leave", "r1"), { ok: true });
    assert.deepEqual(await ack(a, "chat message", "r1", "after leave"), { ok: true });
    await until(() => a.received.length === 3, { message: "fan-out 3" });
    await sleep(200);
    assert.equal(b.received.length, 2);
    assert.deepEqual(a.received[2], { room: "r1", text: "after leave" });

    // without an ack the message is relayed too
    a.emit("chat message", "r1", "no ack");
    await until(() => a.received.length === 4, { message: "fan-out 4" });
    assert.deepEqual(a.received[3], { room: "r1", text: "no ack" });
    for (const s of [a, b, c]) s.disconnect();
  });

  test("text may be any JSON value; binary is relayed as binary", T, async () => {
    const [a, b] = await Promise.all([chatter({ transports: ["polling"] }), chatter({ transports: ["websocket"] })]);
    await ack(a, "join", "json");
    await ack(b, "join", "json");
    const texts = [
      { nested: { list: [1, "two", null, true] } },
      [1, 2, 3],
      42,
      -0.5,
      null,
      false,
      "",
      "héllo €😀",
      Buffer.from([0, 1, 2, 255]),
      { file: Buffer.from("inside"), name: "f.bin" },
    ];
    for (const t of texts) a.emit("chat message", "json", t);
    await until(() => a.received.length === texts.length && b.received.length === texts.length, { message: "all texts" });
    for (const s of [a, b]) {
      const got = s.received.map((m) => m.room);
      assert.deepEqual(got, texts.map(() => "json"));
      assert.deepEqual(normalize(s.received.map((m) => m.text)), normalize(texts));
      const bin = s.received[8].text;
      assert.ok(Buffer.isBuffer(bin) || bin instanceof ArrayBuffer, "binary stays binary");
    }
    a.disconnect();
    b.disconnect();
  });

  test("echo acks exactly the arguments received: 0, 1, 3 and binary", T, async () => {
    for (const opts of [{ transports: ["polling"] }, { transports: ["websocket"] }]) {
      const s = await chatter(opts);
      const call = (...args) => new Promise((resolve) => s.emit("echo", ...args, (...res) => resolve(res)));
      assert.deepEqual(await call(), []);
      assert.deepEqual(await call("one"), ["one"]);
      assert.deepEqual(await call(1, { two: [2] }, "three"), [1, { two: [2] }, "three"]);
      assert.deepEqual(await call(null), [null]);
      const bin = await call(Buffer.from([1, 2, 3]), { deep: [Buffer.from("x")] }, "t");
      assert.deepEqual(normalize(bin), [Buffer.from([1, 2, 3]), { deep: [Buffer.from("x")] }, "t"]);
      assert.equal(await s.timeout(3000).emitWithAck("echo", "first", "second"), "first");
      s.disconnect();
    }
  });

  test("invalid arguments: error acks, ignored without ack, the server keeps serving", T, async () => {
    const s = await chatter();
    const watcher = await chatter();
    await ack(watcher, "join", "123");
    assertError(await ack(s, "join", 123));
    assertError(await ack(s, "join"));
    assertError(await ack(s, "join", null));
    assertError(await ack(s, "join", { room: "x" }));
    assertError(await ack(s, "leave", 123));
    assertError(await ack(s, "leave"));
    assertError(await ack(s, "chat message", 123, "x"));
    assertError(await ack(s, "chat message"));
    assertError(await ack(s, "chat message", ["123"], "x"));
    // no ack: silently ignored (and join without ack does not join)
    s.emit("join", "silent-room");
    s.emit("join", 5);
    s.emit("leave", false);
    s.emit("chat message", 123, "x");
    s.emit("chat message");
    s.emit("echo", 1, 2);
    s.emit("echo");
    s.emit("unknown event", 1);
    s.emit("join", Buffer.from("binary room"), () => {});
    await sleep(300);
    assert.deepEqual(watcher.received, [], "the numeric room 123 never matched the string room '123'");
    assert.equal(s.connected, true);
    assert.deepEqual(await ack(s, "echo", "still", "here"), "still");
    // the non-acked join did not join
    assert.deepEqual(await ack(watcher, "chat message", "silent-room", "x"), { ok: true });
    await sleep(200);
    assert.deepEqual(s.received, []);
    // and a new client is served
    const fresh = await chatter();
    assert.equal(await ack(fresh, "echo", "new"), "new");
    for (const x of [s, watcher, fresh]) x.disconnect();
  });
});

describe("chat: nick, members, presence", () => {
  const byId = (...members) => members.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  function presenceQueue(socket) {
    const q = new AsyncQueue("presence");
    socket.on("presence", (p) => q.push(p));
    return q;
  }

  test("presence follows join, nick, leave and disconnect; members lists the room", T, async () => {
    const room = "presence-room";
    const a = await chatter({ transports: ["websocket"] });
    const b = await chatter({ transports: ["polling"] });
    const pa = presenceQueue(a);
    const pb = presenceQueue(b);
    assert.deepEqual(await ack(a, "nick", "alice"), { ok: true });
    assert.ok(await pa.isQuiet(200), "no presence: a is in no chat room yet");
    assert.deepEqual(await ack(a, "join", room), { ok: true });
    assert.deepEqual(await pa.next(3000), { room, members: [{ id: a.id, name: "alice" }] });

    assert.deepEqual(await ack(b, "join", room), { ok: true });
    const both = { room, members: byId({ id: a.id, name: "alice" }, { id: b.id, name: null }) };
    assert.deepEqual(await pa.next(3000), both);
    assert.deepEqual(await pb.next(3000), both);

    assert.deepEqual(await ack(b, "nick", "bob"), { ok: true });
    const named = { room, members: byId({ id: a.id, name: "alice" }, { id: b.id, name: "bob" }) };
    assert.deepEqual(await pa.next(3000), named);
    assert.deepEqual(await pb.next(3000), named);
    assert.deepEqual(await ack(a, "members", room), { ok: true, ...named });
    // a room's member list is for its members only
    assertError(await ack(a, "members", "nobody-here"));

    // no change, no presence
    assert.deepEqual(await ack(b, "nick", "bob"), { ok: true });
    assert.deepEqual(await ack(b, "join", room), { ok: true });
    assert.ok(await pa.isQuiet(300), "unchanged nick/join must not publish presence");

    assert.deepEqual(await ack(b, "leave", room), { ok: true });
    assert.deepEqual(await pa.next(3000), { room, members: [{ id: a.id, name: "alice" }] });
    assert.ok(await pb.isQuiet(200), "b left: it no longer gets the room's presence");

    assert.deepEqual(await ack(b, "join", room), { ok: true });
    assert.deepEqual(await pa.next(3000), named);
    assert.deepEqual(await pb.next(3000), named);
    b.disconnect();
    assert.deepEqual(await pa.next(3000), { room, members: [{ id: a.id, name: "alice" }] });
    a.disconnect();
  });

  test("nick and members validate their arguments", T, async () => {
    const s = await chatter();
    for (const bad of ["", "x".repeat(33), "a\nb", "tab\there", "\u007f", 42, null, ["x"]]) {
      assertError(await ack(s, "nick", bad));
    }
    assert.deepEqual(await ack(s, "nick", "😀".repeat(32)), { ok: true }, "32 code points");
    assertError(await ack(s, "nick", "😀".repeat(33)));
    assert.deepEqual(await ack(s, "nick", "Zoë 🦊"), { ok: true });
    assertError(await ack(s, "members", 5));
    assertError(await ack(s, "members"));
    s.emit("nick", "silent");
    s.emit("members", "room");
    await ack(s, "join", "nick-check");
    assert.deepEqual(await ack(s, "members", "nick-check"), { ok: true, room: "nick-check", members: [{ id: s.id, name: "Zoë 🦊" }] });
    s.disconnect();
  });
});

describe("chat on 4 threads", () => {
  let threaded;
  before(async () => {
    threaded = await startServer({ kind: "chat", args: ["--threads", "4"] });
  });

  test("50 clients (polling and websocket) in one room: every message once, in order per sender", { timeout: 60000 }, async () => {
    const N = 50;
    const PER_SENDER = 8;
    const clients = await Promise.all(
      Array.from({ length: N }, (_, i) => chatter(i % 2 ? { transports: ["polling"] } : { transports: ["websocket"] }, threaded)),
    );
    await Promise.all(clients.map((c) => ack(c, "join", "big")));
    // every client sends PER_SENDER messages; some texts are binary
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < PER_SENDER; k++) {
          c.emit("chat message", "big", k % 4 === 3 ? { from: i, seq: k, bin: Buffer.from([i, k]) } : { from: i, seq: k });
          if (k % 2 === 1) await sleep(5);
        }
      }),
    );
    const total = N * PER_SENDER;
    await until(() => clients.every((c) => c.received.length >= total), {
      timeoutMs: 40000,
      message: `${total} messages on each of ${N} clients`,
    });
    await sleep(300);
    clients.forEach((c, who) => {
      assert.equal(c.received.length, total, `client ${who} got ${c.received.length}`);
      const next = new Array(N).fill(0);
      for (const m of c.received) {
        assert.equal(m.room, "big");
        const { from, seq } = m.text;
        assert.equal(seq, next[from], `client ${who}: from ${from} expected seq ${next[from]}, got ${seq}`);
        next[from]++;
        if (seq % 4 === 3) assert.deepEqual(toBuffer(m.text.bin), Buffer.from([from, seq]));
      }
      assert.deepEqual(next, new Array(N).fill(PER_SENDER));
    });
    for (const c of clients) c.disconnect();
  });

  test("SIGTERM: the server exits with code 0 within 5 s", T, async () => {
    const c = await chatter({}, threaded);
    const disconnected = waitFor(c, "disconnect", 6000);
    const t0 = Date.now();
    const { code, signal } = await threaded.stop();
    assert.ok(Date.now() - t0 < 5000, `exit took ${Date.now() - t0} ms`);
    assert.equal(signal, null, `killed by ${signal}`);
    assert.equal(code, 0);
    await disconnected;
  });
});
