// Reference chat server (socket.io 4.8 from npm): the same contract as the C++ `socketio-server`
// binary (app/chat.hpp; keep the two in step), used to validate the integration tests
// (SIO_TARGET=reference) and by the benchmarks.
//
// Path /socket.io/, CORS for any origin ("*"), default engine options (pingInterval 25000,
// pingTimeout 20000 unless --ping-interval/--ping-timeout say otherwise, maxHttpBufferSize 1e6).
// Handlers on namespace "/":
//   join (room, ack)          joins room, ack({ok:true})
//   leave (room, ack)         leaves room, ack({ok:true})
//   chat message (room, text[, ack])
//                             io.to(room).emit("chat message", {room, text}); the sender receives it
//                             too when it is in the room; text is any JSON value or binary, relayed as
//                             it came; ack({ok:true}) when an ack was asked for
//   echo (...args, ack)       ack(...args) with exactly the arguments received (zero included)
//   nick (name, ack)          a display name of 1..32 characters (code points) without control
//                             characters, kept in socket.data.name; ack({ok:true})
//   members (room, ack)       ack({ok:true, room, members:[{id, name}]}), sorted by id, name null
//                             (only for a member of the room: else {ok:false, error})
//                             when unset
// Invalid arguments (room not a string, text missing, bad name) answer the error ack
// {ok:false, error:"<reason>"} when there is an ack, and are ignored otherwise; join, leave, nick
// and members without an ack are ignored. Never a crash. After a join, leave, nick or disconnect
// that changes a room, "presence" {room, members:[{id, name}]} goes to that room, unless it has
// more than PRESENCE_LIMIT members.
import { parseArgs, announce, handleSignals, createSocketServer, instrumentAdmin, splitAck } from "./cli.mjs";

const NAME = "socketio-server";
const opts = parseArgs(process.argv.slice(2), NAME, { pingInterval: 25000, pingTimeout: 20000 });

const { httpServer, io } = createSocketServer(opts);

const PRESENCE_LIMIT = 100;
const MAX_NAME_CHARS = 32;
const NAME_ERROR = "name must be a string of 1 to 32 characters, without control characters";

function fail(ack, error) {
  if (ack) ack({ ok: false, error });
}

// Code points of a name, or null when it holds a control character.
function nameLength(name) {
  if (/[\u0000-\u001f\u007f]/.test(name)) return null;
  return [...name].length;
}

// Every room of a socket but the one named after its id.
const chatRooms = (socket) => [...socket.rooms].filter((r) => r !== socket.id);

async function membersOf(room) {
  const sockets = await io.in(room).fetchSockets();
  sockets.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sockets.map((s) => ({ id: s.id, name: typeof s.data?.name === "string" ? s.data.name : null }));
}

// Snapshots are numbered per room so that an older member list never overwrites a newer one.
const presenceTickets = new Map();
async function publishPresence(room) {
  const size = io.sockets.adapter.rooms.get(room)?.size ?? 0;
  if (size > PRESENCE_LIMIT) return;
  const ticket = (presenceTickets.get(room) ?? 0) + 1;
  presenceTickets.set(room, ticket);
  const members = await membersOf(room);
  if (presenceTickets.get(room) !== ticket) return;
  if (size === 0) presenceTickets.delete(room);
  io.to(room).emit("presence", { room, members });
}

io.on("connection", (socket) => {
  socket.on("join", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [room] = args;
    if (typeof room !== "string") return fail(ack, "room must be a string");
    if (!ack) return; // an ack is required
    const changed = !socket.rooms.has(room);
    socket.join(room);
    ack({ ok: true });
    if (changed) publishPresence(room);
  });

  socket.on("leave", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [room] = args;
    if (typeof room !== "string") return fail(ack, "room must be a string");
    if (!ack) return;
    const changed = room !== socket.id && socket.rooms.has(room);
    socket.leave(room);
    ack({ ok: true });
    if (changed) publishPresence(room);
  });

  socket.on("chat message", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [room, text] = args;
    if (typeof room !== "string") return fail(ack, "room must be a string");
    if (args.length < 2) return fail(ack, "text is required");
    io.to(room).emit("chat message", { room, text });
    if (ack) ack({ ok: true });
  });

  socket.on("echo", (...raw) => {
    const { args, ack } = splitAck(raw);
    if (!ack) return; // nothing to answer to
    ack(...args);
  });

  socket.on("whoami", (...raw) => {
    const { ack } = splitAck(raw);
    if (!ack) return;
    ack({ ok: true, id: socket.id, address: socket.handshake.address, secure: socket.handshake.secure });
  });

  socket.on("nick", (...raw) => {
    const { args, ack } = splitAck(raw);
    const [name] = args;
    const chars = typeof name === "string" ? nameLength(name) : null;
    if (!chars || chars > MAX_NAME_CHARS) return fail(ack, NAME_ERROR);
    if (!ack) return;
    const changed = socket.data.name !== name;
    socket.data.name = name;
    ack({ ok: true });
    if (changed) for (const room of chatRooms(socket)) publishPresence(room);
  });

  socket.on("members", async (...raw) => {
    const { args, ack } = splitAck(raw);
    const [room] = args;
    if (typeof room !== "string") return fail(ack, "room must be a string");
    if (!ack) return;
    if (!socket.rooms.has(room)) return fail(ack, "not in this room");
    ack({ ok: true, room, members: await membersOf(room) });
  });

  let leavingRooms = [];
  socket.on("disconnecting", () => {
    leavingRooms = chatRooms(socket);
  });
  socket.on("disconnect", () => {
    for (const room of leavingRooms) publishPresence(room);
    leavingRooms = [];
  });
});

// Opt-in: a member of a Redis cluster (@socket.io/redis-adapter), with test hooks (redis-cluster.mjs).
let closeRedis = async () => {};
if (opts.redis) {
  closeRedis = await (await import("./redis-cluster.mjs")).attachRedis(io, opts);
  instrumentAdmin(io, opts);
}

handleSignals(NAME, () => new Promise((resolve) => io.close(() => resolve())).then(closeRedis));

httpServer.listen(opts.port, opts.host, () => announce(NAME, httpServer));
