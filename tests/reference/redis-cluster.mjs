// Opt-in Redis for the reference chat server (chat-server.mjs --redis URL): @socket.io/redis-adapter
// 8.3 on node-redis 4, classic (createAdapter, --redis-key PREFIX) or sharded
// (createShardedAdapter, --redis-mode sharded), or @socket.io/redis-streams-adapter 0.3.1
// (--redis-mode streams: the stream and channel prefix both --redis-key, maxLen
// --redis-streams-max-len); with --redis-cluster, --redis lists the seed nodes of a Redis Cluster
// (comma-separated) and the sharded or streams adapter runs on node-redis's createCluster; plus the same
// cluster:* events as the C++ example
// examples/cluster_node (see its main.cpp for the contract), so tests can drive every cluster-wide
// operation from either side. The server announces itself only once its subscriptions are
// confirmed, like socketio-server.
import { createClient, createCluster } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { splitAck } from "./cli.mjs";

export async function attachRedis(
  io,
  { redis: url, redisKey = "socket.io", redisMode = "classic", redisCluster = false, redisStreamsMaxLen, name = "node" },
) {
  // Redis going away must not kill the server: node-redis reconnects by itself.
  // Named, so that its duplicates (the streams adapter's reader) can be found in CLIENT LIST.
  const clientName = `sio-${name}-${process.pid}`;
  const socket = { reconnectStrategy: (n) => Math.min(100 * 2 ** n, 2000) };
  const pub = redisCluster
    ? createCluster({ rootNodes: url.split(",").map((u) => ({ url: u })), defaults: { name: clientName, socket } })
    : createClient({ url, name: clientName, socket });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const sharded = redisMode === "sharded";
  if (redisMode === "streams") {
    io.adapter(
      createStreamsAdapter(pub, {
        streamName: redisKey,
        channelPrefix: redisKey,
        ...(redisStreamsMaxLen ? { maxLen: redisStreamsMaxLen } : {}),
      }),
    );
    // The adapter subscribes and reads the stream on connections of its own, from "$" (entries
    // added before its first XREAD never reach it): ready once both are under way. On a cluster,
    // its subscriber is on one node (any) and its reader on the stream's master: ask them all.
    const uid = io.of("/").adapter.uid;
    const each = async (args) =>
      redisCluster
        ? Promise.all(pub.masters.map(async (m) => (await pub.nodeClient(m)).sendCommand(args)))
        : [await pub.sendCommand(args)];
    for (let i = 0; i < 200; i++) {
      const subscribed = (await each(["PUBSUB", "NUMSUB", `${redisKey}#/#${uid}#`])).some(([, n]) => Number(n) > 0);
      const clients = (await each(["CLIENT", "LIST"])).join("\n");
      const reading = clients.split("\n").some((l) => l.includes(`name=${clientName} `) && l.includes("cmd=xread"));
      if (subscribed && reading) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    installClusterEvents(io, name);
    return async () => {
      await Promise.allSettled([pub.disconnect(), sub.disconnect()]);
    };
  }
  io.adapter(
    sharded ? createShardedAdapter(pub, sub, { channelPrefix: redisKey }) : createAdapter(pub, sub, { key: redisKey }),
  );
  // node-redis sends commands in order: once this probe is confirmed, so are the adapter's.
  const probe = `${redisKey}-probe#${name}#${Date.now()}`;
  if (sharded) {
    await sub.sSubscribe(probe, () => {});
    await sub.sUnsubscribe(probe);
  } else {
    await sub.subscribe(probe, () => {});
    await sub.unsubscribe(probe);
  }
  installClusterEvents(io, name);
  return async () => {
    await Promise.allSettled([pub.disconnect(), sub.disconnect()]);
  };
}

function operatorOf(io, spec) {
  let op = io.of("/");
  for (const r of spec?.rooms ?? []) op = op.to(r);
  for (const r of spec?.except ?? []) op = op.except(r);
  return op;
}

function installClusterEvents(io, name) {
  const nsp = io.of("/");
  nsp.on("hello", (...raw) => {
    const { args, ack } = splitAck(raw);
    if (ack) ack({ node: name, args });
  });
  nsp.on("relay", (...args) => nsp.local.emit("relayed", ...args));

  nsp.on("connection", (socket) => {
    socket.on("cluster:whereami", (ack) => typeof ack === "function" && ack({ node: name, id: socket.id }));
    socket.on("cluster:state", (ack) => {
      if (typeof ack !== "function") return;
      ack({ node: name, id: socket.id, rooms: [...socket.rooms].sort(), data: socket.data ?? null, recovered: !!socket.recovered });
    });
    socket.on("cluster:emit", (...raw) => {
      const { args, ack } = splitAck(raw);
      const [spec, event, ...rest] = args;
      if (typeof event !== "string") return;
      operatorOf(io, spec).emit(event, ...rest);
      if (ack) ack({ ok: true });
    });
    socket.on("cluster:emitWithAck", (...raw) => {
      const { args, ack } = splitAck(raw);
      const [spec, timeoutMs, event, ...rest] = args;
      if (!ack || typeof event !== "string") return;
      operatorOf(io, spec)
        .timeout(timeoutMs)
        .emit(event, ...rest, (err, responses) => ack({ timedOut: !!err, responses }));
    });
    // A rejected promise in a handler would end the process: answer {error} instead.
    socket.on("cluster:fetch", async (spec, ack) => {
      if (typeof ack !== "function") return;
      try {
        const sockets = await operatorOf(io, spec).fetchSockets();
        sockets.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data ?? null })));
      } catch (e) {
        ack({ error: e.message });
      }
    });
    for (const [event, method] of [
      ["cluster:join", "socketsJoin"],
      ["cluster:leave", "socketsLeave"],
    ]) {
      socket.on(event, (spec, rooms, ack) => {
        if (typeof ack !== "function") return;
        operatorOf(io, spec)[method](rooms);
        ack({ ok: true });
      });
    }
    socket.on("cluster:disconnect", (spec, close, ack) => {
      if (typeof ack !== "function") return;
      ack({ ok: true });
      operatorOf(io, spec).disconnectSockets(close === true);
    });
    socket.on("cluster:serverSideEmit", (...raw) => {
      const { args, ack } = splitAck(raw);
      const [event, ...rest] = args;
      if (!ack || typeof event !== "string") return;
      nsp.serverSideEmit(event, ...rest, (err, responses) => ack({ timedOut: !!err, responses }));
    });
    socket.on("cluster:serverSideEmitNoAck", (...raw) => {
      const { args, ack } = splitAck(raw);
      const [event, ...rest] = args;
      if (!ack || typeof event !== "string") return;
      nsp.serverSideEmit(event, ...rest);
      ack({ ok: true });
    });
    socket.on("cluster:allRooms", async (ack) => {
      if (typeof ack !== "function") return;
      if (typeof nsp.adapter.allRooms !== "function") return ack({ error: "allRooms is not supported" });
      try {
        ack([...(await nsp.adapter.allRooms())].sort());
      } catch (e) {
        ack({ error: e.message });
      }
    });
  });
}
