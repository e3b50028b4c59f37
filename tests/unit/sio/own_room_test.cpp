// A socket's own room (the room named after its id) takes no room entry in the in-process adapter
// nor in the socket's room list, yet reads as before: broadcasts to / except the id reach / skip
// the socket, socket.rooms() lists the id first, room listings count it, and a socket that left
// its own room (socketsLeave) is out of it until it joins it again, as any room.
// Two raw polling clients against a real server (one shard).
#include "sio/internal.hpp"
#include "socketio/server.hpp"

#include "loopback_http.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace socketio;

// One HTTP exchange on 127.0.0.1:port; returns the response body.
std::string http(std::uint16_t port, const std::string& method, const std::string& path,
                 const std::string& body = {}) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  if (method == "POST")
    req +=
        "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  const auto out = socketio::test::loopback_exchange(port, req);
  const auto end = out.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : out.substr(end + 4);
}

// An Engine.IO session CONNECTed to "/": its Engine.IO sid.
std::string connect_client(std::uint16_t port) {
  const auto open = http(port, "GET", "/socket.io/?EIO=4&transport=polling");
  const auto at = open.find("\"sid\":\"");
  if (at == std::string::npos) return {};
  const auto sid = open.substr(at + 7, open.find('"', at + 7) - at - 7);
  http(port, "POST", "/socket.io/?EIO=4&transport=polling&sid=" + sid, "40");
  return sid;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The sockets an operator targets (ids, sorted), and their rooms by id.
struct Found {
  std::vector<std::string> ids;
  std::map<std::string, std::vector<std::string>> rooms;
};
Found fetch(const BroadcastOperator& op) {
  std::promise<Found> p;
  op.detail(SocketDetail::full).fetch_sockets([&p](std::vector<SocketInfo> sockets) {
    Found f;
    for (auto& s : sockets) {
      f.ids.push_back(s.id);
      f.rooms[s.id] = s.rooms;
    }
    std::sort(f.ids.begin(), f.ids.end());
    p.set_value(std::move(f));
  });
  return p.get_future().get();
}

std::map<std::string, std::size_t> room_sizes(Namespace& nsp) {
  std::promise<std::map<std::string, std::size_t>> p;
  nsp.rooms([&p](std::map<std::string, std::size_t> m) { p.set_value(std::move(m)); });
  return p.get_future().get();
}

std::vector<std::string> all_rooms(sio::InMemoryAdapter& local) {
  std::promise<std::vector<std::string>> p;
  local.all_rooms([&p](std::vector<std::string> v) { p.set_value(sorted(std::move(v))); });
  return p.get_future().get();
}

TEST(OwnRoom, ImplicitYetReadAsBefore) {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 1;
  Server io(o);
  Namespace& nsp = io.of("/");
  auto& local = static_cast<sio::NamespaceImpl&>(nsp).local();

  std::mutex m;
  std::vector<std::string> ids, first_rooms, disconnecting_rooms;
  std::promise<void> both;
  nsp.on_connection([&](const SocketPtr& s) {
    std::lock_guard lock(m);
    first_rooms = s->rooms();  // before joining anything: its id alone
    s->join("r");
    s->join(s->id());  // already in it: nothing changes
    ids.push_back(s->id());
    if (ids.size() == 2) both.set_value();
  });
  nsp.on_socket_disconnecting([&](Socket& s, const std::string&) {
    std::lock_guard lock(m);
    disconnecting_rooms = s.rooms();
  });

  const auto port = io.listen();
  std::thread runner([&] { io.run(); });
  const auto sid_a = connect_client(port);
  const auto sid_b = connect_client(port);
  ASSERT_FALSE(sid_a.empty());
  ASSERT_FALSE(sid_b.empty());
  ASSERT_EQ(both.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const std::string a = ids[0], b = ids[1];
  EXPECT_EQ(first_rooms, std::vector<std::string>{b});

  // Listed in the socket's rooms, its id first.
  auto f = fetch(nsp.to(a));
  ASSERT_EQ(f.ids, std::vector<std::string>{a});
  EXPECT_EQ(f.rooms[a], (std::vector<std::string>{a, "r"}));
  // Found for broadcasts, each socket once over several rooms, and left out by except.
  EXPECT_EQ(fetch(nsp.to(a).to(b)).ids, sorted({a, b}));
  EXPECT_EQ(fetch(nsp.to(a).to("r")).ids, sorted({a, b}));
  EXPECT_EQ(fetch(nsp.to("r").to(a).to(b)).ids, sorted({a, b}));
  EXPECT_EQ(fetch(nsp.except(a)).ids, std::vector<std::string>{b});
  EXPECT_EQ(fetch(nsp.to("r").except(a)).ids, std::vector<std::string>{b});
  EXPECT_EQ(fetch(nsp.to(a).except(a)).ids, std::vector<std::string>{});
  EXPECT_EQ(fetch(nsp.to(a).to(b).except("r")).ids, std::vector<std::string>{});
  // The packets themselves.
  nsp.to(a).emit("to-a");
  nsp.except(a).emit("except-a");
  const auto polled_a = http(port, "GET", "/socket.io/?EIO=4&transport=polling&sid=" + sid_a);
  const auto polled_b = http(port, "GET", "/socket.io/?EIO=4&transport=polling&sid=" + sid_b);
  EXPECT_NE(polled_a.find("42[\"to-a\"]"), std::string::npos) << polled_a;
  EXPECT_EQ(polled_a.find("except-a"), std::string::npos) << polled_a;
  EXPECT_NE(polled_b.find("42[\"except-a\"]"), std::string::npos) << polled_b;
  EXPECT_EQ(polled_b.find("to-a"), std::string::npos) << polled_b;

  // Room listings count it; the adapter holds an entry for "r" alone.
  EXPECT_EQ(room_sizes(nsp), (std::map<std::string, std::size_t>{{a, 1}, {b, 1}, {"r", 2}}));
  EXPECT_EQ(all_rooms(local), sorted({a, b, "r"}));
  EXPECT_EQ(local.room_entries(0), 1u);

  // socketsLeave of its own room: out of it (as before); joined again, it comes after the other
  // rooms and takes an entry, as any room.
  nsp.in(a).sockets_leave({a});
  EXPECT_EQ(fetch(nsp.to(a)).ids, std::vector<std::string>{});
  f = fetch(nsp.to("r"));
  EXPECT_EQ(f.rooms[a], std::vector<std::string>{"r"});
  EXPECT_EQ(room_sizes(nsp), (std::map<std::string, std::size_t>{{b, 1}, {"r", 2}}));
  nsp.in("r").except(b).sockets_join({a});
  f = fetch(nsp.to(a));
  ASSERT_EQ(f.ids, std::vector<std::string>{a});
  EXPECT_EQ(f.rooms[a], (std::vector<std::string>{"r", a}));
  EXPECT_EQ(fetch(nsp.except(a)).ids, std::vector<std::string>{b});
  EXPECT_EQ(room_sizes(nsp), (std::map<std::string, std::size_t>{{a, 1}, {b, 1}, {"r", 2}}));
  EXPECT_EQ(local.room_entries(0), 2u);

  // Another socket in a room named after b's id: both are in it, each once.
  nsp.in(a).sockets_join({b});
  EXPECT_EQ(fetch(nsp.to(b)).ids, sorted({a, b}));
  EXPECT_EQ(fetch(nsp.to(b).to("r")).ids, sorted({a, b}));
  EXPECT_EQ(room_sizes(nsp), (std::map<std::string, std::size_t>{{a, 1}, {b, 2}, {"r", 2}}));
  nsp.in(a).sockets_leave({b});
  EXPECT_EQ(fetch(nsp.to(b)).ids, std::vector<std::string>{b});

  // Disconnecting, it still has its own room; then nothing is left of it.
  nsp.in(b).disconnect_sockets(false);
  EXPECT_EQ(fetch(nsp.to(b)).ids, std::vector<std::string>{});
  {
    std::lock_guard lock(m);
    EXPECT_EQ(disconnecting_rooms, (std::vector<std::string>{b, "r"}));
  }
  EXPECT_EQ(room_sizes(nsp), (std::map<std::string, std::size_t>{{a, 1}, {"r", 1}}));
  EXPECT_EQ(local.room_entries(0), 2u);  // "r" and a's own, joined explicitly

  io.stop(std::chrono::milliseconds(0));
  runner.join();
}

}  // namespace
