// The chat relay handlers of socketio-server (contract in chat.hpp). Each connection gets its own
// small set of handlers; they find the socket through the Event, so no handler holds its own
// socket (that would be a reference cycle). Shared between shards: a RoomSizes registry (room
// -> local member count, and which presence snapshot is the newest), behind one mutex.
#include "chat.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace socketio::app {

namespace {

namespace json = boost::json;

constexpr std::size_t kMaxNameChars = 32;

// Local member counts per room, so that presence can be skipped for big rooms without asking
// every shard for the member list first (that alone would make N joins cost O(N^2)). Also
// numbers presence snapshots: fetch_sockets answers may arrive out of order, and an older
// member list must not overwrite a newer one on the clients.
class RoomSizes {
 public:
  explicit RoomSizes(std::size_t presence_limit) : limit_(presence_limit) {}

  void joined(const std::string& room) {
    std::lock_guard lock(mutex_);
    ++rooms_[room].members;
  }

  void left(const std::string& room) {
    std::lock_guard lock(mutex_);
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    if (--it->second.members == 0) rooms_.erase(it);  // keeps the map as small as the live rooms
  }

  // A ticket for one presence snapshot of `room`, or nothing when presence is off for it.
  std::optional<std::uint64_t> presence_ticket(const std::string& room) {
    if (limit_ == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    const std::uint64_t ticket = ++next_ticket_;
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return ticket;  // empty here; members elsewhere in a cluster still count
    if (it->second.members > limit_) return std::nullopt;
    it->second.ticket = ticket;
    return ticket;
  }

  // False when a newer snapshot of the room was started after this one: that one will be sent.
  bool is_newest(const std::string& room, std::uint64_t ticket) {
    std::lock_guard lock(mutex_);
    const auto it = rooms_.find(room);
    return it == rooms_.end() || ticket >= it->second.ticket;
  }

 private:
  struct Entry {
    std::size_t members = 0;
    std::uint64_t ticket = 0;
  };
  const std::size_t limit_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> rooms_;
  std::uint64_t next_ticket_ = 0;
};

using RoomSizesPtr = std::shared_ptr<RoomSizes>;

Args ok() {
  return Args().add(json::object{{"ok", true}});
}

void fail(const Event& ev, std::string_view reason) {
  if (ev.has_ack()) ev.ack(Args().add(json::object{{"ok", false}, {"error", reason}}));
}

// The first argument when it is a string (a room), else nullptr.
const json::string* room_arg(const Event& ev) {
  if (ev.args.empty() || !ev.args[0].is_string()) return nullptr;
  return &ev.args[0].get_string();
}

bool has_room(const Socket& s, std::string_view room) {
  const auto& rooms = s.rooms();
  return std::find(rooms.begin(), rooms.end(), room) != rooms.end();
}

// The chat rooms of a socket: every room but the one named after its id.
std::vector<std::string> chat_rooms(const Socket& s) {
  std::vector<std::string> out;
  for (const std::string& r : s.rooms()) {
    if (r != s.id()) out.push_back(r);
  }
  return out;
}

// Copies a received value into `out`, re-attaching the binary it refers to, so that a text
// holding binary (at the top or nested) reaches the room exactly as it came.
json::value relay(const Args& in, const json::value& v, Args& out) {
  if (in.attachments().empty()) return v;  // the common case: plain JSON, nothing to remap
  if (const Bytes* bytes = in.binary(v)) return out.attach(*bytes);
  if (v.is_array()) {
    json::array a;
    a.reserve(v.get_array().size());
    for (const json::value& item : v.get_array()) a.push_back(relay(in, item, out));
    return a;
  }
  if (v.is_object()) {
    json::object o;
    o.reserve(v.get_object().size());
    for (const auto& entry : v.get_object()) o.emplace(entry.key(), relay(in, entry.value(), out));
    return o;
  }
  return v;
}

json::array members_json(std::vector<SocketInfo>& sockets) {
  // Sorted, so that every client shows the same list whichever shard answered first.
  std::sort(sockets.begin(), sockets.end(),
            [](const SocketInfo& a, const SocketInfo& b) { return a.id < b.id; });
  json::array members;
  members.reserve(sockets.size());
  for (const SocketInfo& info : sockets) {
    json::value name = nullptr;
    if (const json::object* data = info.data.if_object()) {
      if (const json::value* n = data->if_contains("name"); n && n->is_string()) name = *n;
    }
    members.push_back(json::object{{"id", info.id}, {"name", std::move(name)}});
  }
  return members;
}

void publish_presence(Namespace& nsp, const RoomSizesPtr& sizes, const std::string& room) {
  const auto ticket = sizes->presence_ticket(room);
  if (!ticket) return;
  // Member lists need ids and names only: handshakes (cookies included) and room lists never
  // travel to other nodes for them.
  nsp.in(room)
      .detail(SocketDetail::id_and_data)
      .fetch_sockets([&nsp, sizes, room, t = *ticket](std::vector<SocketInfo> sockets) {
        if (!sizes->is_newest(room, t)) return;
        nsp.to(room).emit("presence",
                          Args().add(json::object{{"room", room}, {"members", members_json(sockets)}}));
      });
}

// Characters (code points) of valid UTF-8, or nothing when a control character is in it: a name
// is shown to other users, and control characters in it would only serve to garble that.
std::optional<std::size_t> name_length(std::string_view s) {
  std::size_t chars = 0;
  for (const unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return std::nullopt;
    if ((c & 0xc0) != 0x80) ++chars;  // not a continuation byte
  }
  return chars;
}

// The chat rooms of sockets between their disconnecting and their disconnect (both run in one
// call on the socket's shard, so a map per thread; nested disconnections each have their entry).
std::unordered_map<const Socket*, std::vector<std::string>>& leaving_rooms() {
  thread_local std::unordered_map<const Socket*, std::vector<std::string>> rooms;
  return rooms;
}

// The chat's events, registered once for every socket of the namespace (on_socket_event), not per
// socket: per-socket handlers would cost every connection memory for its whole life.
void install_events(Namespace& nsp, const RoomSizesPtr& sizes) {
  nsp.on_socket_event("join", [&nsp, sizes](Event& ev) {
    const json::string* room = room_arg(ev);
    if (!room) return fail(ev, "room must be a string");
    if (!ev.has_ack()) return;
    const std::string r(*room);
    Socket& s = *ev.socket;
    const bool changed = !has_room(s, r);
    if (!s.join(r)) return fail(ev, "too many rooms: leave one first");
    ev.ack(ok());
    if (changed) {
      sizes->joined(r);
      publish_presence(nsp, sizes, r);
    }
  });

  nsp.on_socket_event("leave", [&nsp, sizes](Event& ev) {
    const json::string* room = room_arg(ev);
    if (!room) return fail(ev, "room must be a string");
    if (!ev.has_ack()) return;
    const std::string r(*room);
    Socket& s = *ev.socket;
    const bool changed = r != s.id() && has_room(s, r);
    s.leave(r);
    ev.ack(ok());
    if (changed) {
      sizes->left(r);
      publish_presence(nsp, sizes, r);
    }
  });

  nsp.on_socket_event("chat message", [&nsp](Event& ev) {
    const json::string* room = room_arg(ev);
    if (!room) return fail(ev, "room must be a string");
    if (ev.args.size() < 2) return fail(ev, "text is required");
    Args out;
    json::object message;
    message.emplace("room", *room);
    message.emplace("text", relay(ev.args, ev.args[1], out));
    out.add(std::move(message));
    // The namespace's operator, not the socket's: the sender gets its own message when it is in
    // the room, which is what a chat page shows.
    nsp.to(std::string(*room)).emit("chat message", std::move(out));
    if (ev.has_ack()) ev.ack(ok());
  });

  nsp.on_socket_event("echo", [](Event& ev) {
    if (ev.has_ack()) ev.ack(ev.args);
  });

  nsp.on_socket_event("whoami", [](Event& ev) {
    if (!ev.has_ack()) return;
    const Handshake& h = ev.socket->handshake();
    ev.ack(Args().add(
        json::object{{"ok", true}, {"id", ev.socket->id()}, {"address", h.address}, {"secure", h.secure}}));
  });

  nsp.on_socket_event("nick", [&nsp, sizes](Event& ev) {
    const std::string_view name = ev.args.string_at(0);
    const auto chars = ev.args.empty() || !ev.args[0].is_string() ? std::nullopt : name_length(name);
    if (!chars || *chars == 0 || *chars > kMaxNameChars) {
      return fail(ev, "name must be a string of 1 to 32 characters, without control characters");
    }
    if (!ev.has_ack()) return;
    Socket& s = *ev.socket;
    json::value& data = s.data();
    if (!data.is_object()) data = json::object();
    json::value& stored = data.as_object()["name"];
    const bool changed = !stored.is_string() || stored.get_string() != name;
    stored = json::string(name);
    ev.ack(ok());
    if (changed) {
      for (const std::string& r : chat_rooms(s)) publish_presence(nsp, sizes, r);
    }
  });

  nsp.on_socket_event("members", [&nsp](Event& ev) {
    const json::string* room = room_arg(ev);
    if (!room) return fail(ev, "room must be a string");
    if (!ev.has_ack()) return;
    // A room's member list is for its members: anyone else could enumerate every room.
    if (!has_room(*ev.socket, *room)) return fail(ev, "not in this room");
    // Only what ack() needs: the arguments may be large.
    Event reply{ev.name, {}, ev.socket, ev.ack_id};
    std::string r(*room);
    nsp.in(r)
        .detail(SocketDetail::id_and_data)
        .fetch_sockets([reply = std::move(reply), r](std::vector<SocketInfo> sockets) {
          reply.ack(Args().add(json::object{{"ok", true}, {"room", r}, {"members", members_json(sockets)}}));
        });
  });
}

// Presence on leaving, held once by the namespace (not per socket: that would cost every
// connection memory for its whole life). The rooms are read while disconnecting (the socket
// still has them); presence goes out on disconnect, once the socket is gone from the member lists.
void install_leaving(Namespace& nsp, const RoomSizesPtr& sizes) {
  nsp.on_socket_disconnecting([](Socket& s, const std::string&) {
    auto rooms = chat_rooms(s);
    if (!rooms.empty()) leaving_rooms()[&s] = std::move(rooms);
  });
  nsp.on_socket_disconnect([&nsp, sizes](Socket& s, const std::string&) {
    auto& all = leaving_rooms();
    const auto it = all.find(&s);
    if (it == all.end()) return;
    const std::vector<std::string> rooms = std::move(it->second);
    all.erase(it);
    for (const std::string& r : rooms) {
      sizes->left(r);
      publish_presence(nsp, sizes, r);
    }
  });
}

}  // namespace

void install_chat(Namespace& nsp, ChatOptions options) {
  auto sizes = std::make_shared<RoomSizes>(options.presence_limit);
  install_events(nsp, sizes);
  install_leaving(nsp, sizes);
}

}  // namespace socketio::app
