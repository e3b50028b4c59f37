// The chat page's logic: one Socket.IO connection to the server that served the page, a
// nickname, rooms as tabs with a message list each, who is online in the active room, and the
// connection's state (status, transport, TLS). The server's side of the contract is
// app/chat.hpp: join/leave/nick/members with acks, "chat message" (room, text) relayed to the
// room as {room, text}, "presence" {room, members} after membership changes.
//
// socket.io-client reconnects by itself; the server forgets a socket's rooms and name when it
// goes (unless it recovered the session: --connection-state-recovery), so both are re-sent on
// every "connect". They are also kept in localStorage so that a
// reload comes back to the same rooms. Everything received is rendered with textContent, never
// as HTML. No framework and no build step, on purpose: this file is served as it is.
// ?transports=websocket|polling forces a transport; ?parser=msgpack uses the MessagePack bundle.
//
// In a cluster with a node registry (--public-url on the nodes, docs/cluster.md), the page asks
// the server it came from (the balancer) which node to use (GET /cluster/pick; /chat-config.json
// says whether and where) and connects straight to that node; if that node cannot be reached any
// more, it asks again, leaving that node out, and moves on. Otherwise it connects to the server
// it came from.
"use strict";

const startChat = async () => {
  const ACK_TIMEOUT_MS = 5000;
  const MAX_MESSAGES_PER_ROOM = 500;
  const STORAGE_NICK = "sio-chat.nick";
  const STORAGE_ROOMS = "sio-chat.rooms";

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"),
    transport: $("transport"),
    secure: $("secure"),
    node: $("node"),
    nickForm: $("nick-form"),
    nick: $("nick"),
    nickStatus: $("nick-status"),
    joinForm: $("join-form"),
    room: $("room"),
    joinStatus: $("join-status"),
    rooms: $("rooms"),
    leave: $("leave"),
    messages: $("messages"),
    empty: $("empty"),
    sendForm: $("send-form"),
    message: $("message"),
    send: $("send"),
    members: $("members"),
    membersRoom: $("members-room"),
    membersCount: $("members-count"),
  };

  // ---- state -------------------------------------------------------------------------------

  /** room name -> { messages: Entry[], members: {id, name}[], unread: number, pending: Entry[] } */
  const rooms = new Map();
  let active = null;
  let nick = load(STORAGE_NICK, "");
  let nodeUrl = null; // the cluster node this page talks to; null: the server that served it

  function load(key, fallback) {
    try {
      const v = localStorage.getItem(key);
      return v === null ? fallback : JSON.parse(v);
    } catch {
      return fallback; // storage disabled (private mode) or garbage: start fresh
    }
  }

  function save(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // not fatal: the page still works, it just forgets on reload
    }
  }

  function saveRooms() {
    save(STORAGE_ROOMS, [...rooms.keys()]);
  }

  function roomState(name) {
    let r = rooms.get(name);
    if (!r) {
      r = { messages: [], members: [], unread: 0, pending: [] };
      rooms.set(name, r);
    }
    return r;
  }

  // ---- connection status -------------------------------------------------------------------

  function setStatus(state, text) {
    ui.status.dataset.state = state;
    ui.status.textContent = text;
  }

  function setTransport(name) {
    ui.transport.textContent = name || "–";
    ui.transport.dataset.transport = name || "";
  }

  function showSecurity() {
    const secure = (nodeUrl ? new URL(nodeUrl).protocol : location.protocol) === "https:";
    ui.secure.dataset.secure = String(secure);
    ui.secure.textContent = secure ? "encrypted (TLS)" : "not encrypted";
    ui.secure.title = secure
      ? "The page and the Socket.IO connection use TLS (https/wss)"
      : "Plain http/ws: anyone on the network path can read the messages";
  }

  if (typeof window.io !== "function") {
    // The server was built without the client bundle (web/node_modules missing): say so plainly.
    setStatus("error", "client library missing (/socket.io/socket.io.js)");
    showSecurity();
    return;
  }

  // ---- cluster: first contact through the balancer, then straight to a node ---------------

  // Where this server answers first contacts (null: not a cluster with a node registry).
  const pickPath = await fetch("/chat-config.json", { cache: "no-store" })
    .then((res) => (res.ok ? res.json() : {}))
    .then((config) => (typeof config.pick === "string" ? config.pick : null))
    .catch(() => null);

  /** The URL of the node to use, leaving `exclude` out; null when there is no node registry. */
  async function pickNode(exclude) {
    if (!pickPath) return null;
    try {
      const query = exclude ? `?exclude=${encodeURIComponent(exclude)}` : "";
      const res = await fetch(`${pickPath}${query}`, { cache: "no-store" });
      if (!res.ok) return null;
      const body = await res.json();
      return typeof body.url === "string" ? body.url : null;
    } catch {
      return null; // the balancer is unreachable too: keep trying the node we have
    }
  }

  setStatus("connecting", "connecting…");
  // ?transports=websocket (or polling) forces a transport, for trying each one by hand or in tests.
  const params = new URLSearchParams(location.search);
  const options = {};
  if (params.get("transports")) options.transports = params.get("transports").split(",");
  nodeUrl = await pickNode(); // null: not a cluster with a registry, use this server
  const socket = nodeUrl ? window.io(nodeUrl, options) : window.io(options);

  function showNode() {
    ui.node.textContent = nodeUrl ? new URL(nodeUrl).host : "this server";
    ui.node.dataset.node = nodeUrl || "";
  }
  showNode();

  // The node went away (connection refused, or it is shutting down): ask for another one. The
  // manager's next reconnection attempt goes there (socket.io.uri is where it connects; the same
  // Socket object keeps its id and offset, so the new node can recover the session if it can).
  let moving = null;
  function moveOn() {
    if (!nodeUrl || moving) return moving;
    moving = pickNode(nodeUrl).then((next) => {
      moving = null;
      if (next && next !== nodeUrl) {
        nodeUrl = next;
        socket.io.uri = next;
        showNode();
      }
    });
    return moving;
  }

  showSecurity();

  // The engine is replaced on every reconnect: follow each one's transport and upgrade.
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    setTransport(engine.transport.name);
    engine.on("upgrade", (transport) => setTransport(transport.name));
  });

  let connectedBefore = false;
  socket.on("connect", () => {
    // With --connection-state-recovery the server gives a reconnecting client its id, rooms and
    // the messages it missed back (socket.recovered); otherwise a reconnect is a new session.
    if (!connectedBefore) setStatus("connected", "connected");
    else if (socket.recovered) setStatus("connected", "reconnected: session recovered, missed messages replayed");
    else setStatus("connected", "reconnected: new session");
    connectedBefore = true;
    setTransport(socket.io.engine.transport.name);
    updateComposer();
    if (nick) sendNick(nick);
    for (const name of rooms.keys()) joinOnServer(name);
  });

  socket.on("disconnect", (reason) => {
    setStatus("disconnected", `disconnected (${reason})`);
    setTransport("");
    for (const r of rooms.values()) r.members = [];
    renderMembers();
    // The client only reconnects by itself after a lost connection; a server that closed the
    // session on purpose (e.g. while shutting down for a restart) is tried again a bit later
    // (in a cluster, another node at once).
    if (reason === "io server disconnect") {
      if (nodeUrl) moveOn().then(() => socket.connected || socket.connect());
      else setTimeout(() => socket.connected || socket.connect(), 2000);
    }
  });

  socket.on("connect_error", (err) => {
    setStatus("error", `cannot connect: ${err.message}`);
    moveOn();
  });

  socket.io.on("reconnect_attempt", (attempt) => {
    setStatus("reconnecting", `reconnecting (attempt ${attempt})…`);
  });

  // ---- nickname ----------------------------------------------------------------------------

  ui.nick.value = nick;

  function sendNick(name) {
    return socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck("nick", name)
      .then((res) => {
        if (res && res.ok) {
          ui.nickStatus.textContent = `You are ${name}.`;
          return true;
        }
        ui.nickStatus.textContent = `Name refused: ${(res && res.error) || "unknown reason"}`;
        return false;
      })
      .catch(() => {
        ui.nickStatus.textContent = "The server did not answer; the name is sent again on reconnect.";
        return false;
      });
  }

  ui.nickForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = ui.nick.value.trim();
    if (name.length < 1 || name.length > 32) {
      ui.nickStatus.textContent = "A name has 1 to 32 characters.";
      return;
    }
    nick = name;
    save(STORAGE_NICK, nick);
    if (socket.connected) sendNick(name);
    else ui.nickStatus.textContent = "Saved; sent when connected.";
  });

  // ---- rooms -------------------------------------------------------------------------------

  function joinOnServer(name) {
    return socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck("join", name)
      .then((res) => {
        if (!res || !res.ok) throw new Error((res && res.error) || "refused");
        requestMembers(name);
        return true;
      })
      .catch((err) => {
        ui.joinStatus.textContent = `Could not join ${name}: ${err.message}`;
        return false;
      });
  }

  function requestMembers(name) {
    socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck("members", name)
      .then((res) => {
        if (res && res.ok && rooms.has(name)) {
          roomState(name).members = Array.isArray(res.members) ? res.members : [];
          if (name === active) renderMembers();
        }
      })
      .catch(() => {}); // presence events will fill the list in anyway
  }

  ui.joinForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = ui.room.value.trim();
    if (!name) {
      ui.joinStatus.textContent = "Type a room name.";
      return;
    }
    ui.joinStatus.textContent = "";
    ui.room.value = "";
    const isNew = !rooms.has(name);
    roomState(name);
    saveRooms();
    activate(name);
    if (isNew) addNote(name, `You joined ${name}.`);
    // Offline, the join happens on "connect" with the other rooms.
    if (socket.connected) joinOnServer(name);
  });

  ui.leave.addEventListener("click", () => {
    if (!active) return;
    const name = active;
    if (socket.connected) socket.timeout(ACK_TIMEOUT_MS).emit("leave", name, () => {});
    rooms.delete(name);
    saveRooms();
    activate(rooms.size ? [...rooms.keys()][rooms.size - 1] : null);
  });

  function activate(name) {
    active = name;
    if (name) roomState(name).unread = 0;
    renderTabs();
    renderMessages();
    renderMembers();
    updateComposer();
    if (name && socket.connected) requestMembers(name);
  }

  function renderTabs() {
    ui.rooms.replaceChildren(
      ...[...rooms.entries()].map(([name, r]) => {
        const tab = document.createElement("button");
        tab.type = "button";
        tab.className = "tab";
        tab.setAttribute("role", "tab");
        tab.dataset.room = name;
        tab.dataset.testid = `room-${name}`;
        tab.setAttribute("aria-selected", String(name === active));
        const label = document.createElement("span");
        label.className = "tab-name";
        label.textContent = name;
        tab.append(label);
        if (r.unread > 0) {
          const badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = r.unread > 99 ? "99+" : String(r.unread);
          badge.setAttribute("aria-label", `${r.unread} unread`);
          tab.append(badge);
        }
        tab.addEventListener("click", () => activate(name));
        return tab;
      }),
    );
    ui.leave.disabled = !active;
    // Bring the active tab into view by scrolling the tab strip only (scrollIntoView would also
    // scroll the page and the chat column).
    const current = active && ui.rooms.querySelector('[aria-selected="true"]');
    if (current) {
      const left = current.offsetLeft - ui.rooms.offsetLeft;
      if (left < ui.rooms.scrollLeft) ui.rooms.scrollLeft = left;
      else if (left + current.offsetWidth > ui.rooms.scrollLeft + ui.rooms.clientWidth)
        ui.rooms.scrollLeft = left + current.offsetWidth - ui.rooms.clientWidth;
    }
  }

  // ---- members -----------------------------------------------------------------------------

  socket.on("presence", (p) => {
    if (!p || typeof p.room !== "string" || !rooms.has(p.room)) return;
    roomState(p.room).members = Array.isArray(p.members) ? p.members : [];
    if (p.room === active) renderMembers();
  });

  function renderMembers() {
    const members = active ? roomState(active).members : [];
    ui.membersRoom.textContent = active || "–";
    ui.membersCount.textContent = String(members.length);
    ui.members.replaceChildren(
      ...members.map((m) => {
        const li = document.createElement("li");
        li.dataset.memberId = String(m.id);
        const me = m.id === socket.id;
        li.textContent = (m.name || `anonymous ${String(m.id).slice(0, 4)}`) + (me ? " (you)" : "");
        if (me) li.className = "me";
        return li;
      }),
    );
  }

  // ---- messages ----------------------------------------------------------------------------

  /** Entry: { kind: "mine"|"theirs"|"note", text, time, state?: "pending"|"sent"|"failed", el? } */
  function pushEntry(name, entry) {
    const r = roomState(name);
    r.messages.push(entry);
    if (r.messages.length > MAX_MESSAGES_PER_ROOM) r.messages.shift();
    if (name === active) {
      ui.messages.append(renderEntry(entry));
      while (ui.messages.childElementCount > r.messages.length) ui.messages.firstElementChild.remove();
      ui.empty.hidden = true;
      scrollToEnd();
    } else if (entry.kind === "theirs") {
      r.unread += 1;
      renderTabs();
    }
  }

  function addNote(name, text) {
    pushEntry(name, { kind: "note", text, time: new Date() });
  }

  // Received texts can be any JSON value or binary (the server relays them as they came).
  function displayText(text) {
    if (typeof text === "string") return text;
    if (text instanceof ArrayBuffer) return `[binary, ${text.byteLength} bytes]`;
    if (ArrayBuffer.isView(text)) return `[binary, ${text.byteLength} bytes]`;
    try {
      return JSON.stringify(text);
    } catch {
      return String(text);
    }
  }

  function renderEntry(entry) {
    const li = document.createElement("li");
    li.className = `msg ${entry.kind}`;
    if (entry.state) li.dataset.state = entry.state;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = entry.text;
    const time = document.createElement("time");
    time.dateTime = entry.time.toISOString();
    time.textContent = entry.time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    li.append(text, time);
    entry.el = li;
    return li;
  }

  function setEntryState(entry, state) {
    entry.state = state;
    if (entry.el) entry.el.dataset.state = state;
  }

  function renderMessages() {
    const list = active ? roomState(active).messages : [];
    ui.messages.replaceChildren(...list.map(renderEntry));
    ui.empty.hidden = Boolean(active);
    scrollToEnd();
  }

  function scrollToEnd() {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  socket.on("chat message", (msg) => {
    if (!msg || typeof msg.room !== "string" || !rooms.has(msg.room)) return;
    const r = roomState(msg.room);
    const text = displayText(msg.text);
    // Our own message comes back from the room: it is already on screen, waiting for this echo.
    const i = r.pending.findIndex((e) => e.text === text);
    if (i >= 0) {
      setEntryState(r.pending[i], "sent");
      r.pending.splice(i, 1);
      return;
    }
    pushEntry(msg.room, { kind: "theirs", text, time: new Date() });
  });

  function updateComposer() {
    const can = Boolean(active);
    ui.message.disabled = !can;
    ui.send.disabled = !can;
    ui.message.placeholder = can ? `Message ${active}` : "Join a room first";
  }

  function dropPending(room, entry) {
    const r = rooms.get(room); // the room may have been left meanwhile
    const i = r ? r.pending.indexOf(entry) : -1;
    if (i >= 0) r.pending.splice(i, 1);
  }

  ui.sendForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = ui.message.value;
    if (!active || !text.trim()) return;
    const room = active;
    const entry = { kind: "mine", text, time: new Date(), state: "pending" };
    roomState(room).pending.push(entry);
    pushEntry(room, entry);
    ui.message.value = "";
    ui.message.focus();
    socket
      .timeout(ACK_TIMEOUT_MS)
      .emitWithAck("chat message", room, text)
      .then((res) => {
        if (!res || !res.ok) throw new Error((res && res.error) || "refused");
        if (entry.state === "pending") setEntryState(entry, "sent");
        // The echo normally comes before the ack, but with the room's members on other server
        // threads it may trail it a little: stop waiting for it after a moment, so that someone
        // else's identical text later is not taken for ours.
        setTimeout(() => dropPending(room, entry), 1000);
      })
      .catch(() => {
        dropPending(room, entry);
        if (entry.state === "pending") setEntryState(entry, "failed");
      });
  });

  // ---- start -------------------------------------------------------------------------------

  // On a phone the member list would push the messages below the fold: start it folded.
  if (window.matchMedia("(max-width: 720px)").matches) $("members-panel").open = false;
  for (const name of load(STORAGE_ROOMS, [])) if (typeof name === "string" && name) roomState(name);
  activate(rooms.size ? [...rooms.keys()][0] : null);
};

// ?parser=msgpack loads the client bundle built with socket.io-msgpack-parser instead, for a server
// started with --parser msgpack (a JSON client cannot talk to it). It replaces window.io.
if (new URLSearchParams(location.search).get("parser") === "msgpack") {
  const script = document.createElement("script");
  script.src = "/socket.io/socket.io.msgpack.min.js";
  script.onload = startChat;
  script.onerror = () => {
    window.io = undefined; // startChat reports the missing library
    startChat();
  };
  document.head.appendChild(script);
} else {
  startChat();
}
