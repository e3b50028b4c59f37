// Real npm clients (engine.io-client 6.6, socket.io-client 4.8) wired to the harness: every client
// created here is tracked and closed by closeAll(), never reconnects, and never shares a Manager.
import { Socket as EioSocket } from "engine.io-client";
import { io } from "socket.io-client";
import { track, waitFor } from "./harness.mjs";

export { waitFor };

/**
 * Creates an engine.io-client socket on `${server.url}` (path /engine.io/ by default).
 * transports: e.g. ["polling"], ["websocket"], or undefined for the default (polling + upgrade).
 */
export function eioClient(server, { path = "/engine.io/", transports, ...opts } = {}) {
  const socket = new EioSocket(server.url, {
    path,
    ...(transports ? { transports } : {}),
    ...opts,
  });
  socket.on("error", () => {});
  track(socket, () => socket.close());
  return socket;
}

/** Creates an engine.io-client socket and waits for "open". */
export async function eioOpen(server, opts, timeoutMs = 5000) {
  const socket = eioClient(server, opts);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("engine.io-client open timed out")), timeoutMs);
    socket.once("open", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`engine.io-client error: ${e && e.message}`));
    });
  });
  return socket;
}

/**
 * Creates a socket.io-client socket for namespace `nsp` (default "/"), with its own Manager and
 * reconnection disabled. Options go to io() (transports, auth, upgrade, ...).
 */
export function sioClient(server, nsp = "/", opts = {}) {
  const socket = io(`${server.url}${nsp}`, {
    path: "/socket.io/",
    forceNew: true,
    reconnection: false,
    ...opts,
  });
  track(socket, () => {
    socket.disconnect();
    socket.io.engine?.close();
  });
  return socket;
}

/** Creates a socket.io-client socket and waits for "connect" (rejects on connect_error). */
export async function sioConnect(server, nsp = "/", opts = {}, timeoutMs = 5000) {
  const socket = sioClient(server, nsp, opts);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket.io connect to ${nsp} timed out`)), timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return socket;
}

/** Resolves when the socket.io-client socket's engine has upgraded to websocket. */
export function waitForUpgrade(socket, timeoutMs = 5000) {
  const engine = socket.io.engine;
  if (engine.transport && engine.transport.name === "websocket") return Promise.resolve();
  return waitFor(engine, "upgrade", timeoutMs);
}
